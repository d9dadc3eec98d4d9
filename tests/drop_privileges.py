"""Make a root process read files as everyone else does, for the unreadable-file tests.

A test child stays root (so the checkout, the venv and the temporary files root owns stay readable
wherever they live, even inside a folder only its owner may enter, as ``mktemp -d`` makes) but gives up
CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: from then on file modes apply to it as to anyone, so a
mode-000 file is unreadable.  (Switching to another user instead fails in such a folder: that user
cannot import the project.)
"""
import ctypes


def drop_read_override():
    """Stay root (so the checkout, the venv and the temp files this user owns stay readable wherever
    they live) but give up CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH: from here on file modes apply
    to this process as to anyone, so a mode-000 file is unreadable to it."""
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = Header(0x20080522, 0), (Data * 2)()      # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    keep = ~((1 << 1) | (1 << 2)) & 0xFFFFFFFF                # CAP_DAC_OVERRIDE = 1, CAP_DAC_READ_SEARCH = 2
    for field in ("effective", "permitted", "inheritable"):
        setattr(data[0], field, getattr(data[0], field) & keep)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")

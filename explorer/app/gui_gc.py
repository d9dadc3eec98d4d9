"""Python's cyclic garbage collector runs on the GUI thread only.

With a second thread calling into torch (the model executor), an automatic collection can start on
that thread, in the middle of any allocation.  If the cycle it frees holds a Qt object, the object's
destructor takes Qt's connection lock while holding the GIL; if the GUI thread holds that lock and is
waiting for the GIL (a signal disconnect that calls back into Python), both wait for ever.  The fuzz
test hung exactly so: the executor in ``gc_collect_main`` → ``QObject::disconnect``, the GUI thread in
``QMetaObject::disconnect`` → ``GilState::acquire``.

pyqtgraph's ``GarbageCollector`` is the known cure (it is what its own examples use): automatic
collection off, and a GUI-thread timer that collects each generation when its count passes the usual
threshold, so memory behaves as before but no collection ever runs on another thread.
"""
from __future__ import annotations

#: how often the GUI thread checks the collector's counts
INTERVAL_S = 0.25
_collector = None


def collect_on_gui_thread() -> None:
    """Install the GUI-thread collector once per process (call on the GUI thread, with a QApplication)."""
    global _collector
    if _collector is None:
        from pyqtgraph.util.garbage_collector import GarbageCollector

        _collector = GarbageCollector(interval=INTERVAL_S)

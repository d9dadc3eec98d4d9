"""Bookmarks: named points that travel, and restoring the state an exported PNG or GIF carries.

:func:`restore` applies a state record (:mod:`explorer.app.state_stamp`) to a window:

* the open model's file has the record's SHA-256 (or, for a record without a hash, the same name and
  latent size): go to its z, draw its class (a conditional model; through the class selector), and
  set the interpolation endpoints if it has them;
* else the record's model file still exists with that hash: open it, then restore;
* else, when the latent sizes match, restore into the open model and say that the model differs;
* else say in one line which model the state needs.

A record naming a class the model does not have is refused in one line naming the file, before
anything changes; a record without a class (an older export) leaves the class as it is.

:class:`BookmarkDock` keeps a named list (add, rename, delete, go), saved in the app's settings as
JSON records, so a bookmark made today opens tomorrow and can be shared as the PNG it exports.
"""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QDockWidget, QHBoxLayout, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from .elided_label import ElidedLabel
from .state_stamp import StampError, check_record, file_sha256, recorded_class, state_record

SETTINGS_KEY = "bookmarks/list"


def restore(window, rec: dict, source: str) -> str:
    """Apply ``rec`` to ``window``; returns what happened: "restored", "opening", "other-model" or
    "refused" (after telling the user)."""
    model = rec.get("model") or {}
    want_sha, want_dim = model.get("sha256"), int(model.get("latent_dim") or len(rec["z"]))
    loaded = window.state.loaded
    if loaded is not None and _same_model(loaded, model, want_sha):
        if not _apply(window, rec, source):
            return "refused"
        window._say(f"Restored the state of {source}")
        return "restored"
    file = model.get("file")
    if file and Path(file).exists() and want_sha and file_sha256(file) == want_sha:
        def opened(ok: bool, _msg: str) -> None:
            window.model_load_finished.disconnect(opened)
            if ok and _apply(window, rec, source):
                window._say(f"Opened {Path(file).name} and restored the state of {source}")
        window.model_load_finished.connect(opened)
        window.open_model(file)
        return "opening"
    if loaded is not None and loaded.latent_dim == want_dim:
        if not _apply(window, rec, source):
            return "refused"
        window._say(f"{source} was made with {model.get('name', 'another model')} (another file); "
                    f"its point is shown in {loaded.name}")
        return "other-model"
    where = f" ({file})" if file else ""
    window.show_error("Cannot restore this state",
                      f"{source}: made with {model.get('name', 'another model')}{where}, a {want_dim}-d latent; "
                      f"open that checkpoint first, then drop the file again.")
    return "refused"


def current_record(window, with_endpoints: bool = True) -> dict | None:
    """The window's state as an export stamps it (the current point, its class, the interpolation
    endpoints)."""
    if window.state.loaded is None:
        return None
    ends = window.interpolation_dock.panel.endpoints_record() if with_endpoints else None
    return state_record(window.state, ends)


def _same_model(loaded, model: dict, want_sha: str | None) -> bool:
    if want_sha:
        return file_sha256(loaded.path) == want_sha
    return model.get("name") == loaded.name and int(model.get("latent_dim", -1)) == loaded.latent_dim


def _apply(window, rec: dict, source: str) -> bool:
    """Go to ``rec``'s point, class and endpoints; False (after telling the user) if it cannot be."""
    import numpy as np

    loaded = window.state.loaded
    z = np.asarray(rec["z"], dtype=np.float32)
    if z.size != loaded.latent_dim:
        return False
    try:
        set_class, index = recorded_class(rec, loaded.model, source)
    except StampError as exc:
        window.show_error("Cannot restore this state", str(exc))
        return False
    window.history.expect(f"Restore {source}")
    window.state.set_z(z)
    if set_class and index != window.state.class_index:
        window.sampling_panel.class_selector.choose(index)    # on the model executor; every selector follows
    interp = rec.get("interpolation")
    if interp:
        window.interpolation_dock.panel.restore_endpoints(interp["a"], interp["b"], interp.get("method", "slerp"),
                                                          int(interp.get("steps", 16)), interp.get("class_from"),
                                                          interp.get("class_to"))
    return True


class BookmarkDock(QDockWidget):
    """A named list of points: Add (the current point), Rename, Delete, Go (or double-click)."""

    #: the user asked to go to a bookmark: (record, name)
    goRequested = Signal(object, str)

    def __init__(self, state, settings, parent: QWidget | None = None) -> None:
        super().__init__("Bookmarks", parent)
        self.setObjectName("bookmarks-dock")
        self.state, self.settings = state, settings
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        self.list = QListWidget()
        self.list.setToolTip("Double-click to go there; F2 or Rename to rename")
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)       # long names end in "…", never scroll
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemDoubleClicked.connect(lambda _it: self.go())
        self.list.itemChanged.connect(lambda _it: self._save())
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Bookmark the current point (Ctrl+D)")
        self.go_button, self.rename_button, self.delete_button = (QPushButton("Go"), QPushButton("Rename"),
                                                                  QPushButton("Delete"))
        self.add_button.clicked.connect(lambda: self.add())
        self.go_button.clicked.connect(self.go)
        self.rename_button.clicked.connect(self.rename)
        self.delete_button.clicked.connect(self.delete)
        for b in (self.add_button, self.go_button, self.rename_button, self.delete_button):
            row.addWidget(b)
        lay.addLayout(row)
        self.status = ElidedLabel("")
        self.status.setStyleSheet("color: #888;")
        lay.addWidget(self.status)
        self.setWidget(body)
        self._load()
        self.list.currentRowChanged.connect(lambda _r: self._update_buttons())
        self._update_buttons()

    # ------------------------------------------------------------------ list
    def names(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def add(self, name: str | None = None) -> QListWidgetItem | None:
        loaded = self.state.loaded
        if loaded is None:
            self.status.setText("Open a model first")
            return None
        rec = state_record(self.state)
        name = name or f"{loaded.name} #{self.list.count() + 1}"
        item = self._item(name, rec)
        self.list.setCurrentItem(item)
        self._save()
        self.status.setText(f"Added {name}")
        return item

    def rename(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.list.editItem(item)

    def delete(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            name = self.list.takeItem(row).text()
            self._save()
            self.status.setText(f"Deleted {name}")

    def go(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.goRequested.emit(item.data(Qt.ItemDataRole.UserRole), item.text())

    def _item(self, name: str, rec: dict) -> QListWidgetItem:
        item = QListWidgetItem(name)
        item.setData(Qt.ItemDataRole.UserRole, rec)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
        m, cls = rec.get("model") or {}, rec.get("class")
        drawn = f" · {cls.get('name') or cls['index']}" if cls else ""
        item.setToolTip(f"{name}\n{m.get('name', '?')} · {len(rec['z'])}-d latent{drawn}")
        self.list.blockSignals(True)
        self.list.addItem(item)
        self.list.blockSignals(False)
        return item

    def _update_buttons(self) -> None:
        on = self.list.currentItem() is not None
        for b in (self.go_button, self.rename_button, self.delete_button):
            b.setEnabled(on)

    # ------------------------------------------------------------------ settings
    def _save(self) -> None:
        doc = [{"name": self.list.item(i).text(), "state": self.list.item(i).data(Qt.ItemDataRole.UserRole)}
               for i in range(self.list.count())]
        self.settings.setValue(SETTINGS_KEY, json.dumps(doc))
        self._update_buttons()

    def _load(self) -> None:
        raw = self.settings.value(SETTINGS_KEY, "")
        try:
            doc = json.loads(raw) if isinstance(raw, str) and raw else []
        except json.JSONDecodeError:
            doc = []
        for entry in doc if isinstance(doc, list) else []:
            try:
                self._item(str(entry["name"]), check_record(entry["state"], str(entry["name"])))
            except (KeyError, TypeError, StampError):
                continue        # a damaged entry is dropped, the rest stay

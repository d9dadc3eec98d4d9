"""Undo/redo of latent changes: every change is a step, a slider drag is one step, a new model clears."""
from __future__ import annotations

import numpy as np
import pytest

from panel_helpers import tiny_vae  # noqa: I001

from explorer.app import latent_history
from explorer.app.latent_history import LatentHistory
from explorer.app.state import ExplorerState, LoadedModel


@pytest.fixture
def state(qtbot):
    s = ExplorerState()
    s.set_model(LoadedModel.build(tiny_vae()))
    return s


def test_each_change_is_one_step_and_undo_redo_walk_them(state):
    h = LatentHistory(state)
    v0 = state.values
    state.randomize(seed=1)
    v1 = state.values
    state.reset()
    assert h.stack.count() == 2 and h.stack.undoText() == "Reset sliders"
    h.stack.undo()
    assert np.array_equal(state.values, v1)
    h.stack.undo()
    assert np.array_equal(state.values, v0)
    assert not h.stack.canUndo()
    h.stack.redo()
    h.stack.redo()
    assert not np.any(state.values)
    assert h.stack.count() == 2           # undo/redo themselves are not recorded


def test_a_drag_merges_and_release_or_another_slider_starts_a_new_step(state):
    h = LatentHistory(state)
    for v in np.linspace(0.1, 2.0, 40):
        state.set_value(0, v)
    assert h.stack.count() == 1 and h.stack.undoText() == f"Move slider '{h.names[0]}'"
    h.seal()                                 # released
    state.set_value(0, 1.0)
    state.set_value(3, -1.0)
    assert h.stack.count() == 3
    h.stack.undo()
    h.stack.undo()
    assert state.values[0] == pytest.approx(2.0) and state.values[3] == 0
    h.stack.undo()
    assert not np.any(state.values)


def test_pauses_longer_than_the_merge_window_split_steps(state, monkeypatch):
    h = LatentHistory(state)
    clock = [100.0]
    monkeypatch.setattr(latent_history.time, "monotonic", lambda: clock[0])
    state.set_value(1, 0.5)
    clock[0] += latent_history.MERGE_WINDOW_S + 0.1
    state.set_value(1, 0.7)
    assert h.stack.count() == 2


def test_a_new_model_clears_the_history(state):
    h = LatentHistory(state)
    state.set_value(0, 1.0)
    assert h.stack.canUndo()
    state.set_model(LoadedModel.build(tiny_vae()))
    assert not h.stack.canUndo() and h.stack.count() == 0


def test_steps_read_as_what_the_user_did_and_undo_redo_say_it(state, qtbot):
    h = LatentHistory(state)
    said = []
    h.message.connect(said.append)
    state.set_value(2, 1.0)
    h.expect("Jump to scored image")
    state.set_z(np.ones(state.loaded.latent_dim, np.float32))
    state.randomize(seed=4)
    assert [h.stack.text(i) for i in range(3)] == [f"Move slider '{h.names[2]}'", "Jump to scored image",
                                                  "Jump to another point"]
    h.stack.undo()
    h.stack.undo()
    h.stack.redo()
    assert said == ["Undid Jump to another point", "Undid Jump to scored image", "Redid Jump to scored image"]


def test_an_announced_name_is_forgotten_if_no_change_follows(state, qtbot):
    h = LatentHistory(state)
    h.expect("Jump to scored image")
    qtbot.wait(10)
    state.set_value(0, 0.5)
    assert h.stack.undoText() == f"Move slider '{h.names[0]}'"

"""The grid benchmark's scoring (benchmarks/pixel/run_grid.py): the figures in BENCHMARKS.md are
only as honest as this function."""

import numpy as np
from benchmarks.pixel.run_grid import score
from tests.pixel.conftest import enlarge, make_sprite


def _native() -> np.ndarray:
    return make_sprite(30, 30, seed=4, n_colors=8, transparent=False)


def test_the_native_image_scores_full_marks():
    native = _native()
    assert score(native, native) == {"exact": 1.0, "within1": 1.0, "cell": 1.0, "detail": 1.0, "palette": 1.0}


def test_one_column_too_many_is_scored_cell_by_cell():
    native = _native()
    out = np.concatenate([native, native[:, -1:]], axis=1)
    s = score(out, native)
    assert s["exact"] == 0.0 and s["within1"] == 1.0
    assert 0.5 < s["cell"] < 1.0


def test_the_input_returned_unchanged_recovers_no_cell():
    # Sampling a 6x upscale at the native cells' centres reads every cell's colour exactly: the
    # unchanged input once scored cell accuracy 1.0.
    native = _native()
    s = score(enlarge(native, 6), native)
    assert s["cell"] == 0.0 and s["detail"] == 0.0
    assert s["palette"] == 1.0  # no invented colours: still true of the input


def test_half_the_pitch_recovers_no_cell():
    native = _native()
    assert score(enlarge(native, 2), native)["cell"] == 0.0

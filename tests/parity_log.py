"""`check`: assert one parity comparison and log how close it came.

Every parity test compares through `check`, which asserts with tests/tolerances.py and notes,
per (area, dtype), the largest relative error over entries big enough for the relative test
to govern (|expected| >= atol / rtol) and the largest share of the tolerance used anywhere,
max |a - b| / (atol + rtol |b|) (a pass is <= 1). conftest.py prints the table at the end of
the run, so every CI log says how tight parity really was.
"""
import numpy as np

from tolerances import assert_close, relative_error, tolerance

WORST = {}


def check(actual, expected, dtype, what, area):
    if isinstance(actual, (np.ndarray, np.generic)):  # (a Python float has no dtype to check)
        assert actual.dtype == np.dtype(dtype), f"{what}: dtype {actual.dtype}, expected {dtype}"
    assert_close(actual, expected, dtype, what)
    rtol, atol = tolerance(dtype)
    a, b = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    big = np.abs(b) >= atol / rtol
    rel = relative_error(a[big], b[big]) if big.any() else 0.0
    used = float(np.max(np.abs(a - b) / (atol + rtol * np.abs(b)))) if a.size else 0.0
    old = WORST.get((area, dtype), (0.0, 0.0))
    WORST[(area, dtype)] = (max(old[0], rel), max(old[1], used))


def report_lines():
    return [f"{area:<32} {dtype}: max rel err {rel:.2e}, tolerance used {used:.2f}"
            for (area, dtype), (rel, used) in sorted(WORST.items())]

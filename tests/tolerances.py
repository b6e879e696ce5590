"""The ONE place parity tolerances live.

float64 computations must agree with TensorFlow to about 1e-9 relative; float32 to about 1e-4.
`assert_close` compares with numpy's rule |a - b| <= atol + rtol * |b|, where the absolute
floor is tiny and only there so that values which are exactly zero on one side (a ReLU that
is off, a gradient that vanishes) do not make the relative test meaningless.
"""
import numpy as np

RTOL = {"float64": 1e-9, "float32": 1e-4}
ATOL = {"float64": 1e-12, "float32": 1e-6}


def tolerance(dtype):
    name = np.dtype(dtype).name
    return RTOL[name], ATOL[name]


def assert_close(actual, expected, dtype, what=""):
    """Assert scratchnet's `actual` equals TensorFlow's `expected` within dtype's tolerance."""
    rtol, atol = tolerance(dtype)
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def relative_error(actual, expected):
    """max |a - b| / max(|b|, tiny): the number we quote in closing notes."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.size == 0:
        return 0.0
    scale = np.maximum(np.abs(expected), 1e-30)
    return float(np.max(np.abs(actual - expected) / scale))

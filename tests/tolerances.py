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


def assert_close_normwise(actual, expected, dtype, what=""):
    """Like assert_close, relative to the array's largest entry: |a - b| <= rtol * max|b|
    (+ atol). For weights after several optimizer steps only: an entry whose exact gradient
    is zero (a unit no sample activates) gets rounding noise of ~1e-16 as its gradient, which
    Adam divides by sqrt(v) + eps and turns into steps of ~lr * 1e-9 -- values of ~1e-11
    that differ in their first digit between any two implementations. Entry by entry they
    are noise; against the array's scale they agree to the usual rtol. Likewise two orders
    of the same float32 sums over random data: an entry that cancels to a thousandth of
    its terms carries their rounding in its fourth digit."""
    rtol, atol = tolerance(dtype)
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=0, atol=atol + rtol * scale,
                               err_msg=what)


def relative_error(actual, expected):
    """max |a - b| / max(|b|, tiny): the number we quote in closing notes."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if actual.size == 0:
        return 0.0
    scale = np.maximum(np.abs(expected), 1e-30)
    return float(np.max(np.abs(actual - expected) / scale))

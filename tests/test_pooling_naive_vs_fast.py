"""pool_naive (loops, the math spelled out) == pool_fast (Numba), bit for bit.

Both do the same arithmetic in the same order, so forward values, max-pool argmax indices and
gradients must be IDENTICAL, not merely close, in float32 and float64: shapes, pool sizes,
strides (overlapping included) and both paddings drawn by Hypothesis, with tie-heavy values
and the special values (NaN, +-inf, -0.0) that decide where a max-pool gradient goes.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchnet.kernels import pool_fast, pool_naive
from scratchnet.layers.padding import output_length, paddings

DTYPES = ("float32", "float64")


def make_values(rng, shape, kind, dtype):
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "grid":
        x = rng.integers(-2, 3, shape) * 0.5
    elif kind == "relu":
        x = np.maximum(rng.standard_normal(shape), 0.0)
    else:   # "special": NaN, infinities, signed zeros among ordinary values
        x = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0], shape)
    return x.astype(dtype)


@st.composite
def window_cases(draw):
    padding = draw(st.sampled_from(("valid", "same")))
    n, h, w, c = (draw(st.integers(1, 3)), draw(st.integers(1, 12)), draw(st.integers(1, 12)),
                  draw(st.integers(1, 5)))
    kh = draw(st.integers(1, min(4, h) if padding == "valid" else 4))
    kw = draw(st.integers(1, min(4, w) if padding == "valid" else 4))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    kind = draw(st.sampled_from(("normal", "grid", "relu", "special")))
    return (n, h, w, c), (kh, kw), strides, padding, kind, draw(st.integers(0, 2**32 - 1))


def window_args(shape, pool_size, strides, padding):
    (top, _), (left, _) = paddings(shape[1:3], pool_size, strides, padding)
    out_hw = tuple(output_length(n, k, s, padding)
                   for n, k, s in zip(shape[1:3], pool_size, strides))
    return (top, left), out_hw


def assert_identical(a, b, what):
    assert a.dtype == b.dtype and a.shape == b.shape, what
    np.testing.assert_array_equal(a, b, err_msg=what)              # NaN == NaN here
    np.testing.assert_array_equal(np.signbit(a), np.signbit(b), err_msg=f"{what} (signs)")


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=window_cases())
def test_max_pool_naive_equals_fast(dtype, case):
    shape, pool_size, strides, padding, kind, seed = case
    rng = np.random.default_rng(seed)
    x = make_values(rng, shape, kind, dtype)
    pads, out_hw = window_args(shape, pool_size, strides, padding)
    y_naive, arg_naive = pool_naive.max_pool_forward(x, pool_size, strides, pads, out_hw)
    y_fast, arg_fast = pool_fast.max_pool_forward(x, pool_size, strides, pads, out_hw)
    assert_identical(y_naive, y_fast, "max forward")
    assert_identical(arg_naive, arg_fast, "argmax")
    dy = rng.standard_normal(y_fast.shape).astype(dtype)
    assert_identical(pool_naive.max_pool_backward(dy, arg_naive, shape),
                     pool_fast.max_pool_backward(dy, arg_fast, shape), "max backward")


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(1, 3), tiles=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       out=st.tuples(st.integers(1, 5), st.integers(1, 5)), c=st.integers(1, 5),
       kind=st.sampled_from(("normal", "grid", "relu", "special")), seed=st.integers(0, 2**32 - 1))
def test_tiled_max_pool_backward_equals_naive(dtype, n, tiles, out, c, kind, seed):
    """The one-pass backward for windows that tile the input (stride = pool size, no
    remainder): bit for bit the naive zero-then-add, signed zeros and NaN included."""
    rng = np.random.default_rng(seed)
    shape = (n, out[0] * tiles[0], out[1] * tiles[1], c)
    x = make_values(rng, shape, kind, dtype)
    _, arg = pool_naive.max_pool_forward(x, tiles, tiles, (0, 0), out)
    dy = make_values(rng, (n,) + out + (c,), kind, dtype)
    assert_identical(pool_naive.max_pool_backward(dy, arg, shape),
                     pool_fast.max_pool_backward(dy, arg, shape, tiles), "tiled max backward")


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(1, 3), tiles=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       out=st.tuples(st.integers(1, 5), st.integers(1, 5)),
       c=st.one_of(st.integers(1, 5), st.integers(15, 20)),
       kind=st.sampled_from(("normal", "grid", "relu", "special")), seed=st.integers(0, 2**32 - 1))
def test_tiled_max_pool_forward_equals_naive(dtype, n, tiles, out, c, kind, seed):
    """The forward kernels for windows that tile the input (few channels: one at a time;
    16 or more: vector loop over channels), with and without the argmax (inference): bit for
    bit the naive forward, NaN, infinities and ties included."""
    rng = np.random.default_rng(seed)
    shape = (n, out[0] * tiles[0], out[1] * tiles[1], c)
    x = make_values(rng, shape, kind, dtype)
    y_naive, arg_naive = pool_naive.max_pool_forward(x, tiles, tiles, (0, 0), out)
    y_fast, arg_fast = pool_fast.max_pool_forward(x, tiles, tiles, (0, 0), out)
    assert_identical(y_naive, y_fast, "tiled max forward")
    assert_identical(arg_naive, arg_fast, "tiled argmax")
    y_infer, no_arg = pool_fast.max_pool_forward(x, tiles, tiles, (0, 0), out,
                                                 with_argmax=False)
    assert no_arg is None
    assert_identical(y_naive, y_infer, "tiled max forward without the argmax")


@pytest.mark.parametrize("dtype", DTYPES)
@given(case=window_cases())
def test_avg_pool_naive_equals_fast(dtype, case):
    shape, pool_size, strides, padding, kind, seed = case
    rng = np.random.default_rng(seed)
    x = make_values(rng, shape, kind, dtype)
    pads, out_hw = window_args(shape, pool_size, strides, padding)
    with np.errstate(invalid="ignore"):   # inf - inf in a window: NaN, on both sides
        y_naive = pool_naive.avg_pool_forward(x, pool_size, strides, pads, out_hw)
    assert_identical(y_naive, pool_fast.avg_pool_forward(x, pool_size, strides, pads, out_hw),
                     "avg forward")
    dy = rng.standard_normal(y_naive.shape).astype(dtype)
    assert_identical(pool_naive.avg_pool_backward(dy, shape, pool_size, strides, pads),
                     pool_fast.avg_pool_backward(dy, shape, pool_size, strides, pads),
                     "avg backward")


def test_fast_kernels_reject_bad_arrays_in_python():
    """No Numba typing error reaches a user: wrong ranks or dtypes are caught first."""
    with pytest.raises(TypeError, match="4-D float32 or float64"):
        pool_fast.max_pool_forward(np.zeros((2, 4, 4), "float32"), (2, 2), (2, 2), (0, 0),
                                   (2, 2))
    with pytest.raises(TypeError, match="4-D float32 or float64"):
        pool_fast.avg_pool_forward(np.zeros((1, 4, 4, 1), "int64"), (2, 2), (2, 2), (0, 0),
                                   (2, 2))
    with pytest.raises(ValueError, match="argmax"):
        pool_fast.max_pool_backward(np.zeros((1, 2, 2, 1), "float32"),
                                    np.zeros((1, 2, 2, 2), "int32"), (1, 4, 4, 1))

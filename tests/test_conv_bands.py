"""Conv2D + MaxPooling2D on large images, row band by row band (`Conv2DFastPaths._bands`):
the same numbers as the plain chunk-of-images passes, and the same bits at any thread count.

The bands change only where work happens (an im2col matrix per band in a per-thread buffer,
recomputed in backward instead of kept) and the order in which dL/dw and dL/db are added up
(per band, per fixed image group); BLAS may also round a product over a band's rows
differently from one over a chunk's. So everything is compared bit for bit when every sum is
exact (small integers: no rounding at all), and within the float64 tolerance for ordinary
random numbers. Determinism: 1, 2 and 3 threads
give bit-identical gradients, because the bands and the groups depend only on the shapes.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchnet import threads
from scratchnet.layers import conv_fast_paths
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.padding import output_length
from scratchnet.layers.pooling import MaxPooling2D
from tolerances import assert_close


@contextlib.contextmanager
def setting(bands, thread_count=1):
    """bands=True: every conv + pool pair with valid, non-overlapping pooling runs in bands of
    `bands` bytes of im2col (1: one pool row of windows per band); False: never in bands.
    thread_count threads split the work whatever else runs on the machine."""
    saved = (conv_fast_paths.BAND_BYTES, conv_fast_paths.BAND_MIN_BYTES, threads._num_threads,
             threads._judge)
    judge = threads._Judge()
    judge.MAX_OTHERS = float("inf")
    conv_fast_paths.BAND_MIN_BYTES = 0 if bands else 1 << 62
    conv_fast_paths.BAND_BYTES = bands or 1
    threads._num_threads, threads._judge = thread_count, judge
    try:
        with threads.compute_threads():
            yield
    finally:
        (conv_fast_paths.BAND_BYTES, conv_fast_paths.BAND_MIN_BYTES, threads._num_threads,
         threads._judge) = saved


@st.composite
def banded_pair(draw, dtype, exact):
    """A Conv2D (ReLU or linear) and a MaxPooling2D with non-overlapping valid windows, with
    weights and a batch; exact=True draws small integers, so that every sum is exact."""
    batch = draw(st.integers(1, 4))
    height, width = draw(st.integers(3, 16)), draw(st.integers(3, 16))
    channels = draw(st.sampled_from((1, 2, 3)))
    filters = draw(st.sampled_from((1, 4, 16, 17)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    strides = draw(st.sampled_from(((1, 1), (1, 1), (2, 1))))
    padding = draw(st.sampled_from(("valid", "same")))
    conv_out = [output_length(n, k, s, padding)
                for n, k, s in zip((height, width), kernel, strides)]
    pool_size = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if min(o // p for o, p in zip(conv_out, pool_size)) < 1 or kernel == (1, 1):
        pool_size, kernel = (1, 1), (2, 2)
        conv_out = [output_length(n, 2, s, padding) for n, s in zip((height, width), strides)]
    conv = Conv2D(filters, kernel, strides, padding, activation=draw(st.sampled_from(
        (None, "relu"))), use_bias=draw(st.booleans()), dtype=dtype)
    pool = MaxPooling2D(pool_size, dtype=dtype)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = numbers(rng, (batch, height, width, channels), dtype, exact)
    conv(x)
    conv.set_weights([numbers(rng, w.shape, dtype, exact) for w in conv.get_weights()])
    return conv, pool, x, exact


def numbers(rng, shape, dtype, exact):
    if exact:
        return rng.integers(-3, 4, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def fused_pass(conv, pool, x, exact, training=True):
    """pooled y (and, in training, dL/dx, dL/dkernel, dL/dbias for a fixed dL/dy)."""
    conv.zero_grads()
    y, cache = conv.forward_fused(x, pool, training=training)
    if not training:
        return [y.copy()], cache
    dy = numbers(np.random.default_rng(7), y.shape, conv.dtype, exact)
    dx = conv.backward_fused(dy, cache, pool)
    return [y.copy(), dx.copy()] + [g.copy() for g in conv.grads], cache


@pytest.mark.parametrize("exact", (True, False), ids=("integers", "random"))
@given(data=st.data(), band_bytes=st.sampled_from((1, 200, 2000)))
def test_bands_equal_the_chunked_passes(exact, data, band_bytes):
    dtype = "float32" if exact else "float64"
    conv, pool, x, exact = data.draw(banded_pair(dtype, exact))
    results = []
    for bands in (False, band_bytes):
        with setting(bands, thread_count=2):
            got, cache = fused_pass(conv, pool, x, exact)
            assert (cache.bands is not None) == bool(bands)
            inference, _ = fused_pass(conv, pool, x, exact, training=False)
        results.append((got, inference))
    (plain, plain_inference), (banded, banded_inference) = results
    for what, a, b in zip(("inference y", "pooled y", "dL/dx", "dL/dkernel", "dL/dbias"),
                          banded_inference + banded, plain_inference + plain):
        if exact:
            np.testing.assert_array_equal(a, b, err_msg=what)
        else:       # (a product over a band's rows may round differently from the chunk's)
            assert_close(a, b, dtype, what)


@given(data=st.data())
def test_bands_give_the_same_bits_at_1_2_and_3_threads(data):
    conv, pool, x, exact = data.draw(banded_pair("float32", exact=False))
    runs = []
    for count in (1, 2, 3):
        with setting(100, thread_count=count):
            runs.append(fused_pass(conv, pool, x, exact)[0])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_which_layers_run_in_bands():
    """Large images (an image's im2col of at least BAND_MIN_BYTES) with valid pooling whose
    windows do not overlap; bands are whole pool rows, cover every pooled row, and depend
    only on the shapes."""
    conv = Conv2D(16, 3, activation="relu")
    big = np.zeros((2, 150, 150, 3), "float32")
    conv(big[:1])
    x, pads = conv._prepare(big)
    bands = conv._bands(x, pads, MaxPooling2D(2))
    assert bands is not None and bands[0][0] == 0 and bands[-1][1] == 148
    assert all(b0 % 2 == 0 and b1 % 2 == 0 and b0 < b1 for b0, b1 in bands)
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    row_bytes = 148 * 27 * 4
    assert max(b1 - b0 for b0, b1 in bands) * row_bytes <= conv_fast_paths.BAND_BYTES
    assert conv._bands(x, pads, MaxPooling2D(2, strides=1)) is None       # overlapping
    assert conv._bands(x, pads, MaxPooling2D(2, padding="same")) is None
    assert conv._bands(x[:, :20, :20], *conv._prepare(x[:, :20, :20])[1:],
                       MaxPooling2D(2)) is None                            # small image
    odd = np.zeros((1, 301, 300, 3), "float32")        # 299 conv rows: the last is never read
    assert conv._bands(odd, conv._prepare(odd)[1], MaxPooling2D(2))[-1][1] == 298


@given(data=st.data())
def test_the_rgb_3x3_im2col_equals_the_general_one(data):
    """`conv_fast.fill_rows_cols` takes its unrolled RGB 3x3 kernel only where every window is
    inside the image, and fills exactly what im2col_kernel fills, for whole images and for
    bands of output rows."""
    from scratchnet.kernels import conv_fast
    height, width = data.draw(st.integers(3, 12)), data.draw(st.integers(3, 12))
    padding = data.draw(st.sampled_from(("valid", "same")))
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(
        (2, height, width, 3)).astype("float32")
    pads = ((1, 1), (1, 1)) if padding == "same" else ((0, 0), (0, 0))
    ho, wo = conv_fast.geometry(x.shape, (3, 3, 3, 4), (1, 1), pads, (1, 1))
    geo = conv_fast._geometry_args((3, 3, 3, 4), (1, 1), pads, (1, 1), (ho, wo))
    p0 = data.draw(st.integers(0, ho - 1))
    p1 = data.draw(st.integers(p0 + 1, ho))
    band = geo[:6] + (geo[6] - p0, geo[7], p1 - p0, geo[9])
    x3 = x.reshape(2, height, width * 3)
    for g in (geo, band):
        rows = 2 * g[8] * g[9]
        got, expected = np.full((rows, 27), np.nan, "float32"), np.empty((rows, 27), "float32")
        conv_fast.fill_rows_cols(x3, 3, g, got)
        conv_fast.im2col_kernel(x3, 3, *g, expected)
        np.testing.assert_array_equal(got, expected)

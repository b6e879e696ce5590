"""Winograd's F(2x2, 3x3) (kernels/winograd.py): the readable NumPy version equals the naive
convolution; Conv2D running it (every pass: training, inference, fused with max pooling,
dL/dx, dL/dw) equals TensorFlow; and the rule that picks it.

To reach the Winograd path with small Hypothesis shapes, the layer's thresholds
(WINOGRAD_MIN_CHANNELS, WINOGRAD_MIN_WORK) are lowered inside the tests. float32 cases draw
multiples of 1/8 and 1/16 as in test_conv_parity.py: the transforms only add and halve, so
every intermediate value stays exact and the comparison with TensorFlow is exact too; float64
cases use normal random numbers.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchnet import threads
from scratchnet.kernels import conv_naive, winograd
from scratchnet.layers import conv_fast_paths
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.pooling import MaxPooling2D
from parity_log import check
from tf_support import import_tf, keras_layer_grads
from tolerances import assert_close

DTYPES = ("float32", "float64")


@contextlib.contextmanager
def winograd_from(min_work):
    """Inside: every 3x3, stride-1 convolution of at least `min_work` multiply-adds (any
    channel count) runs Winograd."""
    saved = conv_fast_paths.WINOGRAD_MIN_CHANNELS, conv_fast_paths.WINOGRAD_MIN_WORK
    conv_fast_paths.WINOGRAD_MIN_CHANNELS, conv_fast_paths.WINOGRAD_MIN_WORK = 1, min_work
    try:
        with threads.compute_threads():
            yield
    finally:
        conv_fast_paths.WINOGRAD_MIN_CHANNELS, conv_fast_paths.WINOGRAD_MIN_WORK = saved


@st.composite
def cases(draw, dtype, size=3):
    batch = draw(st.integers(1, 4))
    height, width = draw(st.integers(size, 12)), draw(st.integers(size, 12))
    channels, filters = draw(st.integers(1, 5)), draw(st.integers(1, 6))
    padding = draw(st.sampled_from(("valid", "same")))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = (height, width) if padding == "same" else (height - size + 1, width - size + 1)
    shapes = dict(x=(batch, height, width, channels), kernel=(size, size, channels, filters),
                  bias=(filters,), dy=(batch, *out, filters))
    if dtype == "float64":
        arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    else:
        arrays = {k: rng.integers(-8, 9, s) / (16 if k == "kernel" else 8)
                  for k, s in shapes.items()}
    return dict(dtype=dtype, filters=filters, kernel_size=(size, size), padding=padding,
                activation=draw(st.sampled_from((None, "relu"))), use_bias=True,
                **{k: a.astype(dtype) for k, a in arrays.items()})


@pytest.mark.parametrize("matrices", ("F2x2", "F4x4", "F2x2_5x5"))
@given(data=st.data())
def test_the_readable_version_equals_the_naive_convolution(matrices, data):
    """F(2x2, 3x3), which Conv2D runs, and F(4x4, 3x3) and F(2x2, 5x5), kept in the
    readable version only."""
    matrices = getattr(winograd, matrices)
    size = matrices[1].shape[1]                        # G's columns: the kernel size
    case = data.draw(cases("float64", size))
    half = size // 2
    pads = ((half, half), (half, half)) if case["padding"] == "same" else ((0, 0), (0, 0))
    x, kernel, dz = case["x"], case["kernel"], case["dy"]
    z = winograd.forward_numpy(x, kernel, pads, matrices)
    expected = conv_naive.conv2d_forward(x, kernel, None, (1, 1), pads, (1, 1))
    assert_close(z, expected, "float64", "forward")
    dx, dw = winograd.backward_numpy(x, kernel, dz, pads, matrices)
    dx_naive, dw_naive, _ = conv_naive.conv2d_backward(x, kernel, dz, (1, 1), pads, (1, 1))
    assert_close(dx, dx_naive, "float64", "dL/dx")
    assert_close(dw, dw_naive, "float64", "dL/dw")


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_conv2d_by_winograd_matches_keras(dtype, data):
    tf = import_tf()
    import keras

    case = data.draw(cases(dtype))
    kwargs = {k: case[k] for k in ("filters", "kernel_size", "padding", "activation",
                                   "use_bias", "dtype")}
    layer = Conv2D(**kwargs)
    layer(case["x"])
    layer.set_weights([case["kernel"], case["bias"]])
    keras_layer = keras.layers.Conv2D(**kwargs)
    keras_layer.build((None,) + case["x"].shape[1:])
    y_tf, grads_tf = keras_layer_grads(tf, keras_layer, case)
    area = "Conv2D by Winograd"
    with winograd_from(0):
        y, cache = layer.forward(case["x"], training=True)
        assert cache.winograd
        dx = layer.backward(case["dy"], cache)
        check(y, y_tf, dtype, "forward", area)
        check(dx, grads_tf[0], dtype, "dL/dx", area)
        check(layer.grads[0], grads_tf[1], dtype, "dL/dkernel", area)
        check(layer.grads[1], grads_tf[2], dtype, "dL/dbias", area)
        # inference keeps nothing; a backward afterwards transforms again, the same numbers
        y_inference, cache = layer.forward(case["x"], training=False)
        np.testing.assert_array_equal(y_inference, y)
        layer.zero_grads()
        np.testing.assert_array_equal(layer.backward(case["dy"], cache), dx)
        check(layer.grads[0], grads_tf[1], dtype, "dL/dkernel after inference", area)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_winograd_fused_with_max_pooling_equals_the_im2col_pass(dtype, data):
    case = data.draw(cases(dtype))
    pool = MaxPooling2D(2, padding="same", dtype=dtype)
    layer = Conv2D(case["filters"], 3, padding=case["padding"], activation="relu", dtype=dtype)
    layer(case["x"])
    layer.set_weights([case["kernel"], case["bias"]])
    results = []
    for min_work in (0, 1 << 62):                       # Winograd, then im2col + GEMM
        with winograd_from(min_work):
            layer.zero_grads()
            y, cache = layer.forward_fused(case["x"], pool, training=True)
            assert cache.winograd == (min_work == 0)
            dy = np.random.default_rng(3).integers(-8, 9, y.shape).astype(dtype) / 8
            dx = layer.backward_fused(dy, cache, pool)
            inference, _ = layer.forward_fused(case["x"], pool)
            results.append([y.copy(), inference.copy(), dx.copy()]
                           + [g.copy() for g in layer.grads])
    for what, a, b in zip(("pooled y", "inference", "dL/dx", "dL/dkernel", "dL/dbias"),
                          *results):
        if dtype == "float32":                 # exact on the 1/8 grid
            np.testing.assert_array_equal(a, b, err_msg=what)
        else:
            assert_close(a, b, dtype, what)


def test_which_convolutions_use_winograd():
    """3x3, stride 1, no dilation, 16+ channels and filters, 32M+ direct multiply-adds: the
    Coursera CNN's second Conv2D (64 -> 64) at batch 32, horse-or-human's 16 -> 32; not first
    layers (1 or 3 channels), 5x5 kernels, strides, or small calls."""
    def uses(x_shape, filters, kernel=3, strides=1, padding="valid"):
        layer = Conv2D(filters, kernel, strides, padding)
        layer.build(x_shape)
        x = np.zeros(x_shape, "float32")
        return layer._winograd(x, layer._prepare(x)[1])

    assert uses((32, 13, 13, 64), 64) and uses((32, 74, 74, 16), 32)
    assert uses((32, 13, 13, 32), 32)                         # 35.7M multiply-adds
    assert not uses((8, 13, 13, 32), 32)                      # 8.9M
    assert not uses((32, 28, 28, 1), 64) and not uses((32, 150, 150, 3), 16)
    assert not uses((32, 14, 14, 32), 64, kernel=5, padding="same")
    assert not uses((32, 28, 28, 32), 64, strides=2)
    assert not uses((32, 13, 13, 8), 64)


def test_float32_error_keeps_conv2d_on_f2x2(monkeypatch):
    """Why Conv2D runs F(2x2, 3x3) and not F(4x4, 3x3), nor F(2x2, 5x5) for 5x5 kernels: on
    the Coursera CNN's second layer, float32 F(2x2, 3x3) keeps every forward, dL/dx and dL/dw
    entry inside the float32 parity tolerance of the exact convolution, F(4x4, 3x3) does not;
    on the Python-ML CNN's 5x5 layer the direct float32 convolution does, F(2x2, 5x5) does not
    (benchmarks/winograd_error.py)."""
    import os
    import sys
    monkeypatch.syspath_prepend(os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
    sys.modules.pop("winograd_error", None)
    import winograd_error
    layers = [winograd_error.LAYERS[0]] + [
        layer for layer in winograd_error.LAYERS if layer[-1] == 5]
    assert len(layers) == 2
    monkeypatch.setattr(winograd_error, "LAYERS", layers)
    rows = winograd_error.measure(seed=0)
    outside = {(r["algorithm"], r["what"]): r["outside"] for r in rows}
    passes = ("forward", "dL/dx", "dL/dw")
    assert all(outside[("F(2x2, 3x3)", what)] == 0 for what in passes)
    assert outside[("F(4x4, 3x3)", "forward")] > 0
    assert all(outside[("direct (im2col + GEMM)", what)] == 0 for what in passes)
    assert outside[("F(2x2, 5x5)", "forward")] > 0


@pytest.mark.parametrize("padding", ("valid", "same"))
def test_winograd_blocks_that_split_an_image_add_up(monkeypatch, padding):
    """Blocks of 16 tiles, images of 25-49 tiles: a block boundary falls inside an image,
    whose dL/dx then collects from tiles of two blocks (and of neighbouring tiles, which
    overlap). Equal to the im2col pass, exactly on the 1/8 grid."""
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)
    assert winograd.block_tiles(64, "float32") == 16
    rng = np.random.default_rng(11)
    x = rng.integers(-8, 9, (3, 12, 13, 5)).astype("float32") / 8
    layer = Conv2D(6, 3, padding=padding, activation="relu")
    layer(x)
    layer.set_weights([rng.integers(-8, 9, (3, 3, 5, 6)).astype("float32") / 16,
                       rng.integers(-8, 9, 6).astype("float32") / 8])
    results = []
    for min_work in (0, 1 << 62):                       # Winograd, then im2col + GEMM
        with winograd_from(min_work):
            layer.zero_grads()
            y, cache = layer.forward(x, training=True)
            assert cache.winograd == (min_work == 0)
            dy = np.random.default_rng(3).integers(-8, 9, y.shape).astype("float32") / 8
            results.append([y.copy(), layer.backward(dy, cache).copy()]
                           + [g.copy() for g in layer.grads])
    for what, a, b in zip(("y", "dL/dx", "dL/dkernel", "dL/dbias"), *results):
        np.testing.assert_array_equal(a, b, err_msg=what)

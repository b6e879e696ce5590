"""Conv2D's two implementations agree: `kernels.conv_naive` (loops, NumPy) == `kernels.conv_fast`
(Numba im2col + BLAS), for forward, dL/dx, dL/dkernel and dL/dbias, in both dtypes.

Hypothesis draws the geometry (batch, H, W, C, F, kernel, strides or dilation, padding), so
padding at every border, strides that skip the last rows, kernels larger than the input with
'same', and 1x1 kernels (the fast path skips im2col) all come up. float64 uses normal random
numbers (the two summation orders then agree to ~1e-15); float32 uses multiples of 1/8 so that
every sum is exact in float32 and the two must agree exactly (see test_conv_parity.py for why
long float32 sums in different orders cannot be compared to 1e-4 relative).
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from scratchnet.engine import workspace
from scratchnet.kernels import conv_fast, conv_naive
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.padding import output_length, paddings
from tolerances import assert_close, relative_error, tolerance

DTYPES = ("float32", "float64")
_WORST = {}


def check(actual, expected, dtype, what):
    assert np.asarray(actual).dtype == np.dtype(dtype), f"{what}: dtype {np.asarray(actual).dtype}"
    assert_close(actual, expected, dtype, what)
    rtol, atol = tolerance(dtype)   # worst relative error where the relative test governs
    a, b = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    big = np.abs(b) >= atol / rtol
    rel = relative_error(a[big], b[big]) if big.any() else 0.0
    _WORST[dtype] = max(_WORST.get(dtype, 0.0), rel)


@pytest.fixture(scope="module", autouse=True)
def _report_worst():
    yield
    for dtype, rel in sorted(_WORST.items()):
        print(f"\n[naive vs fast] {dtype}: max rel err {rel:.2e}", end="")


@st.composite
def cases(draw, dtype, max_size=12, one_channel=False):
    """one_channel: C = 1, stride 1, no dilation (what the direct one-channel kernels take)."""
    batch = draw(st.integers(1, 3))
    height, width = draw(st.integers(1, max_size)), draw(st.integers(1, max_size))
    channels, filters = draw(st.integers(1, 4)), draw(st.integers(1, 6))
    if one_channel:
        channels, filters = 1, draw(st.one_of(st.integers(1, 6), st.integers(15, 18)))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    padding = draw(st.sampled_from(("valid", "same")))
    if one_channel:
        strides, dilation = (1, 1), (1, 1)
    elif draw(st.booleans()):
        strides, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (1, 1)
    else:
        strides, dilation = (1, 1), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    out = tuple(output_length(n, k, s, padding, d)
                for n, k, s, d in zip((height, width), kernel, strides, dilation))
    assume(min(out) > 0)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shapes = dict(x=(batch, height, width, channels), kernel=kernel + (channels, filters),
                  bias=(filters,), dz=(batch,) + out + (filters,))
    if dtype == "float64":
        arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    else:
        arrays = {k: rng.integers(-8, 9, s) / 8 for k, s in shapes.items()}
    arrays = {k: v.astype(dtype) for k, v in arrays.items()}
    pads = paddings((height, width), kernel, strides, padding, dilation)
    return dict(arrays, strides=strides, dilation=dilation, pads=pads, padding=padding,
                filters=filters, kernel_size=kernel)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_kernels_naive_equal_fast(dtype, data):
    c = data.draw(cases(dtype))
    geometry = (c["strides"], c["pads"], c["dilation"])
    z_naive = conv_naive.conv2d_forward(c["x"], c["kernel"], c["bias"], *geometry)
    z_fast, cols = conv_fast.conv2d_forward(c["x"], c["kernel"], c["bias"], *geometry)
    check(z_fast, z_naive, dtype, "forward")
    need_dx = data.draw(st.booleans())
    naive = conv_naive.conv2d_backward(c["x"], c["kernel"], c["dz"], *geometry, need_dx)
    fast = conv_fast.conv2d_backward(c["x"], c["kernel"], c["dz"], *geometry, need_dx, cols=cols)
    for what, a, b in zip(("dL/dx", "dL/dkernel", "dL/dbias"), fast, naive):
        if b is None:
            assert a is None
        else:
            check(a, b, dtype, what)
    # Without forward's cols, backward recomputes them: same answer.
    again = conv_fast.conv2d_backward(c["x"], c["kernel"], c["dz"], *geometry, need_dx)
    check(again[1], naive[1], dtype, "dL/dkernel (cols recomputed)")


@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=10)  # Python loops: slow
@given(data=st.data())
def test_lecture_loop_equals_the_tap_loop(dtype, data):
    c = data.draw(cases(dtype, max_size=7))
    geometry = (c["strides"], c["pads"], c["dilation"])
    by_hand = conv_naive.conv2d_forward_by_hand(c["x"], c["kernel"], c["bias"], *geometry)
    check(by_hand, conv_naive.conv2d_forward(c["x"], c["kernel"], c["bias"], *geometry), dtype,
          "by-hand forward")


@given(data=st.data())
def test_col2im_is_the_adjoint_of_im2col(data):
    """<im2col(x), D> == <x, col2im(D)> for every x and D: the property backward relies on."""
    c = data.draw(cases("float64"))
    geometry = (c["strides"], c["pads"], c["dilation"])
    cols = conv_fast.im2col(c["x"], c["kernel"].shape, *geometry)
    d = np.random.default_rng(0).standard_normal(cols.shape)
    back = conv_fast.col2im(d, c["x"].shape, c["kernel"].shape, *geometry)
    assert_close(np.sum(cols * d), np.sum(c["x"] * back), "float64",
                 "<im2col x, D> = <x, col2im D>")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", (None, "relu", "tanh", "sigmoid", "softmax"))
@given(data=st.data())
def test_layer_naive_equals_fast(dtype, activation, data):
    c = data.draw(cases(dtype))
    use_bias = data.draw(st.booleans())
    results = {}
    for implementation in ("naive", "fast"):
        layer = Conv2D(c["filters"], c["kernel_size"], c["strides"], c["padding"],
                       dilation_rate=c["dilation"], activation=activation, use_bias=use_bias,
                       dtype=dtype)
        layer.implementation = implementation
        layer(c["x"])
        layer.set_weights([c["kernel"], c["bias"]] if use_bias else [c["kernel"]])
        y, cache = layer.forward(c["x"], training=True)
        dx = layer.backward(c["dz"], cache)
        results[implementation] = [y, layer.logits(cache), dx] + [g.copy() for g in layer.grads]
    # Smooth activations (tanh, sigmoid, softmax) round their outputs differently from the
    # exact grid: they are compared in float64 only.
    if dtype == "float32" and activation in ("tanh", "sigmoid", "softmax"):
        results = {k: [v[1]] for k, v in results.items()}
    names = ("y", "logits", "dL/dx", "dL/dkernel", "dL/dbias")
    for what, a, b in zip(names if len(results["fast"]) > 1 else ("logits",), results["fast"],
                          results["naive"]):
        check(a, b, dtype, f"layer {what}")


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_direct_one_channel_kernels_equal_naive(dtype, data):
    """conv_fast.conv1ch_* (inference on one-channel images, stride 1, no dilation): few
    filters by rows, 16 or more by pixels; z and ReLU(z) both checked."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    n, h, w = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 12)), data.draw(
        st.integers(1, 12))
    filters = data.draw(st.one_of(st.integers(1, 6), st.integers(15, 20)))
    kernel_size = (data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5)))
    assume(kernel_size != (1, 1))
    padding = data.draw(st.sampled_from(("valid", "same")))
    assume(min(output_length(a, k, 1, padding, 1) for a, k in zip((h, w), kernel_size)) > 0)
    pads = paddings((h, w), kernel_size, (1, 1), padding, (1, 1))
    make = ((lambda s: rng.standard_normal(s)) if dtype == "float64"
            else (lambda s: rng.integers(-8, 9, s) / 8))
    x, kernel, bias = (make(s).astype(dtype) for s in ((n, h, w, 1), kernel_size + (1, filters),
                                                        (filters,)))
    use_bias = data.draw(st.booleans())
    z_naive = conv_naive.conv2d_forward(x, kernel, bias if use_bias else None, (1, 1), pads,
                                        (1, 1))
    z, y = conv_fast.conv1ch_forward(x, kernel, bias if use_bias else None, pads, relu=True)
    check(z, z_naive, dtype, "direct forward z")
    check(y, np.maximum(z_naive, 0), dtype, "direct forward relu")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", (None, "relu"))
@given(data=st.data())
def test_layer_inference_equals_naive(dtype, activation, data):
    """Conv2D.forward(training=False) keeps nothing for backward (direct one-channel kernels,
    per-thread im2col buffers); y equals naive, and a backward afterwards recomputes what it
    needs: gradients equal naive's too."""
    # one channel, stride 1, no dilation: the direct kernels
    c = data.draw(cases(dtype, one_channel=data.draw(st.booleans())))
    results = {}
    for implementation in ("naive", "fast"):
        layer = Conv2D(c["filters"], c["kernel_size"], c["strides"], c["padding"],
                       dilation_rate=c["dilation"], activation=activation, dtype=dtype)
        layer.implementation = implementation
        layer(c["x"])
        layer.set_weights([c["kernel"], c["bias"]])
        y, cache = layer.forward(c["x"], training=False)
        y = y.copy()
        dx = layer.backward(c["dz"], cache)
        results[implementation] = [y, dx] + [g.copy() for g in layer.grads]
    for what, a, b in zip(("y", "dL/dx", "dL/dkernel", "dL/dbias"), results["fast"],
                          results["naive"]):
        check(a, b, dtype, f"inference layer {what}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", (None, "relu"))
@given(data=st.data())
def test_first_layer_direct_training_equals_naive(dtype, activation, data):
    """One-channel inputs, stride 1, no dilation, few filters: training runs the direct
    forward kernel and, for a first layer (no dL/dx), conv1ch_rows_dw_kernel; with dL/dx it
    builds cols after all. Both equal naive."""
    c = data.draw(cases(dtype, one_channel=True))
    need_dx = data.draw(st.booleans())
    results = {}
    for implementation in ("naive", "fast"):
        layer = Conv2D(c["filters"], c["kernel_size"], c["strides"], c["padding"],
                       activation=activation, dtype=dtype)
        layer.implementation = implementation
        layer(c["x"])
        layer.set_weights([c["kernel"], c["bias"]])
        y, cache = layer.forward(c["x"], training=True)
        y = y.copy()
        dx = layer.backward(c["dz"], cache, need_input_grad=need_dx)
        results[implementation] = ([y, layer.logits(cache).copy()]
                                   + [g.copy() for g in layer.grads])
        if need_dx:
            results[implementation].append(dx)
        else:
            assert dx is None
    for what, a, b in zip(("y", "logits", "dL/dkernel", "dL/dbias", "dL/dx"), results["fast"],
                          results["naive"]):
        check(a, b, dtype, f"first-layer training {what}")


def test_buffers_are_reused_per_call_but_outputs_are_fresh():
    """Inside a model step (an active workspace) a call gets its arrays of the previous step
    back; called on its own, a layer's results are always new arrays."""
    rng = np.random.default_rng(0)
    layer = Conv2D(4, 3, padding="same", activation="relu", dtype="float64")
    x1, x2 = rng.standard_normal((2, 6, 6, 2)), rng.standard_normal((2, 6, 6, 2))
    layer(x1)                                          # builds it
    ws = workspace.Workspace()
    previous = workspace.activate(ws)
    try:
        y1, cache1 = layer.forward(x1, training=True)
        y1_copy = y1.copy()
        y2, cache2 = layer.forward(x2, training=True)
    finally:
        workspace.activate(previous)
    assert np.shares_memory(cache2.z, cache1.z) and np.shares_memory(y1, y2)  # reused
    assert cache1.cols is None          # two channels: backward makes the im2col again
    assert not np.array_equal(y1_copy, y2)
    y3, cache3 = layer.forward(x1, training=True)      # no workspace: all new
    assert not np.shares_memory(y3, y2) and not np.shares_memory(cache3.z, cache1.z)
    np.testing.assert_array_equal(y3, y1_copy)
    one = Conv2D(16, 3, padding="same", activation="relu", dtype="float64")  # one channel:
    x4 = rng.standard_normal((2, 6, 6, 1))                                   # cols kept
    one(x4)
    previous = workspace.activate(ws)
    try:
        _, cache4 = one.forward(x4, training=True)
        _, cache5 = one.forward(x4, training=True)
    finally:
        workspace.activate(previous)
    assert cache4.cols is not None and cache5.cols is cache4.cols
    assert not np.shares_memory(one.forward(x4, training=True)[1].cols, cache4.cols)
    _, cache = layer.forward(x2)                       # inference keeps no im2col matrix
    assert cache.cols is None and cache.z is None
    # A different batch size, and the answer is still right.
    x3 = rng.standard_normal((5, 6, 6, 2))
    naive = conv_naive.conv2d_forward(x3, layer.kernel, layer.bias, (1, 1),
                                      ((1, 1), (1, 1)), (1, 1))
    assert_close(layer(x3), np.maximum(naive, 0), "float64", "after a batch-size change")
    assert not np.shares_memory(layer(x2), layer(x2))


def test_gradients_add_up_over_calls_until_zeroed():
    """Two backward calls in one step add their weight gradients; zero_grads starts anew."""
    rng = np.random.default_rng(1)
    layer = Conv2D(3, 2, dtype="float64")
    xa, xb = rng.standard_normal((2, 2, 5, 5, 1))
    layer(xa)                                          # builds it
    ya, cache_a = layer.forward(xa, training=True)
    yb, cache_b = layer.forward(xb, training=True)
    layer.zero_grads()
    layer.backward(np.ones_like(ya), cache_a)
    first = [g.copy() for g in layer.grads]
    layer.backward(np.ones_like(yb), cache_b)
    layer.zero_grads()
    layer.backward(np.ones_like(yb), cache_b)
    second = [g.copy() for g in layer.grads]
    layer.backward(np.ones_like(ya), cache_a)
    for total, a, b in zip(layer.grads, first, second):
        np.testing.assert_allclose(total, a + b, rtol=1e-13)
    layer.zero_grads()
    assert layer.grads == [None, None]


def test_wrappers_reject_bad_inputs_with_clear_errors():
    x = np.zeros((1, 5, 5, 2))
    k = np.zeros((3, 3, 2, 4))
    geometry = ((1, 1), ((0, 0), (0, 0)), (1, 1))
    with pytest.raises(TypeError, match="dtype float32, expected float64"):
        conv_fast.conv2d_forward(x, k.astype(np.float32), None, *geometry)
    with pytest.raises(TypeError, match="float32 or float64"):
        conv_fast.conv2d_forward(x.astype(np.int64), k, None, *geometry)
    with pytest.raises(ValueError, match="channels"):
        conv_fast.conv2d_forward(x, np.zeros((3, 3, 3, 4)), None, *geometry)
    with pytest.raises(ValueError, match="empty output"):
        conv_fast.conv2d_forward(x, np.zeros((6, 6, 2, 4)), None, *geometry)
    with pytest.raises(ValueError, match="bias"):
        conv_fast.conv2d_forward(x, k, np.zeros(3), *geometry)
    # Non-contiguous and integer inputs to the layer are made contiguous / cast first.
    layer = Conv2D(2, 2, dtype="float64")
    big = np.arange(2 * 6 * 6 * 2, dtype=np.float64).reshape(2, 6, 6, 2)
    assert layer(big[:, ::2, ::2, :]).shape == (2, 2, 2, 2)
    assert layer(big[:, ::2, ::2, :].astype(np.int32)).dtype == np.float64


@pytest.mark.parametrize("channels", (1, 2, 4))
@pytest.mark.parametrize("winograd", (False, True))
@pytest.mark.parametrize("fused", (False, True))
def test_an_empty_batch_gives_zero_gradients(channels, winograd, fused, monkeypatch):
    """No images: dL/dw and dL/db are zeros (TensorFlow's sums over nothing), dL/dx is
    empty -- on every training path (one channel keeping its im2col matrix, more channels
    making it again per group, Winograd), with and without the fused pooling."""
    from scratchnet import threads
    from scratchnet.layers import conv_fast_paths
    from scratchnet.layers.pooling import MaxPooling2D
    if winograd:
        monkeypatch.setattr(conv_fast_paths, "WINOGRAD_MIN_WORK", 0)
        monkeypatch.setattr(conv_fast_paths, "WINOGRAD_MIN_CHANNELS", 1)
    layer = Conv2D(16, 3, activation="relu")
    layer(np.ones((2, 8, 8, channels), np.float32))
    pool = MaxPooling2D(2)
    empty = np.zeros((0, 8, 8, channels), np.float32)
    with threads.compute_threads():
        layer.zero_grads()
        if fused:
            y, cache = layer.forward_fused(empty, pool, training=True)
            dx = layer.backward_fused(np.zeros(y.shape, np.float32), cache, pool)
        else:
            y, cache = layer.forward(empty, training=True)
            dx = layer.backward(np.zeros(y.shape, np.float32), cache)
    assert dx.shape == empty.shape and y.shape[0] == 0
    for grad in layer.grads:
        np.testing.assert_array_equal(grad, np.zeros_like(grad))

"""Pooling layers vs TensorFlow: forward and dL/dx (tf.GradientTape, random upstream dL/dy).

Hypothesis draws batch 1-4, H and W 1-16 (odd and even), channels 1-4, pool sizes 1-4 and
strides 1-3 per axis (strides < pool size: overlapping windows), padding in any case, and the
kind of values. Ties are drawn on purpose -- values on a coarse grid, ReLU-like zeros, constant
images -- because where a tied window sends its max-pool gradient is TF's choice to copy: the
FIRST largest cell in row-major order (MaxPoolGrad), checked here to the last bit. A fixed
sweep also runs every square pool size 1-4 x stride 1-3 x padding on one odd x even image.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchnet.layers.pooling import (AveragePooling2D, AvgPool2D, GlobalAveragePooling2D,
                                       GlobalMaxPooling2D, MaxPool2D, MaxPooling2D)
from tf_support import import_tf
from parity_log import check

DTYPES = ("float32", "float64")
VALUE_KINDS = ("normal", "grid", "relu", "constant")
POOLS = {"max": MaxPooling2D, "avg": AveragePooling2D}

# ---------------------------------------------------------------- inputs
def make_values(rng, shape, kind, dtype):
    """Images of a given kind; all but 'normal' are full of ties."""
    if kind == "normal":
        x = rng.standard_normal(shape)
    elif kind == "grid":                      # a handful of values: ties in most windows
        x = rng.integers(-2, 3, shape) * 0.5
    elif kind == "relu":                      # what a Conv2D + ReLU hands to pooling
        x = np.maximum(rng.standard_normal(shape), 0.0)
    else:                                     # every window tied everywhere
        x = np.full(shape, rng.choice((0.0, -1.5, 2.0)))
    return x.astype(dtype)


def tf_forward_backward(tf, keras_layer, x, rng):
    """TF's y and dL/dx for a random upstream gradient (also returned)."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = keras_layer(xt)
    dy = rng.standard_normal(tuple(y.shape)).astype(x.dtype)
    dx = tape.gradient(y, xt, output_gradients=tf.constant(dy))
    return y.numpy(), dx.numpy(), dy


def compare(tf, kind, args, x, dtype, rng, area):
    keras_cls = {"max": tf.keras.layers.MaxPooling2D, "avg": tf.keras.layers.AveragePooling2D}
    y_tf, dx_tf, dy = tf_forward_backward(tf, keras_cls[kind](*args, dtype=dtype), x, rng)
    layer = POOLS[kind](*args, dtype=dtype)
    assert layer(x).shape == y_tf.shape
    y, cache = layer.forward(x)          # inference: a max pool's backward finds the argmax
    assert layer.output_shape == (None,) + y_tf.shape[1:]
    check(y, y_tf, dtype, f"{area} forward", area)
    dx = layer.backward(dy, cache)
    check(dx, dx_tf, dtype, f"{area} dL/dx", area)
    if kind == "max":   # a selection and sums of selected values: bit for bit
        np.testing.assert_array_equal(y, y_tf)
        if args[1] is None or all(s >= k for s, k in zip(np.broadcast_to(args[1], 2),
                                                         np.broadcast_to(args[0], 2))):
            np.testing.assert_array_equal(dx, dx_tf)   # one window per cell: no sum order


@st.composite
def pooling_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    padding = draw(st.sampled_from(("valid", "same", "SAME", "Valid")))
    valid = padding.lower() == "valid"
    n, h, w, c = (draw(st.integers(1, 4)), draw(st.integers(1, 16)), draw(st.integers(1, 16)),
                  draw(st.integers(1, 4)))
    kh = draw(st.integers(1, min(4, h) if valid else 4))   # empty outputs: tested below
    kw = draw(st.integers(1, min(4, w) if valid else 4))
    pool = kh if kh == kw and draw(st.booleans()) else (kh, kw)
    strides = draw(st.one_of(st.none(), st.integers(1, 3),
                             st.tuples(st.integers(1, 3), st.integers(1, 3))))
    kind = draw(st.sampled_from(VALUE_KINDS))
    seed = draw(st.integers(0, 2**32 - 1))
    return dtype, (n, h, w, c), (pool, strides, padding), kind, seed


@pytest.mark.parametrize("pool", ("max", "avg"))
@given(case=pooling_cases())
def test_pooling_matches_keras(pool, case):
    tf = import_tf()
    dtype, shape, args, kind, seed = case
    rng = np.random.default_rng(seed)
    x = make_values(rng, shape, kind, dtype)
    compare(tf, pool, args, x, dtype, rng, f"{pool} pool 2D")


@pytest.mark.parametrize("padding", ("valid", "same"))
@pytest.mark.parametrize("stride", (1, 2, 3))
@pytest.mark.parametrize("size", (1, 2, 3, 4))
def test_every_pool_size_stride_padding(size, stride, padding):
    """The full grid on a (2, 7, 8, 3) image: odd H, even W, ties from the value grid."""
    tf = import_tf()
    rng = np.random.default_rng(size * 100 + stride * 10 + (padding == "same"))
    for dtype in DTYPES:
        x = make_values(rng, (2, 7, 8, 3), "grid", dtype)
        x[0, :4] = 0.0   # ReLU-dead rows: all-zero (tied) windows, some overlapping
        for pool in ("max", "avg"):
            compare(tf, pool, (size, stride, padding), x, dtype, rng, f"{pool} pool grid")


# ---------------------------------------------------------------- tie-breaking, pinned
def test_max_pool_gradient_goes_to_the_first_tied_cell():
    """Numbers read off TF (eager and tf.function, float32 and float64): all-zero 4x4 image,
    3x3 windows, stride 1, SAME. Window (p, q) covers rows p-1..p+1, columns q-1..q+1; its
    first real cell is (max(p-1, 0), max(q-1, 0)), which collects dy = 1..16 (row-major)."""
    expected = np.array([[14, 10, 12, 0], [19, 11, 12, 0], [27, 15, 16, 0], [0, 0, 0, 0]])
    for dtype in DTYPES:
        layer = MaxPooling2D(3, 1, "same", dtype=dtype)
        _, cache = layer.forward(np.zeros((1, 4, 4, 1), dtype), training=True)
        dx = layer.backward(np.arange(1, 17, dtype=dtype).reshape(1, 4, 4, 1), cache)
        np.testing.assert_array_equal(dx[0, :, :, 0], expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_special_values_match_tf(dtype):
    """-0.0, lowest, +-inf and NaN follow TF's kernels exactly (eager: MaxPool for y, which
    starts from the lowest finite number so NaN never wins and an all -inf window gives
    `lowest`; MaxPoolGrad for dL/dx, which starts from the window's first cell). Note: TF's
    oneDNN float32 kernel inside tf.function routes a window's gradient past a leading NaN;
    every TF path agrees whenever the window holds no NaN."""
    tf = import_tf()
    inf, nan, lowest = np.inf, np.nan, np.finfo(dtype).min
    windows = [[nan, 1, 2, 3], [1, nan, 3, 3], [nan, nan, nan, nan], [-inf, -inf, -inf, -inf],
               [-inf, lowest, -inf, lowest], [nan, -inf, nan, -inf], [0.0, -0.0, 0, 0],
               [-0.0, 0.0, 0, 0], [inf, 1, inf, nan], [-1, -1, -2, -1]]
    x = np.array(windows, dtype).reshape(len(windows), 2, 2, 1)
    rng = np.random.default_rng(0)
    y_tf, dx_tf, dy = tf_forward_backward(tf, tf.keras.layers.MaxPooling2D(dtype=dtype), x, rng)
    layer = MaxPooling2D(dtype=dtype)
    y, cache = layer.forward(x)
    np.testing.assert_array_equal(y, y_tf)
    np.testing.assert_array_equal(np.signbit(y), np.signbit(y_tf))
    np.testing.assert_array_equal(layer.backward(dy, cache), dx_tf)


# ---------------------------------------------------------------- global pooling
@st.composite
def global_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = (draw(st.integers(1, 4)), draw(st.integers(1, 16)), draw(st.integers(1, 16)),
             draw(st.integers(1, 4)))
    return dtype, shape, draw(st.booleans()), draw(st.sampled_from(VALUE_KINDS)), draw(
        st.integers(0, 2**32 - 1))


@pytest.mark.parametrize("pool", ("max", "avg"))
@given(case=global_cases())
def test_global_pooling_matches_keras(pool, case):
    """Global max splits a tied maximum's gradient equally (TF's reduce_max gradient)."""
    tf = import_tf()
    dtype, shape, keepdims, kind, seed = case
    rng = np.random.default_rng(seed)
    x = make_values(rng, shape, kind, dtype)
    ours, theirs = {"max": (GlobalMaxPooling2D, tf.keras.layers.GlobalMaxPooling2D),
                    "avg": (GlobalAveragePooling2D, tf.keras.layers.GlobalAveragePooling2D)}[pool]
    y_tf, dx_tf, dy = tf_forward_backward(tf, theirs(keepdims=keepdims, dtype=dtype), x, rng)
    layer = ours(keepdims=keepdims, dtype=dtype)
    assert layer(x).shape == y_tf.shape
    y, cache = layer.forward(x)
    assert layer.output_shape == (None,) + y_tf.shape[1:]
    area = f"global {pool} pool"
    check(y, y_tf, dtype, f"{area} forward", area)
    check(layer.backward(dy, cache), dx_tf, dtype, f"{area} dL/dx", area)


def test_global_max_splits_ties_equally():
    layer = GlobalMaxPooling2D(dtype="float64")
    y, cache = layer.forward(np.array([2.0, 1.0, 2.0, 2.0]).reshape(1, 2, 2, 1))
    assert y.shape == (1, 1) and y[0, 0] == 2.0
    np.testing.assert_array_equal(layer.backward(np.array([[3.0]]), cache).ravel(), [1, 0, 1, 1])


# ---------------------------------------------------------------- shapes, names, errors
def test_lecture_shapes():
    tf = import_tf()
    # ML Zero to Hero 3 / Coursera W3: MaxPooling2D(2, 2) after Conv2D(64, (3, 3)) on 28x28
    layer = MaxPooling2D(2, 2)
    assert layer.ensure_built((None, 26, 26, 64)) == (None, 13, 13, 64)
    assert tf.keras.layers.MaxPooling2D(2, 2).compute_output_shape((None, 26, 26, 64)) == (
        None, 13, 13, 64)
    # the university course: MaxPool2D(pool_size=(2,2), strides=(2,2), padding='SAME')
    for side, out in ((28, 14), (7, 4)):
        x = np.ones((1, side, side, 3), "float32")
        y = MaxPool2D(pool_size=(2, 2), strides=(2, 2), padding="SAME")(x)
        assert y.shape == (1, out, out, 3)
        assert tuple(tf.keras.layers.MaxPool2D((2, 2), (2, 2), "SAME")(x).shape) == y.shape
    # LeNet-5 (Hands-On CV ch. 3): 2x2 average pooling halves 28x28 feature maps
    assert AveragePooling2D().ensure_built((None, 28, 28, 6)) == (None, 14, 14, 6)
    assert GlobalAveragePooling2D().ensure_built((None, 5, 5, 16)) == (None, 16)
    assert GlobalMaxPooling2D(keepdims=True).ensure_built((None, 5, 5, 16)) == (None, 1, 1, 16)


def test_keras_names_defaults_and_positional_order():
    tf = import_tf()

    def norm(value):   # Keras keeps tuples as lists after a config round trip, and 'SAME'
        return tuple(value) if isinstance(value, (list, tuple)) else value.lower()

    assert MaxPool2D is MaxPooling2D and AvgPool2D is AveragePooling2D
    for ours, theirs in ((MaxPooling2D, tf.keras.layers.MaxPooling2D),
                         (AveragePooling2D, tf.keras.layers.AveragePooling2D)):
        for args in ((), (3,), ((3, 2), 1), (2, (1, 2), "SAME"), (2, None, "same", None)):
            # Keras 3 made AveragePooling2D's pool_size required; Keras 2 (the courses'
            # tf.keras) defaulted it to (2, 2), as MaxPooling2D still does: we keep that.
            a, b = ours(*args).get_config(), theirs(*(args or ((2, 2),))).get_config()
            for key in ("pool_size", "strides", "padding", "data_format"):
                assert norm(a[key]) == norm(b[key]), (ours.__name__, args, key)
    assert MaxPooling2D().name.startswith("max_pooling2d")
    assert GlobalAveragePooling2D().name.startswith("global_average_pooling2d")
    assert GlobalMaxPooling2D().get_config()["keepdims"] is False


def test_empty_valid_output_is_a_clear_error():
    tf = import_tf()
    with pytest.raises(ValueError, match=r"max_pooling2d.*\(None, 2, 2, 1\).*empty"):
        MaxPooling2D(3).ensure_built((None, 2, 2, 1))
    with pytest.raises(ValueError):   # Keras rejects it too
        tf.keras.layers.MaxPooling2D(3).compute_output_shape((None, 2, 2, 1))
    with pytest.raises(ValueError):
        tf.keras.Sequential([tf.keras.Input((2, 2, 1)), tf.keras.layers.MaxPooling2D(3)])
    # sizes unknown at build time: the error comes at call time, with the real shape
    layer = AveragePooling2D((1, 3))
    layer.ensure_built((None, None, None, 1))
    with pytest.raises(ValueError, match=r"average_pooling2d.*\(2, 4, 2, 1\)"):
        layer.forward(np.zeros((2, 4, 2, 1), "float32"))
    assert MaxPooling2D(3, padding="same")(np.zeros((1, 2, 2, 1))).shape == (1, 1, 1, 1)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="channels_last"):
        MaxPooling2D(data_format="channels_first")
    with pytest.raises(ValueError, match="data_format"):
        GlobalAveragePooling2D(data_format="nhwc")
    assert MaxPooling2D(data_format="Channels_Last").data_format == "channels_last"
    with pytest.raises(ValueError, match="padding"):
        AveragePooling2D(padding="full")
    with pytest.raises(ValueError, match="pool_size"):
        MaxPooling2D(0)
    with pytest.raises(ValueError, match="strides"):
        MaxPooling2D(2, (1, 2, 3))
    with pytest.raises(ValueError, match="rank 4"):
        MaxPooling2D()(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="rank 4"):
        GlobalMaxPooling2D().ensure_built((None, 8, 3))
    layer = MaxPooling2D(dtype="float64")
    _, cache = layer.forward(np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match="dL/dy"):
        layer.backward(np.zeros((1, 3, 3, 2)), cache)
    assert layer.backward(np.ones((1, 2, 2, 2)), cache, need_input_grad=False) is None


@pytest.mark.parametrize("dtype", DTYPES)
def test_integer_input_is_cast_and_dtype_kept(dtype):
    for layer in (MaxPooling2D(dtype=dtype), AveragePooling2D(dtype=dtype),
                  GlobalAveragePooling2D(dtype=dtype), GlobalMaxPooling2D(dtype=dtype)):
        x = np.arange(32).reshape(2, 4, 4, 1)
        y = layer(x)
        assert y.dtype == np.dtype(dtype)
        _, cache = layer.forward(x.astype(dtype))
        assert layer.backward(np.ones_like(y), cache).dtype == np.dtype(dtype)

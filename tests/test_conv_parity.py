"""Conv2D vs TensorFlow: forward, dL/dx, dL/dkernel, dL/dbias with identical weights.

Hypothesis draws batch (1-4), height and width (1-16, odd and even), kernel (1-5, also larger
than the input with 'same'), strides 1-3 with both paddings, dilation 1-3 (with stride 1),
1-4 input channels, 1-8 filters, use_bias and dtype; activation is linear or relu. The same
kernel and bias go into scratchnet's Conv2D and `keras.layers.Conv2D` (set_weights), and a
random upstream gradient dL/dy is pushed back through both with `tf.GradientTape`.
Configurations Keras rejects ('valid' with a kernel larger than the input) must be rejected
by scratchnet too, with a ValueError that names the layer and the shapes.

float64 cases use normal random numbers: both sides then agree to ~1e-15, far inside 1e-9.
float32 cases use small multiples of 1/8 and 1/16 (ReLU's kink at exactly 0 included). With
random normal float32 data a dL/dkernel entry is a sum of up to 4*16*16 = 1024 products, and
when those cancel to a small result (-6.5e-4 out of terms summing to ~20) TensorFlow's and
any other summation order differ by ~1e-6 absolute, i.e. by more than 1e-4 of the tiny
result: both sides are within ~1e-6 of max|dL/dkernel| of the float64 truth (measured: ours
1.3e-6, TensorFlow's 7e-7), but neither equals the other to 1e-4 relative. On the 1/8-grid
every product and sum is exact in float32, so the comparison checks what parity is about
(which inputs meet which weights, padding, strides, dilation, activation) exactly, and the
float64 cases check the arithmetic.
"""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

from scratchnet import backend
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.padding import output_length
from tf_support import import_tf, keras_layer_grads
from parity_log import check

DTYPES = ("float32", "float64")
ACTIVATIONS = (None, "relu")

# ---------------------------------------------------------------- cases
@st.composite
def conv_geometry(draw):
    """(batch, H, W, C, F, kernel, strides, dilation, padding), not yet checked for emptiness."""
    batch = draw(st.integers(1, 4))
    height, width = draw(st.integers(1, 16)), draw(st.integers(1, 16))
    channels, filters = draw(st.integers(1, 4)), draw(st.integers(1, 8))
    kernel = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    padding = draw(st.sampled_from(("valid", "same", "VALID", "SAME")))
    if draw(st.booleans()):
        strides, dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3))), (1, 1)
    else:
        strides, dilation = (1, 1), (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return batch, height, width, channels, filters, kernel, strides, dilation, padding


def out_size(geometry):
    _, height, width, _, _, kernel, strides, dilation, padding = geometry
    return tuple(output_length(n, k, s, padding.lower(), d)
                 for n, k, s, d in zip((height, width), kernel, strides, dilation))


@st.composite
def conv_cases(draw, dtype, activation):
    geometry = draw(conv_geometry())
    assume(min(out_size(geometry)) > 0)
    batch, height, width, channels, filters, kernel, strides, dilation, padding = geometry
    use_bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from((0.125, 1.0, 4.0)))
    x_shape = (batch, height, width, channels)
    w_shape = kernel + (channels, filters)
    dy_shape = (batch,) + out_size(geometry) + (filters,)
    zero_bias = draw(st.booleans())
    if dtype == "float64":
        x = rng.standard_normal(x_shape) * scale
        weights = rng.standard_normal(w_shape) / np.sqrt(kernel[0] * kernel[1] * channels)
        bias = np.zeros(filters) if zero_bias else rng.standard_normal(filters)
        dy = rng.standard_normal(dy_shape)
    else:
        # float32: multiples of 1/8 and 1/16 (see the module docstring): every product and
        # every sum below is exact in float32, whatever order the terms are added in.
        x = rng.integers(-8, 9, x_shape) / 8 * scale
        weights = rng.integers(-8, 9, w_shape) / 16
        bias = np.zeros(filters) if zero_bias else rng.integers(-8, 9, filters) / 8
        dy = rng.integers(-8, 9, dy_shape) / 8
    return dict(dtype=dtype, filters=filters, kernel_size=kernel, strides=strides,
                dilation_rate=dilation, padding=padding, activation=activation,
                use_bias=use_bias, x=x.astype(dtype), kernel=weights.astype(dtype),
                bias=bias.astype(dtype), dy=dy.astype(dtype))


def layer_kwargs(case):
    return {k: case[k] for k in ("filters", "kernel_size", "strides", "padding", "dilation_rate",
                                 "activation", "use_bias", "dtype")}


def keras_conv_grads(tf, keras, case):
    layer = keras.layers.Conv2D(**layer_kwargs(case))
    layer.build((None,) + case["x"].shape[1:])
    return keras_layer_grads(tf, layer, case)


# ---------------------------------------------------------------- parity
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(data=st.data())
def test_conv2d_matches_keras(activation, dtype, data):
    tf = import_tf()
    import keras

    case = data.draw(conv_cases(dtype, activation))
    layer = Conv2D(**layer_kwargs(case))
    y = layer(case["x"])
    assert layer.kernel.shape == case["kernel"].shape
    layer.set_weights([case["kernel"], case["bias"]] if case["use_bias"] else [case["kernel"]])
    y, cache = layer.forward(case["x"], training=True)
    dx = layer.backward(case["dy"], cache, need_input_grad=True)

    y_tf, grads_tf = keras_conv_grads(tf, keras, case)
    area = f"Conv2D({case['activation'] or 'None'})"
    check(y, y_tf, dtype, "forward", area)
    check(dx, grads_tf[0], dtype, "dL/dx", area)
    check(layer.grads[0], grads_tf[1], dtype, "dL/dkernel", area)
    if case["use_bias"]:
        check(layer.grads[1], grads_tf[2], dtype, "dL/dbias", area)
    assert len(layer.grads) == len(layer.trainable_weights)

    # Skipping dL/dx (the first layer of a model) gives the same weight gradients.
    _, cache = layer.forward(case["x"], training=True)
    layer.zero_grads()
    assert layer.backward(case["dy"], cache, need_input_grad=False) is None
    check(layer.grads[0], grads_tf[1], dtype, "dL/dkernel without dL/dx", area)


@given(geometry=conv_geometry())
def test_empty_valid_output_is_rejected_like_keras(geometry):
    import_tf()
    import keras

    geometry = geometry[:-1] + ("valid",)
    assume(min(out_size(geometry)) <= 0)
    batch, height, width, channels, filters, kernel, strides, dilation, padding = geometry
    kwargs = dict(filters=filters, kernel_size=kernel, strides=strides, dilation_rate=dilation,
                  padding=padding)
    shape = (None, height, width, channels)
    with pytest.raises(ValueError):
        keras.layers.Conv2D(**kwargs).build(shape)

    layer = Conv2D(**kwargs, name="too_small")
    with pytest.raises(ValueError, match=r"'too_small'.*\(None, %d, %d, %d\).*kernel_size"
                       % (height, width, channels)):
        layer.ensure_built(shape)
    # Unknown spatial size at build time: the same error when the call reveals it.
    late = Conv2D(**kwargs, name="too_small_late")
    late.ensure_built((None, None, None, channels))
    with pytest.raises(ValueError, match=r"'too_small_late'.*\(%d, %d, %d, %d\)"
                       % (batch, height, width, channels)):
        late(np.zeros((batch, height, width, channels)))


# ---------------------------------------------------------------- lecture facts, API
def test_lecture_same_conv_on_one_image():
    """University course: Conv2D(3, 3, 1, 'SAME') on a 28x28 gray image."""
    layer = Conv2D(3, 3, 1, "SAME")
    y = layer(np.random.default_rng(0).random((1, 28, 28, 1)))
    assert y.shape == (1, 28, 28, 3) and y.dtype == np.float32
    assert layer.get_weights()[0].shape == (3, 3, 1, 3)
    assert layer.get_weights()[1].shape == (3,)


def test_coursera_conv_shape_and_params():
    """Coursera C1 W3: Conv2D(64, (3,3), activation='relu', input_shape=(28, 28, 1))."""
    from scratchnet.models.sequential import Sequential

    layer = Conv2D(64, (3, 3), activation="relu", input_shape=(28, 28, 1))
    model = Sequential([layer])
    assert model.output_shape == (None, 26, 26, 64)
    assert layer.output_shape == (None, 26, 26, 64)
    assert layer.count_params() == 640
    assert layer.kernel.shape == (3, 3, 1, 64)


def test_unknown_spatial_size_builds_and_runs():
    layer = Conv2D(2, 3, padding="same")
    assert layer.ensure_built((None, None, None, 3)) == (None, None, None, 2)
    assert layer(np.ones((2, 5, 7, 3))).shape == (2, 5, 7, 2)
    assert layer(np.ones((1, 4, 4, 3))).shape == (1, 4, 4, 2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_floatx_and_dtype(dtype):
    backend.set_floatx(dtype)
    layer = Conv2D(2, 2)
    y = layer(np.arange(2 * 4 * 4 * 3).reshape(2, 4, 4, 3))  # ints are cast, as in Keras
    assert y.dtype == np.dtype(dtype) and layer.kernel.dtype == np.dtype(dtype)
    assert y.shape == (2, 3, 3, 2)


def test_rejections_match_keras():
    import_tf()
    import keras

    with pytest.raises(ValueError, match="strides > 1 together with dilation_rate > 1"):
        Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError):
        keras.layers.Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="channels_last"):
        Conv2D(2, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="padding"):
        Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="filters"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="groups"):
        Conv2D(2, 3, groups=2)
    with pytest.raises(ValueError, match=r"\(batch, height, width, channels\)"):
        Conv2D(2, 3).ensure_built((None, 28, 28))
    layer = Conv2D(2, 3)
    layer(np.zeros((1, 5, 5, 3), np.float32))
    with pytest.raises(ValueError, match="incompatible"):
        layer(np.zeros((1, 5, 5, 2), np.float32))


def test_keras_positional_order_and_config():
    layer = Conv2D(4, (3, 2), (2, 1), "Same", None, (1, 1), 1, "relu", False)
    assert (layer.filters, layer.kernel_size, layer.strides) == (4, (3, 2), (2, 1))
    assert layer.padding == "same"
    assert layer.activation.name == "relu" and layer.use_bias is False
    config = layer.get_config()
    assert config["kernel_size"] == (3, 2) and config["activation"] == "relu"
    layer(np.ones((1, 5, 5, 1), np.float32))
    assert [w.shape for w in layer.weights] == [(3, 2, 1, 4)]

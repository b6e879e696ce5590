"""Dense and Flatten vs TensorFlow: forward, dL/dx, dL/dW, dL/db with identical weights.

Hypothesis draws units, input features, batch (1 included), activation, use_bias and dtype;
inputs are rank 2 (batch, features) or rank 3 (batch, steps, features), which Keras's Dense
maps on the last axis. The same kernel and bias go into scratchnet's Dense and into
`keras.layers.Dense` (set_weights); a random upstream gradient dL/dy is pushed back through
both (`tf.GradientTape(...).gradient(y, [x, kernel, bias], output_gradients=dy)`).
"""

import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchnet.layers import Dense, Flatten
from tf_support import import_tf, keras_layer_grads
from parity_log import check

DTYPES = ("float32", "float64")
ACTIVATIONS = (None, "linear", "relu", "sigmoid", "tanh", "softmax")

# ---------------------------------------------------------------- cases
@st.composite
def dense_cases(draw, dtype, activation):
    units = draw(st.integers(1, 12))
    features = draw(st.integers(1, 12))
    batch = draw(st.sampled_from((1, 2, 3, 5, 8)))
    steps = draw(st.one_of(st.none(), st.integers(1, 4)))  # None: rank 2; else rank 3
    use_bias = draw(st.booleans())
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (batch, features) if steps is None else (batch, steps, features)
    # float32 tanh: TF's (Eigen's) float32 tanh is up to 5 ulp off, and tanh' = 1 - y^2
    # magnifies that by 1 / (1 - y^2) once the unit saturates; with |x| ~ 4 the resulting
    # dL/dW drifts past rtol 1e-4 although both sides are right to float32 precision. So
    # float32 tanh keeps to inputs where the derivative is well conditioned.
    saturating = dtype == "float32" and activation == "tanh"
    scales = (0.1, 1.0) if saturating else (0.1, 1.0, 4.0)
    x = rng.standard_normal(shape) * draw(st.sampled_from(scales))
    if draw(st.booleans()):
        x.reshape(-1, features)[0] = 0.0  # an all-zero row: z = b exactly, relu's kink at 0
    kernel = rng.standard_normal((features, units)) / np.sqrt(features)
    bias = rng.standard_normal(units) if draw(st.booleans()) else np.zeros(units)
    out_shape = shape[:-1] + (units,)
    dy = rng.standard_normal(out_shape)
    return dict(dtype=dtype, units=units, activation=activation, use_bias=use_bias,
                x=x.astype(dtype), kernel=kernel.astype(dtype), bias=bias.astype(dtype),
                dy=dy.astype(dtype))


def keras_dense_grads(tf, keras, case):
    dtype = case["dtype"]
    layer = keras.layers.Dense(case["units"], activation=case["activation"],
                               use_bias=case["use_bias"], dtype=dtype)
    layer.build((None,) + case["x"].shape[1:])
    return keras_layer_grads(tf, layer, case)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@given(data=st.data())
def test_dense_matches_keras(activation, dtype, data):
    tf = import_tf()
    import keras

    case = data.draw(dense_cases(dtype, activation))
    dtype = case["dtype"]
    layer = Dense(case["units"], activation=case["activation"], use_bias=case["use_bias"],
                  dtype=dtype)
    y = layer(case["x"])
    assert [w.shape for w in layer.trainable_weights] == (
        [case["kernel"].shape, case["bias"].shape] if case["use_bias"] else [case["kernel"].shape])
    layer.set_weights([case["kernel"], case["bias"]] if case["use_bias"] else [case["kernel"]])
    y, cache = layer.forward(case["x"], training=True)
    dx = layer.backward(case["dy"], cache, need_input_grad=True)

    y_tf, grads_tf = keras_dense_grads(tf, keras, case)
    area = f"Dense({case['activation'] or 'None'}) rank {case['x'].ndim}"
    check(y, y_tf, dtype, "forward", area)
    check(dx, grads_tf[0], dtype, "dL/dx", area)
    check(layer.grads[0], grads_tf[1], dtype, "dL/dW", area)
    if case["use_bias"]:
        check(layer.grads[1], grads_tf[2], dtype, "dL/db", area)
    assert len(layer.grads) == len(layer.trainable_weights)

    # Skipping dL/dx (the first layer of a model) gives the same weight gradients.
    _, cache = layer.forward(case["x"], training=True)
    layer.zero_grads()
    assert layer.backward(case["dy"], cache, need_input_grad=False) is None
    check(layer.grads[0], grads_tf[1], dtype, "dL/dW without dL/dx", area)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_call_casts_to_its_dtype_and_builds_like_keras(dtype):
    layer = Dense(3, dtype=dtype)
    y = layer(np.arange(8).reshape(2, 4))  # integer input is cast, as Keras casts it
    assert y.dtype == np.dtype(dtype) and y.shape == (2, 3)
    assert layer.kernel.shape == (4, 3) and layer.bias.shape == (3,)
    assert layer.input_shape == (None, 4) and layer.output_shape == (None, 3)
    assert layer.count_params() == 15
    rank3 = Dense(2, dtype=dtype)
    assert rank3(np.ones((2, 5, 4))).shape == (2, 5, 2)
    assert rank3.output_shape == (None, 5, 2)


# ---------------------------------------------------------------- Flatten
@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4), seed=st.integers(0, 2**16))
def test_flatten_matches_keras(dtype, shape, seed):
    tf = import_tf()
    import keras

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rng.integers(1, 4), *shape)).astype(dtype)
    layer = Flatten()
    assert layer(x).shape == (x.shape[0], int(np.prod(shape)))
    y, cache = layer.forward(x)
    expected_shape = (x.shape[0], int(np.prod(shape)))
    assert y.shape == expected_shape and layer.output_shape == (None, expected_shape[1])
    dy = rng.standard_normal(expected_shape).astype(dtype)
    dx = layer.backward(dy, cache)
    assert dx.shape == x.shape

    y_tf, dx_tf = None, None
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = keras.layers.Flatten(dtype=dtype)(xt)
    dx_tf = tape.gradient(out, xt, output_gradients=tf.constant(dy)).numpy()
    y_tf = out.numpy()
    check(y, y_tf, dtype, "Flatten forward", "Flatten")
    check(dx, dx_tf, dtype, "Flatten dL/dx", "Flatten")
    assert layer.trainable_weights == [] and layer.count_params() == 0

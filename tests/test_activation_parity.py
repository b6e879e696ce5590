"""Activations vs TensorFlow: forward values and dL/dx, as functions and as layers.

Every activation (linear, relu, sigmoid, tanh, softmax) is run on Hypothesis-drawn arrays
(batch 1-5, 1-3 trailing axes, values up to |x| = 50 with exact zeros and the ReLU bounds
among them) in float32 and float64, and compared with `keras.activations.*` / `tf.nn.*`
differentiated by `tf.GradientTape` against a random upstream gradient dL/dy.
The layers Activation, ReLU (with and without max_value) and Softmax are compared with
their `keras.layers` twins the same way.

Run with `-s` to see the largest relative errors per dtype (see `check`).
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from scratchnet import activations, layers
from tf_support import import_tf
from parity_log import check

# Keras warns about a softmax over an axis of size 1; drawing such shapes is deliberate.
pytestmark = pytest.mark.filterwarnings("ignore:You are using a softmax over axis")

DTYPES = ("float32", "float64")
NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax")
TF_NN = {"relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh", "softmax": "softmax"}

# ---------------------------------------------------------------- strategies
SPECIALS = (0.0, -0.0, 50.0, -50.0, 1.0, -1.0, 0.5, 6.0, 1e-30, -1e-30)


@st.composite
def inputs(draw, dtype, extra_specials=()):
    """(x, dy): x with 1-3 trailing axes, |x| <= 50, zeros and specials likely; dy ~ N(0, 1)."""
    batch = draw(st.integers(1, 5))
    trailing = draw(st.lists(st.integers(1, 5), min_size=1, max_size=3))
    width = 32 if dtype == "float32" else 64
    elements = st.one_of(
        # No subnormals: TensorFlow's CPU kernels flush them to zero (relu'(5e-324) is 0
        # there), a hardware mode scratchnet does not imitate.
        st.floats(-50, 50, width=width, allow_subnormal=False),
        st.floats(-4, 4, width=width, allow_subnormal=False),
        st.sampled_from(SPECIALS + tuple(extra_specials)),
    )
    x = draw(hnp.arrays(dtype, (batch, *trailing), elements=elements))
    seed = draw(st.integers(0, 2**32 - 1))
    dy = np.random.default_rng(seed).standard_normal(x.shape).astype(dtype)
    return x, dy


def tf_value_and_grad(tf, fn, x, dy):
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
    dx = tape.gradient(y, xt, output_gradients=tf.constant(dy))
    return y.numpy(), (np.zeros_like(x) if dx is None else dx.numpy())


# ---------------------------------------------------------------- activation functions
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_activation_function_matches_keras(name, dtype, data):
    tf = import_tf()
    import keras

    x, dy = data.draw(inputs(dtype))
    f = activations.get(name)
    y = f(x)
    dx = f.backward(x, y, dy)

    y_tf, dx_tf = tf_value_and_grad(tf, keras.activations.get(name), x, dy)
    check(y, y_tf, dtype, f"{name} forward", f"activation {name}")
    check(dx, dx_tf, dtype, f"{name} dL/dx", f"activation {name}")

    if name in TF_NN:  # the tf.nn spelling used in lecture code gives the same numbers
        y_nn, dx_nn = tf_value_and_grad(tf, getattr(tf.nn, TF_NN[name]), x, dy)
        check(y, y_nn, dtype, f"tf.nn.{name} forward", f"activation {name}")
        check(dx, dx_nn, dtype, f"tf.nn.{name} dL/dx", f"activation {name}")


@pytest.mark.parametrize("name", NAMES)
def test_activation_resolves_from_tf_nn_callable_and_name(name):
    """`activation=tf.nn.relu` pasted from a lecture resolves to the same scratchnet object."""
    f = activations.get(name)
    assert activations.get(name.upper()) is f
    assert activations.serialize(f) == name
    if name in TF_NN:
        from scratchnet import nn

        assert activations.get(getattr(nn, name)) is f
        tf = import_tf()
        assert activations.get(getattr(tf.nn, TF_NN[name])) is f


def test_activation_none_is_linear():
    assert activations.get(None) is activations.linear


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_extremes_match_keras(dtype):
    """Rows with huge spreads, equal entries and a single class: no NaN, same numbers."""
    tf = import_tf()
    import keras

    x = np.array([[50.0, -50.0, 0.0], [0.0, 0.0, 0.0], [-50.0, -50.0, -49.0], [1e-30, 0, 3]],
                 dtype=dtype)
    dy = np.array([[1.0, -2.0, 0.5], [0.3, 0.1, -0.4], [2.0, 0.0, -1.0], [0, 1, 0]], dtype=dtype)
    for xs, dys in ((x, dy), (x[:, :1], dy[:, :1])):
        y = activations.softmax(xs)
        dx = activations.softmax.backward(xs, y, dys)
        y_tf, dx_tf = tf_value_and_grad(tf, keras.activations.softmax, xs, dys)
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx))
        check(y, y_tf, dtype, "softmax extremes forward", "activation softmax")
        check(dx, dx_tf, dtype, "softmax extremes dL/dx", "activation softmax")


# ---------------------------------------------------------------- layers
def _layer_pair(keras, kind, dtype, arg):
    if kind == "Activation":
        return layers.Activation(arg, dtype=dtype), keras.layers.Activation(arg, dtype=dtype)
    if kind == "ReLU":
        return (layers.ReLU(max_value=arg, dtype=dtype),
                keras.layers.ReLU(max_value=arg, dtype=dtype))
    return layers.Softmax(dtype=dtype), keras.layers.Softmax(dtype=dtype)


LAYER_CASES = ([("Activation", n) for n in NAMES]
               + [("ReLU", m) for m in (None, 6.0, 1.0, 0.5, 0.0, 20)]
               + [("Softmax", None)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,arg", LAYER_CASES,
                         ids=[f"{k}-{a}" for k, a in LAYER_CASES])
@given(data=st.data())
def test_activation_layer_matches_keras(kind, arg, dtype, data):
    tf = import_tf()
    import keras

    extra = (float(arg), -float(arg)) if kind == "ReLU" and arg is not None else ()
    x, dy = data.draw(inputs(dtype, extra_specials=extra))
    ours, theirs = _layer_pair(keras, kind, dtype, arg)
    ours(x)                                  # builds the layer
    y, cache = ours.forward(x)
    dx = ours.backward(dy, cache)
    y_tf, dx_tf = tf_value_and_grad(tf, theirs, x, dy)
    area = f"layer {kind}" + (f"({arg})" if kind != "Softmax" else "")
    check(y, y_tf, dtype, f"{area} forward", area)
    check(dx, dx_tf, dtype, f"{area} dL/dx", area)
    assert ours.trainable_weights == [] and ours.grads == []


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("max_value", [6.0, 6, 3.0, 0.5])
def test_relu_gradient_at_max_value_matches_keras(max_value, dtype):
    """Keras uses Relu6 for max_value == 6 (gradient 0 at 6) but relu + clip otherwise
    (gradient 1 at x == max_value): the boundary is where the two rules differ."""
    tf = import_tf()
    import keras

    x = np.array([[-1.0, 0.0, max_value / 2, max_value, max_value + 1]], dtype=dtype)
    dy = np.array([[1.0, 2.0, 3.0, 4.0, 5.0]], dtype=dtype)
    ours = layers.ReLU(max_value=max_value, dtype=dtype)
    y, cache = ours.forward(x)
    dx = ours.backward(dy, cache)
    y_tf, dx_tf = tf_value_and_grad(tf, keras.layers.ReLU(max_value=max_value, dtype=dtype), x, dy)
    check(y, y_tf, dtype, "ReLU boundary forward", f"layer ReLU({max_value})")
    check(dx, dx_tf, dtype, "ReLU boundary dL/dx", f"layer ReLU({max_value})")

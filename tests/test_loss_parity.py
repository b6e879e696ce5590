"""Losses vs TensorFlow: per-sample values, batch-mean values and dL/dy_pred.

Every loss (mse, binary, categorical, sparse categorical crossentropy) is compared with
`keras.losses.<function>` (per-sample values) and with the `keras.losses.<Class>` batch mean
(value, and its gradient w.r.t. y_pred by `tf.GradientTape`), on Hypothesis-drawn batches
(1-8 samples, 1-10 classes, 2+ for categorical/sparse) in float32 and float64:

* from probabilities, with values exactly at / beyond Keras's clip bounds [1e-7, 1 - 1e-7]
  (and 0 and 1 themselves) so the clipping and its gradient mask are exercised; categorical
  gets rows that do not sum to 1 (Keras renormalizes them). The inputs are plain eager
  tensors, which carry no `_keras_logits`, so TF takes the probability path as we do.
* from logits (`from_logits=True`), |z| up to 50.
* the fused path a compiled model takes: Dense(softmax) + (sparse) categorical crossentropy and
  Dense(sigmoid) + binary crossentropy, where scratchnet differentiates the loss w.r.t. the
  logits (`forward_backward_from_logits` + `Dense.backward_from_logits`); TF's Dense output
  carries `_keras_logits`, so Keras does the same, and we compare the loss, dL/dx, dL/dW, dL/db.

The Keras loss classes compute in `keras.backend.floatx()` unless given `dtype=`, so every
class here is built with the dtype under test.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from scratchnet import losses
from scratchnet.layers import Dense
from tf_support import import_tf
from parity_log import check

DTYPES = ("float32", "float64")
EPS = 1e-7
KINDS = ("mse", "binary", "categorical", "sparse")
OURS = {"mse": losses.MeanSquaredError, "binary": losses.BinaryCrossentropy,
        "categorical": losses.CategoricalCrossentropy,
        "sparse": losses.SparseCategoricalCrossentropy}
OUR_FUNCTIONS = {"mse": losses.mean_squared_error, "binary": losses.binary_crossentropy,
                 "categorical": losses.categorical_crossentropy,
                 "sparse": losses.sparse_categorical_crossentropy}
KERAS_NAMES = {"mse": ("MeanSquaredError", "mean_squared_error"),
               "binary": ("BinaryCrossentropy", "binary_crossentropy"),
               "categorical": ("CategoricalCrossentropy", "categorical_crossentropy"),
               "sparse": ("SparseCategoricalCrossentropy", "sparse_categorical_crossentropy")}

# ---------------------------------------------------------------- strategies
def _near_bounds(dtype):
    """Probabilities at and around the clip bounds (as the dtype rounds them)."""
    f = np.dtype(dtype).type
    eps = f(EPS)
    one = f(1)
    return tuple(float(v) for v in (0.0, 1.0, eps, one - eps, eps / 2, eps * 3, f(1e-9),
                                    np.nextafter(one, f(0)), np.nextafter(one - eps, f(0)),
                                    np.nextafter(one - eps, one), 0.5, f(0.01), f(0.99)))


@st.composite
def shapes(draw, kind):
    n = draw(st.integers(1, 8))
    k = draw(st.integers(2 if kind in ("categorical", "sparse") else 1, 10))
    return n, k


@st.composite
def probabilities(draw, shape, dtype, unnormalized=False):
    width = 32 if dtype == "float32" else 64
    top = 3.0 if unnormalized else 1.0
    elements = st.one_of(st.floats(0, top, width=width, allow_subnormal=False),
                         st.sampled_from(_near_bounds(dtype)))
    p = draw(hnp.arrays(dtype, shape, elements=elements))
    if unnormalized:
        empty = p.sum(axis=-1) == 0
        p[empty, 0] = 0.5  # a row of zeros has no normalization (NaN in Keras too)
    return p


@st.composite
def logits(draw, shape, dtype):
    width = 32 if dtype == "float32" else 64
    elements = st.one_of(st.floats(-50, 50, width=width, allow_subnormal=False),
                         st.floats(-5, 5, width=width, allow_subnormal=False),
                         st.sampled_from((0.0, 50.0, -50.0)))
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def targets(draw, kind, shape, dtype, rows_sum_to_one=False):
    """y_true for `kind`: labels (n,) or (n, 1) for sparse, else an array of `shape`."""
    n, k = shape
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "sparse":
        labels = rng.integers(0, k, n)
        return labels.reshape(n, 1) if draw(st.booleans()) else labels
    style = draw(st.sampled_from(("hard", "soft")))
    if kind == "mse":
        return rng.standard_normal(shape).astype(dtype)
    if kind == "binary":
        t = rng.integers(0, 2, shape) if style == "hard" else rng.uniform(0, 1, shape)
        return t.astype(dtype)
    if style == "hard":
        return np.eye(k, dtype=dtype)[rng.integers(0, k, n)]
    t = rng.uniform(0, 1, shape)
    if rows_sum_to_one:
        t /= t.sum(axis=-1, keepdims=True)
    return t.astype(dtype)


# ---------------------------------------------------------------- TF side
def keras_class(kind, dtype, from_logits=False):
    import keras

    cls = getattr(keras.losses, KERAS_NAMES[kind][0])
    return cls(dtype=dtype) if kind == "mse" else cls(from_logits=from_logits, dtype=dtype)


def keras_function(kind, y_true, y_pred, from_logits=False):
    import keras

    fn = getattr(keras.losses, KERAS_NAMES[kind][1])
    if kind == "mse":
        return fn(y_true, y_pred).numpy()
    return fn(y_true, y_pred, from_logits=from_logits).numpy()


def tf_mean_and_grad(tf, kind, y_true, y_pred, dtype, from_logits=False):
    yp = tf.constant(y_pred)
    with tf.GradientTape() as tape:
        tape.watch(yp)
        value = keras_class(kind, dtype, from_logits)(tf.constant(y_true), yp)
    return value.numpy(), tape.gradient(value, yp).numpy()


def ours_all(kind, y_true, y_pred, from_logits=False):
    """(per-sample values by the function, batch mean by the class, dL/dy_pred)."""
    loss = OURS[kind]() if kind == "mse" else OURS[kind](from_logits=from_logits)
    per_sample_fn = (OUR_FUNCTIONS[kind](y_true, y_pred) if kind == "mse"
                     else OUR_FUNCTIONS[kind](y_true, y_pred, from_logits=from_logits))
    mean = loss(y_true, y_pred)
    prepared = loss.prepare_targets(y_true, y_pred.shape, y_pred.dtype)
    per_sample, grad = loss.forward_backward(prepared, y_pred)
    assert grad.shape == y_pred.shape and grad.dtype == y_pred.dtype
    assert per_sample.dtype == y_pred.dtype
    return per_sample_fn, mean, grad


def compare(tf, kind, y_true, y_pred, dtype, from_logits, area):
    per_sample, mean, grad = ours_all(kind, y_true, y_pred, from_logits)
    per_sample_tf = keras_function(kind, y_true, y_pred, from_logits)
    mean_tf, grad_tf = tf_mean_and_grad(tf, kind, y_true, y_pred, dtype, from_logits)
    check(per_sample, per_sample_tf, dtype, f"{area}: per-sample values", area)
    check(mean, mean_tf, dtype, f"{area}: batch mean", area)
    check(grad, grad_tf, dtype, f"{area}: dL/dy_pred", area)
    assert np.all(np.isfinite(grad))


# ---------------------------------------------------------------- from probabilities
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@given(data=st.data())
def test_loss_from_probabilities_matches_keras(kind, dtype, data):
    tf = import_tf()
    shape = data.draw(shapes(kind))
    if kind == "mse":
        width = 32 if dtype == "float32" else 64
        y_pred = data.draw(hnp.arrays(dtype, shape, elements=st.floats(
            -50, 50, width=width, allow_subnormal=False)))
    else:
        y_pred = data.draw(probabilities(shape, dtype, unnormalized=(kind == "categorical")))
    y_true = data.draw(targets(kind, shape, dtype))
    compare(tf, kind, y_true, y_pred, dtype, False, f"{kind} (probabilities)")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ("binary", "categorical", "sparse"))
def test_loss_at_exact_clip_bounds_matches_keras(kind, dtype):
    """Predictions of exactly 0, eps, 1 - eps and 1, where clip's gradient switches off."""
    tf = import_tf()
    f = np.dtype(dtype).type
    eps, one = f(EPS), f(1)
    y_pred = np.array([[0, 1, 0.5], [eps, one - eps, 0.25], [eps / 2, np.nextafter(one, f(0)), 1],
                       [0, 0, 1]], dtype=dtype)
    if kind == "sparse":
        y_true = np.array([0, 1, 2, 0])
    elif kind == "categorical":
        y_true = np.array([[1, 0, 0], [0.2, 0.5, 0.3], [0, 0, 1], [1, 0, 0]], dtype=dtype)
    else:
        y_true = np.array([[1, 0, 1], [0, 1, 0.5], [1, 1, 0], [0.3, 1, 0]], dtype=dtype)
    compare(tf, kind, y_true, y_pred, dtype, False, f"{kind} (probabilities)")


# ---------------------------------------------------------------- from logits
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ("binary", "categorical", "sparse"))
@given(data=st.data())
def test_loss_from_logits_matches_keras(kind, dtype, data):
    tf = import_tf()
    shape = data.draw(shapes(kind))
    z = data.draw(logits(shape, dtype))
    # Label rows sum to 1 for categorical: see test_categorical_logits_unnormalized_labels.
    y_true = data.draw(targets(kind, shape, dtype, rows_sum_to_one=True))
    compare(tf, kind, y_true, z, dtype, True, f"{kind} (logits)")


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_logits_unnormalized_labels(dtype):
    """Multi-hot label rows (not summing to 1): TF's SoftmaxCrossEntropyWithLogits gradient is
    softmax(z) - t there, not the true derivative softmax(z) * sum(t) - t; we follow TF."""
    tf = import_tf()
    z = np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]], dtype=dtype)
    t = np.array([[1.0, 1.0, 0.0], [0.5, 0.0, 0.0]], dtype=dtype)
    compare(tf, "categorical", t, z, dtype, True, "categorical (logits, multi-hot)")


# ---------------------------------------------------------------- the fused path
FUSED = (("sparse", "softmax"), ("categorical", "softmax"), ("binary", "sigmoid"))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind,activation", FUSED, ids=[f"{k}+{a}" for k, a in FUSED])
@given(data=st.data())
def test_fused_dense_output_and_crossentropy_match_keras(kind, activation, dtype, data):
    tf = import_tf()
    import keras

    n, k = data.draw(shapes(kind))
    features = data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    scale = data.draw(st.sampled_from((0.5, 3.0, 20.0)))  # 20: saturated outputs, clip territory
    x = (rng.standard_normal((n, features)) * scale).astype(dtype)
    kernel = rng.standard_normal((features, k)).astype(dtype)
    bias = rng.standard_normal(k).astype(dtype)
    y_true = data.draw(targets(kind, (n, k), dtype, rows_sum_to_one=True))

    ours = Dense(k, activation=activation, dtype=dtype)
    ours(x)
    ours.set_weights([kernel, bias])
    loss = OURS[kind]()
    assert loss.logits_kind == ours.activation.logits_loss_kind  # what makes a model fuse
    y_pred, cache = ours.forward(x, training=True)
    prepared = loss.prepare_targets(y_true, y_pred.shape, y_pred.dtype)
    per_sample, dz = loss.forward_backward_from_logits(prepared, ours.logits(cache))
    ours.zero_grads()
    dx = ours.backward_from_logits(dz, cache, need_input_grad=True)

    theirs = keras.layers.Dense(k, activation=activation, dtype=dtype)
    theirs.build((None, features))
    theirs.set_weights([kernel, bias])
    xt = tf.constant(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's "softmax over an axis of size 1" notice
        with tf.GradientTape() as tape:
            tape.watch(xt)
            out = theirs(xt)
            # The output of Keras's softmax/sigmoid carries `_keras_logits`: Keras's loss
            # uses them, just as a compiled model would.
            assert hasattr(out, "_keras_logits")
            value = keras_class(kind, dtype)(tf.constant(y_true), out)
    dx_tf, dw_tf, db_tf = tape.gradient(value, [xt, theirs.kernel, theirs.bias])

    # The same numbers as TF's own from_logits loss on the same logits.
    z = ours.logits(cache)
    value_logits, dz_tf = tf_mean_and_grad(tf, kind, y_true, z, dtype, from_logits=True)
    area = f"fused {activation}+{kind}"
    check(y_pred, out.numpy(), dtype, f"{area}: output", area)
    check(per_sample.mean(), value.numpy(), dtype, f"{area}: loss", area)
    check(per_sample.mean(), value_logits, dtype, f"{area}: loss from logits", area)
    check(dz, dz_tf, dtype, f"{area}: dL/dz", area)
    check(dx, dx_tf.numpy(), dtype, f"{area}: dL/dx", area)
    check(ours.grads[0], dw_tf.numpy(), dtype, f"{area}: dL/dW", area)
    check(ours.grads[1], db_tf.numpy(), dtype, f"{area}: dL/db", area)


# ---------------------------------------------------------------- names and lookups
@pytest.mark.parametrize("kind", KINDS)
def test_loss_names_resolve_like_keras(kind):
    cls_name, fn_name = KERAS_NAMES[kind]
    assert isinstance(losses.get(fn_name), OURS[kind])
    assert losses.get(fn_name).name == fn_name
    assert isinstance(losses.get(cls_name), OURS[kind])
    assert isinstance(losses.get(OUR_FUNCTIONS[kind]), OURS[kind])
    assert isinstance(losses.get(OURS[kind]), OURS[kind])
    assert losses.get("mse").name == "mse"

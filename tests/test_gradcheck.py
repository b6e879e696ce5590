"""Finite-difference gradient checks, float64, no TensorFlow needed.

Every backward rule is checked against central differences of its own forward:

    dL/dw  ~  (L(w + h) - L(w - h)) / (2 h)      for every entry w of an input or weight

for every layer (Dense with each activation, Activation, ReLU, Softmax, Flatten; inputs and
weights), every loss (probability and logits forms), the fused Dense(softmax/sigmoid) +
crossentropy path, and a whole small Sequential's loss w.r.t. all its weights, through the
model's own `_forward` / `_loss_and_output_grad` / `_backward` (what `train_step` runs).

Points where the finite difference means nothing are avoided: ReLU inputs (and relu units'
pre-activations) are kept away from 0 and from max_value, probabilities stay inside
(0.01, 0.99), far from the clip bounds 1e-7 / 1 - 1e-7.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from scratchnet import backend, losses
from scratchnet.layers import Activation, Dense, Flatten, ReLU, Softmax
from scratchnet.models import Sequential

# Central differences are a numerical method with their own error, unrelated to TF parity
# (tests/tolerances.py): truncation ~ h^2 |f'''| / 6 ~ 1e-12 and rounding ~ eps |f| / h
# ~ 1e-10 |f| for h = 1e-6 in float64. So the difference quotient agrees with the analytic
# gradient to ~1e-9 at best, not to the 1e-9 *relative* that parity demands for tiny
# entries; these bounds leave ~100x headroom over that error and still catch any wrong
# formula (a wrong rule is off by O(1) relative).
FD_STEP = 1e-6
FD_RTOL = 1e-6
FD_ATOL = 1e-8

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(autouse=True)
def _float64():
    backend.set_floatx("float64")  # conftest restores floatx afterwards


def numeric_grad(f, array, h=FD_STEP):
    """Central differences of the scalar f() w.r.t. every entry of `array` (edited in place)."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        keep = array[index]
        array[index] = keep + h
        plus = f()
        array[index] = keep - h
        minus = f()
        array[index] = keep
        grad[index] = (plus - minus) / (2 * h)
    return grad


def assert_grad(analytic, numeric, what):
    assert analytic.shape == numeric.shape, f"{what}: shape {analytic.shape} != {numeric.shape}"
    np.testing.assert_allclose(analytic, numeric, rtol=FD_RTOL, atol=FD_ATOL, err_msg=what)


def check_layer(layer, x, rng):
    """dL/dx and dL/dweights of L = sum(layer(x) * dy) against central differences."""
    y = layer(x)
    dy = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(layer.forward(x, training=True)[0] * dy))

    _, cache = layer.forward(x, training=True)
    layer.zero_grads()
    dx = layer.backward(dy, cache, need_input_grad=True)
    analytic = [g.copy() for g in layer.grads]
    assert_grad(dx, numeric_grad(loss, x), f"{layer.name}: dL/dx")
    for i, w in enumerate(layer.trainable_weights):
        assert_grad(analytic[i], numeric_grad(loss, w), f"{layer.name}: dL/dweight[{i}]")


# ---------------------------------------------------------------- layers
def _away_from(values, points, gap=1e-3):
    """True when no entry is within `gap` of any of `points` (kinks of relu)."""
    return all(np.min(np.abs(values - p)) > gap for p in points) if values.size else True


@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh", "softmax"])
@given(units=st.integers(1, 5), features=st.integers(1, 5), batch=st.integers(1, 4),
       rank3=st.booleans(), use_bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_dense_gradients(activation, units, features, batch, rank3, use_bias, seed):
    rng = np.random.default_rng(seed)
    shape = (batch, 2, features) if rank3 else (batch, features)
    while True:
        layer = Dense(units, activation=activation, use_bias=use_bias)
        x = rng.standard_normal(shape)
        layer(x)
        if use_bias:
            layer.bias[...] = rng.standard_normal(units)
        _, cache = layer.forward(x)
        if activation != "relu" or _away_from(layer.logits(cache), [0.0]):
            break
    check_layer(layer, x, rng)


@pytest.mark.parametrize("name", ["linear", "relu", "sigmoid", "tanh", "softmax"])
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_activation_layer_gradients(name, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-4, 4, shape)
    if name == "relu":
        x = np.where(np.abs(x) < 0.01, 0.5, x)
    check_layer(Activation(name), x, rng)


@pytest.mark.parametrize("max_value", [None, 6.0, 1.0])
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_relu_layer_gradients(max_value, shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-8, 8, shape)
    kinks = [0.0] + ([max_value] if max_value is not None else [])
    for kink in kinks:
        x = np.where(np.abs(x - kink) < 0.01, kink + 0.5, x)
    check_layer(ReLU(max_value=max_value), x, rng)


@given(shape=st.lists(st.integers(1, 5), min_size=2, max_size=3), seed=st.integers(0, 2**32 - 1))
def test_softmax_layer_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    check_layer(Softmax(), rng.standard_normal(shape) * 3, rng)


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_flatten_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    check_layer(Flatten(), rng.standard_normal(shape), rng)


# ---------------------------------------------------------------- losses
def _targets(kind, n, k, rng):
    if kind == "mse":
        return rng.standard_normal((n, k))
    if kind == "binary":
        return rng.uniform(0, 1, (n, k))
    if kind == "categorical":
        return rng.uniform(0, 1, (n, k))  # soft, rows not summing to 1: the general formula
    return rng.integers(0, k, n)


LOSS_CASES = [("mse", False), ("binary", False), ("categorical", False), ("sparse", False),
              ("binary", True), ("categorical", True), ("sparse", True)]
LOSS_CLASSES = {"mse": losses.MeanSquaredError, "binary": losses.BinaryCrossentropy,
                "categorical": losses.CategoricalCrossentropy,
                "sparse": losses.SparseCategoricalCrossentropy}


@pytest.mark.parametrize("kind,from_logits", LOSS_CASES,
                         ids=[f"{k}-{'logits' if f else 'probs'}" for k, f in LOSS_CASES])
@given(n=st.integers(1, 6), k=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_loss_gradients(kind, from_logits, n, k, seed):
    if kind in ("categorical", "sparse"):
        k = max(k, 2)
    rng = np.random.default_rng(seed)
    loss = LOSS_CLASSES[kind]() if kind == "mse" else LOSS_CLASSES[kind](from_logits=from_logits)
    if from_logits or kind == "mse":
        y_pred = rng.standard_normal((n, k)) * 3
    else:
        y_pred = rng.uniform(0.01, 0.99, (n, k))  # un-normalized rows for categorical
    y_true = _targets(kind, n, k, rng)
    if kind == "categorical" and from_logits:
        y_true /= y_true.sum(axis=-1, keepdims=True)  # see test_loss_parity: TF's convention
    targets = loss.prepare_targets(y_true, y_pred.shape, y_pred.dtype)

    def value():
        return float(loss.forward_backward(targets, y_pred)[0].mean())

    _, grad = loss.forward_backward(targets, y_pred)
    assert_grad(grad, numeric_grad(value, y_pred), f"{kind} dL/dy_pred")
    assert loss(y_true, y_pred) == pytest.approx(value(), rel=1e-15, abs=0)


@pytest.mark.parametrize("kind", ["binary", "categorical", "sparse"])
@given(n=st.integers(1, 6), k=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_fused_logits_gradient_equals_probability_path(kind, n, k, seed):
    """With no clipping in play, differentiating through the activation (probability path)
    and the fused logits shortcut are the same derivative."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, k)) * 2
    y_true = _targets(kind, n, k, rng)
    if kind == "categorical":
        y_true = np.eye(k)[rng.integers(0, k, n)]
    act = Activation("sigmoid" if kind == "binary" else "softmax")
    p, cache = act.forward(z)
    loss = LOSS_CLASSES[kind]()
    targets = loss.prepare_targets(y_true, p.shape, p.dtype)
    values_p, dp = loss.forward_backward(targets, p)
    dz_via_probabilities = act.backward(dp, cache)
    values_z, dz_fused = loss.forward_backward_from_logits(targets, z)
    np.testing.assert_allclose(values_z, values_p, rtol=FD_RTOL, atol=FD_ATOL)
    assert_grad(dz_fused, dz_via_probabilities, f"{kind}: fused vs probability path")


# ---------------------------------------------------------------- whole models
MODEL_CASES = {
    "mse-linear": (["tanh", "relu"], None, "mse"),
    "bce-sigmoid": (["sigmoid"], "sigmoid", "binary_crossentropy"),
    "cce-softmax": (["relu", "tanh"], "softmax", "categorical_crossentropy"),
    "scce-softmax": (["tanh"], "softmax", "sparse_categorical_crossentropy"),
    "scce-softmax-layer": (["relu"], "softmax-layer", "sparse_categorical_crossentropy"),
    "mse-tanh": (["sigmoid"], "tanh", "mse"),
}


def _build_model(hidden, output, outputs, rng):
    layer_list = [Flatten(input_shape=(2, 3))]
    for activation in hidden:
        layer_list.append(Dense(4, activation=activation))
    if output == "softmax-layer":
        layer_list += [Dense(outputs), Softmax()]
    else:
        layer_list.append(Dense(outputs, activation=output))
    model = Sequential(layer_list)
    for layer in model.layers:
        if getattr(layer, "bias", None) is not None:
            layer.bias[...] = rng.standard_normal(layer.bias.shape) * 0.1
    return model


@pytest.mark.parametrize("case", list(MODEL_CASES))
@given(n=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_sequential_loss_gradients_wrt_all_weights(case, n, seed):
    hidden, output, loss_name = MODEL_CASES[case]
    rng = np.random.default_rng(seed)
    outputs = 1 if loss_name == "binary_crossentropy" else 3
    while True:  # keep every relu unit's pre-activation away from its kink
        model = _build_model(hidden, output, outputs, rng)
        x = rng.standard_normal((n, 2, 3))
        h, ok = x, True
        for layer in model.layers:
            h, cache = layer.forward(h, training=True)
            if isinstance(layer, Dense) and layer.activation.name == "relu":
                ok = ok and _away_from(layer.logits(cache), [0.0])
        if ok:
            break
    model.compile(optimizer="sgd", loss=loss_name)
    if loss_name == "sparse_categorical_crossentropy":
        y = rng.integers(0, outputs, n)
    elif loss_name == "categorical_crossentropy":
        y = np.eye(outputs)[rng.integers(0, outputs, n)]
    elif loss_name == "binary_crossentropy":
        y = rng.integers(0, 2, (n, outputs)).astype(float)
    else:
        y = rng.standard_normal((n, outputs))
    xs, _, targets = model._prepare_xy(x, y, "gradcheck")

    def value():
        return float(model._loss_and_grads(xs, targets)[0])

    _, analytic, fused = model._loss_and_grads(xs, targets)
    assert bool(fused) == (output in ("sigmoid", "softmax", "softmax-layer"))
    analytic = [g.copy() for g in analytic]
    weights = model.trainable_weights
    assert len(analytic) == len(weights) > 0
    for i, w in enumerate(weights):
        assert_grad(analytic[i], numeric_grad(value, w), f"{case}: dL/dweight[{i}] {w.shape}")
    # The model's evaluate reports the same loss (batch mean) the gradients are taken of.
    assert model.evaluate(x, y, verbose=0) == pytest.approx(value(), rel=1e-12)

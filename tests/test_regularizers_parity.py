"""Regularizers, constraints, sample/class weights and the *_on_batch methods, against tf.keras.

Each case builds both models from ONE function `build(K)` called with `scratchnet.keras` and
`tf.keras`, copies the weights, trains both for a few steps with the same data
(`shuffle=False`) and compares the weights, the History, `evaluate` and `model.losses`.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import constraints, regularizers
import parity_log
from tf_support import import_tf

tf = import_tf()
from reference import floatx_scope  # noqa: E402  (needs TF)

DTYPES = ("float32", "float64")


def assert_close(actual, expected, dtype, what, area="regularizers"):
    """Assert (tests/tolerances.py) and log the error under `area` (parity_log)."""
    parity_log.check(np.asarray(actual, np.float64).tolist(), np.asarray(expected, np.float64),
                     np.dtype(dtype).name, what, area)


def twins(build, dtype, compile_args):
    with floatx_scope(dtype):
        ours, theirs = build(sn.keras), build(tf.keras)
        theirs.set_weights(ours.get_weights())
        ours.compile(**compile_args(sn.keras))
        theirs.compile(**compile_args(tf.keras), jit_compile=False)
    return ours, theirs


def fit_both(ours, theirs, dtype, x, y, area="regularizers fit", **kwargs):
    with floatx_scope(dtype):
        h1 = ours.fit(x, y, shuffle=False, verbose=0, **kwargs)
        h2 = theirs.fit(x, y, shuffle=False, verbose=0, **kwargs)
    assert set(h1.history) == set(h2.history)
    for key in h2.history:
        assert_close(h1.history[key], h2.history[key], dtype, f"History {key}", area)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, dtype, "weights after fit", area)
    return h1, h2


def data(n, features, classes, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features))
    y = rng.integers(0, classes, size=n)
    return x, y


def sgd(K):
    return {"optimizer": K.optimizers.SGD(0.1), "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"]}


# ---- the regularizers themselves -------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("L1", {}), ("L2", {}), ("L1L2", {}),
                                         ("L1", {"l1": 0.3}), ("L2", {"l2": 0.07}),
                                         ("L1L2", {"l1": 0.02, "l2": 0.05})])
@pytest.mark.parametrize("dtype", DTYPES)
def test_penalty_and_gradient_match_keras(name, kwargs, dtype):
    rng = np.random.default_rng(1)
    w = rng.normal(size=(5, 4)).astype(dtype)
    w[0, 0] = 0.0                          # |w| at 0: TF's gradient is sign(0) = 0
    ours = getattr(regularizers, name)(**kwargs)
    theirs = getattr(tf.keras.regularizers, name)(**kwargs)
    wt = tf.Variable(w)
    with tf.GradientTape() as tape:
        penalty = theirs(wt)
    assert_close(ours(w), penalty.numpy(), dtype, "penalty")
    grad = tape.gradient(penalty, wt)
    expected = np.zeros_like(w) if grad is None else grad.numpy()
    assert_close(ours.gradient(w), expected, dtype, "gradient")


def test_string_identifiers_resolve_as_keras():
    for name in ("l1", "l2", "l1l2", "L1", "L2", "L1L2"):
        ours, theirs = regularizers.get(name), tf.keras.regularizers.get(name)
        assert type(ours).__name__ == type(theirs).__name__
        # (Keras keeps L1's coefficient as a float32 tensor: its config shows 0.00999999977)
        assert {k: np.float32(v) for k, v in ours.get_config().items()} == {
            k: np.float32(v) for k, v in theirs.get_config().items()}
    # Keras 3 dropped tf.keras 2's 'l1_l2' string (l1 = l2 = 0.01): lecture code keeps it
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}
    with pytest.raises(ValueError, match="unknown regularizer 'l3'"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="l2"):
        regularizers.L2(-1.0)
    with pytest.raises(TypeError, match="kernel_regularizer"):
        sn.keras.layers.Dense(3, kernel_regularizer=lambda w: 0.0)


# ---- k-step fit with regularizers on Dense / Conv2D ------------------------------------------
def _dense_model(kernel, bias, activity):
    def build(K):
        return K.Sequential([
            K.Input((6,)),
            K.layers.Dense(8, activation="relu", kernel_regularizer=kernel(K),
                           bias_regularizer=bias(K), activity_regularizer=activity(K)),
            K.layers.Dense(3, activation="softmax", kernel_regularizer=kernel(K)),
        ])
    return build


@settings(max_examples=12, deadline=None)
@given(kind=st.sampled_from(["l1", "l2", "l1_l2"]), c1=st.floats(1e-3, 0.1),
       c2=st.floats(1e-3, 0.1), use_bias_reg=st.booleans(), use_activity=st.booleans(),
       dtype=st.sampled_from(DTYPES), batch=st.sampled_from([4, 7, 32]))
def test_dense_regularized_fit_matches_keras(kind, c1, c2, use_bias_reg, use_activity, dtype,
                                             batch):
    def reg(K):
        return {"l1": K.regularizers.l1(c1), "l2": K.regularizers.l2(c2),
                "l1_l2": K.regularizers.l1_l2(l1=c1, l2=c2)}[kind]
    build = _dense_model(reg, (lambda K: K.regularizers.l2(c2)) if use_bias_reg
                         else (lambda K: None),
                         (lambda K: K.regularizers.l1(c1)) if use_activity else (lambda K: None))
    ours, theirs = twins(build, dtype, sgd)
    x, y = data(30, 6, 3)
    fit_both(ours, theirs, dtype, x, y, epochs=3, batch_size=batch, validation_split=0.2)
    with floatx_scope(dtype):
        assert_close(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), dtype,
                     "evaluate")
    # model.losses: the weight penalties (Keras lists activity penalties of the last call too)
    ours_weight = sum(float(v) for v in ours.losses[len(ours.losses) - _weights(ours):])
    theirs_weight = sum(float(v) for v in theirs.losses[len(theirs.losses) - _weights(ours):])
    assert_close(ours_weight, theirs_weight, dtype, "model.losses")


def _weights(model):
    return sum(len(layer._regularizers) for layer in model.layers)


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv_regularized_fit_matches_keras(dtype):
    def build(K):
        return K.Sequential([
            K.Input((8, 8, 2)),
            K.layers.Conv2D(4, 3, activation="relu", kernel_regularizer=K.regularizers.l2(0.01),
                            bias_regularizer="l1"),
            K.layers.MaxPooling2D(),
            K.layers.Conv2D(3, 2, padding="same", activity_regularizer=K.regularizers.l2(1e-3)),
            K.layers.Flatten(),
            K.layers.Dense(2, activation="softmax",
                           kernel_regularizer=K.regularizers.L1L2(0.01, 0.02)),
        ])
    ours, theirs = twins(build, dtype, sgd)
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(20, 8, 8, 2)), rng.integers(0, 2, 20)
    fit_both(ours, theirs, dtype, x, y, epochs=2, batch_size=8)


@pytest.mark.parametrize("dtype", DTYPES)
def test_activity_regularizer_on_an_output_and_in_functional_and_subclassed_models(dtype):
    def build(K):
        inputs = K.Input((5,))
        hidden = K.layers.Dense(6, activation="tanh", activity_regularizer="l2")(inputs)
        branch = K.layers.Dense(6, activity_regularizer=K.regularizers.l1(0.02))(inputs)
        merged = K.layers.Add()([hidden, branch])
        out = K.layers.Dense(3, activation="softmax",
                             activity_regularizer=K.regularizers.l2(0.05))(merged)
        return K.Model(inputs, out)
    ours, theirs = twins(build, dtype, sgd)
    x, y = data(24, 5, 3, seed=4)
    fit_both(ours, theirs, dtype, x, y, epochs=2, batch_size=10)

    def build_subclassed(K):
        class Net(K.Model):
            def __init__(self):
                super().__init__()
                self.a = K.layers.Dense(6, activation="relu",
                                        activity_regularizer=K.regularizers.l2(0.01))
                self.b = K.layers.Dense(3, activation="softmax", kernel_regularizer="l1")

            def call(self, inputs):
                return self.b(self.a(inputs))
        model = Net()
        model(np.zeros((1, 5), K.backend.floatx()))
        return model
    ours, theirs = twins(build_subclassed, dtype, sgd)
    fit_both(ours, theirs, dtype, x, y, epochs=2, batch_size=10)


def test_frozen_layer_has_no_penalty():
    def build(K):
        return K.Sequential([K.Input((4,)), K.layers.Dense(3, kernel_regularizer="l2"),
                             K.layers.Dense(2, kernel_regularizer="l2")])
    ours, theirs = twins(build, "float64", lambda K: {"optimizer": "sgd", "loss": "mse"})
    for model in (ours, theirs):
        model.layers[0].trainable = False
    assert len(ours.losses) == len(theirs.losses) == 1
    assert_close(float(ours.losses[0]), float(theirs.losses[0]), "float64", "penalty")


# ---- constraints ------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("MaxNorm", {"max_value": 0.5}),
                                         ("MaxNorm", {"max_value": 2, "axis": [0, 1, 2]}),
                                         ("UnitNorm", {}), ("NonNeg", {}),
                                         ("MinMaxNorm", {"min_value": 0.2, "max_value": 0.6,
                                                         "rate": 0.5})])
@pytest.mark.parametrize("dtype", DTYPES)
def test_constraints_match_keras(name, kwargs, dtype):
    w = np.random.default_rng(5).normal(size=(3, 3, 2, 4)).astype(dtype)
    if "axis" not in kwargs and name != "NonNeg":
        w = w.reshape(18, 4)
    ours = getattr(constraints, name)(**kwargs)
    theirs = getattr(tf.keras.constraints, name)(**kwargs)
    assert_close(ours(w), np.asarray(theirs(tf.constant(w))), dtype, name, "constraints")


@pytest.mark.parametrize("dtype", DTYPES)
def test_constrained_fit_matches_keras(dtype):
    def build(K):
        return K.Sequential([
            K.Input((6, 6, 1)),
            K.layers.Conv2D(3, 3, kernel_constraint=K.constraints.max_norm(0.3, axis=[0, 1, 2]),
                            bias_constraint=K.constraints.NonNeg()),
            K.layers.Flatten(),
            K.layers.Dense(3, activation="softmax", kernel_constraint="unit_norm"),
        ])
    ours, theirs = twins(build, dtype, sgd)
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(16, 6, 6, 1)) * 3, rng.integers(0, 3, 16)
    fit_both(ours, theirs, dtype, x, y, epochs=2, batch_size=5, area="constraints fit")
    kernel = ours.layers[0].kernel
    assert np.sqrt((kernel.astype(np.float64) ** 2).sum(axis=(0, 1, 2))).max() <= 0.3 + 1e-6


# ---- sample_weight / class_weight -----------------------------------------------------------
def _mlp(K):
    return K.Sequential([K.Input((6,)), K.layers.Dense(8, activation="relu"),
                         K.layers.Dense(3, activation="softmax")])


@settings(max_examples=10, deadline=None)
@given(dtype=st.sampled_from(DTYPES), batch=st.sampled_from([3, 8, 32]),
       loss=st.sampled_from(["sparse_categorical_crossentropy", "categorical_crossentropy",
                             "mse"]),
       seed=st.integers(0, 100))
def test_sample_weight_fit_and_evaluate_match_keras(dtype, batch, loss, seed):
    x, y = data(25, 6, 3, seed)
    if loss != "sparse_categorical_crossentropy":
        y = np.eye(3)[y]
    w = np.random.default_rng(seed).uniform(0, 3, size=25)

    def compile_args(K):
        return {"optimizer": K.optimizers.Adam(0.01), "loss": loss,
                "metrics": ["accuracy", "mae"] if loss == "mse" else ["accuracy"]}
    ours, theirs = twins(_mlp, dtype, compile_args)
    fit_both(ours, theirs, dtype, x, y, epochs=2, batch_size=batch, sample_weight=w,
             validation_data=(x[:9], y[:9], w[:9]), area="sample_weight fit")
    with floatx_scope(dtype):
        a = ours.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
        b = theirs.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert set(a) == set(b)
    for key in b:
        assert_close(a[key], b[key], dtype, f"evaluate {key}", "sample_weight evaluate")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("one_hot", [False, True])
def test_class_weight_fit_matches_keras(dtype, one_hot):
    x, y = data(30, 6, 3, 9)
    if one_hot:
        y = np.eye(3)[y]
    loss = "categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy"

    def compile_args(K):
        return {"optimizer": K.optimizers.SGD(0.05), "loss": loss, "metrics": ["accuracy"]}
    ours, theirs = twins(_mlp, dtype, compile_args)
    fit_both(ours, theirs, dtype, x, y, epochs=2, batch_size=8,
             class_weight={0: 1.0, 1: 3.5, 2: 0.25}, validation_split=0.2,
             area="class_weight fit")


def test_sample_weight_errors_are_keras_messages():
    model = _mlp(sn.keras)
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = data(10, 6, 3)
    with pytest.raises(ValueError, match="cannot `class_weight` and `sample_weight`"):
        model.fit(x, y, sample_weight=np.ones(10), class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"one weight per sample, shape \(10,\)"):
        model.fit(x, y, sample_weight=np.ones(9), verbose=0)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        model.fit(x, y, class_weight=[1.0, 2.0, 3.0], verbose=0)


def test_zero_sample_weights_leave_the_weights_unchanged_by_the_loss():
    model = _mlp(sn.keras)
    model.compile(sn.keras.optimizers.SGD(0.5), "sparse_categorical_crossentropy")
    before = model.get_weights()
    x, y = data(12, 6, 3)
    history = model.fit(x, y, sample_weight=np.zeros(12), verbose=0, epochs=2)
    assert history.history["loss"] == [0.0, 0.0]
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- train_on_batch / test_on_batch / predict_on_batch ----------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_on_batch_methods_match_keras(dtype):
    x, y = data(24, 6, 3, 11)

    def compile_args(K):
        return {"optimizer": K.optimizers.Adam(0.01), "loss": "sparse_categorical_crossentropy",
                "metrics": ["accuracy"]}
    ours, theirs = twins(_mlp, dtype, compile_args)
    with floatx_scope(dtype):
        for model in (ours, theirs):
            model.results = []
            for start in (0, 8, 16):
                model.results.append(model.train_on_batch(x[start:start + 8], y[start:start + 8]))
            model.results.append(model.train_on_batch(x[:8], y[:8], sample_weight=np.arange(8.0),
                                                      return_dict=True))
            model.reset_metrics()
            model.results.append(model.train_on_batch(x[:5], y[:5],
                                                      class_weight={0: 2.0, 1: 0.5}))
            model.results.append(model.test_on_batch(x[8:20], y[8:20]))
            model.reset_metrics()
            model.results.append(model.test_on_batch(x[8:20], y[8:20], return_dict=True))
            model.results.append(model.predict_on_batch(x[:7]))
    for a, b in zip(ours.results, theirs.results):
        if isinstance(b, dict):
            assert set(a) == set(b)
            a, b = [a[k] for k in sorted(b)], [b[k] for k in sorted(b)]
        assert_close(a, b, dtype, "on_batch", "*_on_batch")
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        assert_close(a, b, dtype, "weights after train_on_batch", "*_on_batch")


@pytest.mark.parametrize("where", ["conv", "pool"])
def test_activity_regularizer_on_a_fusable_conv_pool_pair(where):
    """A Conv2D feeding a MaxPooling2D runs fused (the conv's output is never written):
    an activity regularizer on either layer needs that output, so the pair runs unfused, in
    training and in inference (the validation loss holds the penalty too)."""
    def build(K, reg=True):
        reg = K.regularizers.l2(0.01) if reg else None
        return K.Sequential([
            K.Input((8, 8, 2)),
            K.layers.Conv2D(3, 3, activation="relu",
                            activity_regularizer=reg if where == "conv" else None),
            K.layers.MaxPooling2D(activity_regularizer=reg if where == "pool" else None),
            K.layers.Flatten(),
            K.layers.Dense(2, activation="softmax"),
        ])
    plain = build(sn.keras, reg=False)._graph.plan   # without the regularizer: fused
    assert any(step.pool is not None for step in plain.steps_for(True))
    assert any(step.pool is not None for step in plain.steps_for(False))
    ours, theirs = twins(build, "float64", sgd)
    for training in (True, False):
        assert all(step.pool is None for step in ours._graph.plan.steps_for(training))
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(12, 8, 8, 2)), rng.integers(0, 2, 12)
    fit_both(ours, theirs, "float64", x, y, epochs=2, batch_size=6, validation_data=(x, y))


def test_a_regularizer_without_gradient_is_refused_at_construction():
    class OnlyPenalty(regularizers.Regularizer):
        def __call__(self, w):
            return 0.1 * (w * w).sum()

    with pytest.raises(TypeError, match="OnlyPenalty defines no gradient"):
        sn.keras.layers.Dense(2, kernel_regularizer=OnlyPenalty())

    class Both(OnlyPenalty):
        def gradient(self, w):
            return 0.2 * w

    layer = sn.keras.layers.Dense(2, kernel_regularizer=Both())
    layer(np.ones((1, 3), np.float32))
    assert float(layer.losses[0]) == pytest.approx(0.1 * float((layer.kernel ** 2).sum()))


def test_unknown_sample_weight_names_and_weighted_metrics_are_refused():
    inputs = sn.keras.Input((3,))
    model = sn.keras.Model(inputs, {"a": sn.keras.layers.Dense(1, name="a")(inputs),
                                    "b": sn.keras.layers.Dense(1, name="b")(inputs)})
    model.compile("sgd", "mse")
    x, y = np.ones((4, 3)), {"a": np.ones(4), "b": np.ones(4)}
    with pytest.raises(ValueError, match=r"sample_weight names \['aa'\]"):
        model.evaluate(x, y, sample_weight={"aa": np.zeros(4)}, verbose=0)
    with pytest.raises(ValueError, match="weighted_metrics"):
        model.compile("sgd", "mse", weighted_metrics=["mae"])


def test_learning_rate_reads_and_assigns_as_lecture_code_does():
    for K in (sn.keras, tf.keras):
        opt = K.optimizers.Adam(0.01)
        lr = opt.learning_rate
        assert float(lr) == float(np.float32(0.01)) and lr.numpy().dtype == np.float32
        opt.learning_rate.assign(0.5)
        assert float(opt.learning_rate) == 0.5
        assert float(K.backend.get_value(opt.learning_rate)) == 0.5
    # tf.keras 2's K.set_value(model.optimizer.lr, x) (Keras 3's legacy set_value fails on
    # its own learning-rate variable: 'str' object has no attribute 'name')
    sgd = sn.keras.optimizers.SGD(0.1)
    sn.keras.backend.set_value(sgd.lr, 0.25)
    assert float(sgd.learning_rate) == 0.25


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_model_weight_paths_are_keras_variable_paths(kind):
    def build(K):
        layers = [K.layers.Dense(4, name="hidden"), K.layers.BatchNormalization(name="bn"),
                  K.layers.Dense(2, name="out")]
        if kind == "sequential":
            return K.Sequential([K.Input((3,))] + layers, name="net")
        x = inputs = K.Input((3,))
        for layer in layers:
            x = layer(x)
        return K.Model(inputs, x, name="net")
    ours, theirs = build(sn.keras), build(tf.keras)
    assert ours.weight_paths == [v.path for v in theirs.weights]

"""Gradient clipping (`clipnorm`, `clipvalue`, `global_clipnorm`) on every optimizer, against
tf.keras.

* The clipping functions themselves against TensorFlow's (`tf.clip_by_norm`, which Keras's
  TensorFlow backend uses for clipnorm; Keras's own `clip_by_global_norm`; `ops.clip`), on
  drawn gradients including zero, tiny and non-finite ones.
* `optimizer.apply` with each clip option on each optimizer: Hypothesis draws variables,
  gradients (large enough that clipping happens: asserted), a clip value and k steps; the same
  steps go to a tf.keras twin built from our `get_config()`.
* fit: model and optimizer built by ONE function `build(K, ...)` from `scratchnet.keras` and
  `keras`, weights copied, k steps of fit on data whose gradients are far above the clip
  value (asserted on scratchnet's first-batch gradients), weights and History compared.
* The Keras error for more than one clip option, and clear errors for bad clip values.
"""
import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import parity_log
import scratchnet as sn
from scratchnet.optimizers.optimizer import clip_by_global_norm, clip_by_norm, clip_by_value
from test_model_parity import check_fit_against_keras
from tf_support import import_tf

tf = import_tf()
import keras  # noqa: E402
from keras.src.optimizers.base_optimizer import \
    clip_by_global_norm as keras_clip_by_global_norm  # noqa: E402

from reference import floatx_scope  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

NAMES = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam"]
CLIPS = ["clipnorm", "clipvalue", "global_clipnorm"]
DTYPES = ["float32", "float64"]


def check(actual, expected, dtype, what, kind):
    parity_log.check(actual, expected, dtype, what, f"clipping {kind}")


# ---------------------------------------------------------------------------- the functions
@st.composite
def gradient_lists(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shapes = draw(st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5),
                           min_size=1, max_size=3))
    scale = draw(st.sampled_from([0.0, 1e-3, 1.0, 100.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    grads = [np.array(rng.standard_normal(s) * scale, dtype=dtype) for s in shapes]
    note(f"dtype={dtype} shapes={shapes} scale={scale} seed={seed}")
    return dtype, grads


@given(case=gradient_lists(), clip=st.sampled_from([0.5, 1.0, 3.0]) | st.floats(1e-3, 50.0))
def test_clip_functions_match_tensorflow(case, clip):
    dtype, grads = case
    for i, g in enumerate(grads):
        got = clip_by_norm(g, clip)
        assert got.dtype == g.dtype and got.shape == g.shape
        check(got, tf.clip_by_norm(tf.constant(g), clip).numpy(), dtype, f"clipnorm {i}",
              "functions")
        got = clip_by_value(g, clip)
        assert got.dtype == g.dtype
        np.testing.assert_array_equal(got, keras.ops.clip(tf.constant(g), -clip, clip).numpy())
    ours = clip_by_global_norm(grads, clip)
    theirs = keras_clip_by_global_norm([tf.constant(g) for g in grads], clip)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert a.dtype == np.dtype(dtype)
        check(a, b.numpy(), dtype, f"global_clipnorm {i}", "functions")


def test_clip_functions_edge_cases():
    g = np.array([3.0, 4.0])                              # norm 5
    np.testing.assert_array_equal(clip_by_norm(g, 1.0), tf.clip_by_norm(g, 1.0).numpy())
    # Below the clip the gradient is still multiplied by c / c (as in TF): bit for bit.
    small = np.array([0.1, 0.7, -0.3], np.float32)
    np.testing.assert_array_equal(clip_by_norm(small, 3.3),
                                  tf.clip_by_norm(tf.constant(small), 3.3).numpy())
    zero = np.zeros(3)
    np.testing.assert_array_equal(clip_by_norm(zero, 1.0), zero)
    np.testing.assert_array_equal(clip_by_global_norm([zero, zero[:1]], 1.0)[0], zero)
    # A non-finite global norm makes every gradient NaN (Keras), not just the bad one.
    bad = clip_by_global_norm([np.array([1.0, np.inf]), np.array([2.0])], 1.0)
    theirs = keras_clip_by_global_norm([tf.constant([1.0, np.inf]), tf.constant([2.0])], 1.0)
    assert all(np.isnan(b).all() for b in bad)
    assert all(np.isnan(t.numpy()).all() for t in theirs)
    assert np.isnan(clip_by_value(np.array([np.nan, 5.0]), 1.0)[0])


# ---------------------------------------------------------------------------- apply
def keras_twin(ours):
    return getattr(keras.optimizers, type(ours).__name__).from_config(ours.get_config())


@st.composite
def clip_problems(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shapes = draw(st.lists(st.sampled_from([(), (1,), (3,), (2, 3), (4, 1, 2)]),
                           min_size=1, max_size=3))
    steps = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    variables = [np.array(rng.standard_normal(s), dtype=dtype) for s in shapes]
    def big(shape):      # |g| >= 5 everywhere: above every clip value drawn below
        z = rng.standard_normal(shape)
        return np.array(z * 20.0 + np.where(z < 0, -5.0, 5.0), dtype=dtype)

    grads = [[big(s) for s in shapes] for _ in range(steps)]
    note(f"dtype={dtype} shapes={shapes} steps={steps} seed={seed}")
    return dtype, variables, grads


def clipping_happens(mode, clip, grads):
    """Whether `mode` at `clip` changes these gradients (beyond the c/c rounding)."""
    if mode == "clipnorm":
        return any(np.sqrt(np.sum(np.square(g, dtype=np.float64))) > clip for g in grads)
    if mode == "global_clipnorm":
        return np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads)) > clip
    return any(np.abs(g).max() > clip for g in grads)


@pytest.mark.parametrize("mode", CLIPS)
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_apply_with_clipping_matches_keras(name, mode, data):
    dtype, variables, grads = data.draw(clip_problems(), label="problem")
    clip = data.draw(st.sampled_from([0.5, 1.0]) | st.floats(0.05, 2.0), label=mode)
    assert all(clipping_happens(mode, clip, step) for step in grads)
    lr = 1.0 if name == "Adadelta" else 0.01
    kwargs = {"learning_rate": lr, mode: clip}
    if name == "SGD":
        kwargs["momentum"] = 0.9
    with floatx_scope(dtype):
        ours = getattr(sn.keras.optimizers, name)(**kwargs)
        theirs = keras_twin(ours)
        assert getattr(theirs, mode) == clip
        tf_vars = [tf.Variable(v.copy()) for v in variables]
        for step, step_grads in enumerate(grads):
            clipped = ours._clip_gradients(step_grads)      # (really changes them)
            assert any(not np.allclose(c, g, rtol=1e-3) for c, g in zip(clipped, step_grads))
            ours.apply([g.copy() for g in step_grads], variables)
            theirs.apply_gradients(zip([tf.constant(g) for g in step_grads], tf_vars))
            for i, (v, t) in enumerate(zip(variables, tf_vars)):
                check(v, t.numpy(), dtype, f"{name} {mode}={clip} step {step + 1} var {i}",
                      "apply")


def test_none_gradient_is_left_out_of_the_global_norm():
    g = [np.array([3.0, 4.0]), None, np.array([0.0])]
    w = [np.zeros(2), np.ones(1), np.zeros(1)]
    opt = sn.keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0)
    opt.apply(g, w)
    np.testing.assert_allclose(w[0], [-0.6, -0.8], rtol=1e-15)
    assert w[1][0] == 1.0
    tw = [tf.Variable(np.zeros(2)), tf.Variable(np.ones(1)), tf.Variable(np.zeros(1))]
    keras.optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0).apply(
        [tf.constant(g[0]), None, tf.constant(g[2])], tw)
    for a, b in zip(w, tw):
        np.testing.assert_array_equal(a, b.numpy())


def test_gradients_are_clipped_in_their_own_dtype_then_cast():
    """float64 gradients for float32 weights: clipped in float64, then cast (as Keras)."""
    g = np.array([1e-3, 2.0, -3.0])
    with floatx_scope("float32"):
        ours = sn.keras.optimizers.SGD(learning_rate=0.1, clipnorm=1.3)
        w = np.ones(3, np.float32)
        ours.apply([g], [w])
        tw = tf.Variable(np.ones(3, np.float32))
        keras.optimizers.SGD(learning_rate=0.1, clipnorm=1.3).apply([tf.constant(g)], [tw])
    np.testing.assert_array_equal(w, tw.numpy())
    assert g[1] == 2.0                                 # the caller's gradient is untouched


# ---------------------------------------------------------------------------- fit
def fit_data(dtype, n=20, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, 4)) * 3.0).astype(dtype)
    y = (rng.standard_normal((n, 2)) * 50.0).astype(dtype)    # mse gradients in the hundreds
    return x, y


def build(K, name, mode, clip):
    model = K.Sequential([K.Input(shape=(4,)), K.layers.Dense(5, activation="tanh"),
                          K.layers.Dense(2)])
    lr = {"SGD": 0.01, "RMSprop": 0.01, "Adagrad": 0.1, "Adadelta": 1.0, "Adam": 0.05}[name]
    kwargs = {"learning_rate": lr, mode: clip}
    if name == "SGD":
        kwargs.update(momentum=0.9, nesterov=True)
    model.compile(optimizer=getattr(K.optimizers, name)(**kwargs), loss="mse",
                  metrics=["mae"], jit_compile=False)
    return model


CLIP_VALUES = {"clipnorm": 1.0, "clipvalue": 0.1, "global_clipnorm": 2.0}


# Every optimizer with every clip option in float64; in float32 each optimizer with one.
@pytest.mark.parametrize("name, mode, dtype", (
    [(name, mode, "float64") for name in NAMES for mode in CLIPS]
    + [(name, CLIPS[i % 3], "float32") for i, name in enumerate(NAMES)]))
def test_fit_with_clipping_matches_keras(name, mode, dtype):
    clip = CLIP_VALUES[mode]
    x, y = fit_data(dtype)
    with floatx_scope(dtype):
        sn.utils.set_random_seed(3)
        model, twin = build(sn.keras, name, mode, clip), build(keras, name, mode, clip)
        twin.set_weights(model.get_weights())
        initial = model.get_weights()
        prepared, _, targets = model._prepare_xy(x, y, "test")
        _, grads, _ = model._loss_and_grads([p[:4] for p in prepared],
                                            [t[:4] for t in targets])
        assert clipping_happens(mode, clip, grads), "the data must make clipping happen"
        hs = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
        hk = twin.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
        check_fit_against_keras(check, model, twin, hs, hk, dtype, initial, x, y,
                                lambda: build(keras, name, mode, clip), 4, 2)


# ---------------------------------------------------------------------------- errors, config
@pytest.mark.parametrize("name", NAMES)
def test_only_one_clip_option_with_keras_error(name):
    for kwargs in ({"clipnorm": 1.0, "clipvalue": 0.5},
                   {"clipnorm": 0, "global_clipnorm": 2},            # (Keras counts `is not
                   {"clipvalue": 1.0, "global_clipnorm": 1.0, "clipnorm": 3.0}):  # None`)
        with pytest.raises(ValueError) as keras_error:
            getattr(keras.optimizers, name)(**kwargs)
        with pytest.raises(ValueError) as our_error:
            getattr(sn.keras.optimizers, name)(**kwargs)
        assert str(our_error.value) == str(keras_error.value)


def test_bad_clip_values_raise_clear_errors():
    O = sn.keras.optimizers
    with pytest.raises(TypeError, match=r"SGD: `clipnorm` must be a real number, got 'big'"):
        O.SGD(clipnorm="big")
    with pytest.raises(ValueError, match=r"Adam: `clipvalue` must be in \[0.0, inf\], got -1.0"):
        O.Adam(clipvalue=-1.0)
    with pytest.raises(ValueError, match=r"RMSprop: `global_clipnorm` must be finite"):
        O.RMSprop(global_clipnorm=float("inf"))
    with pytest.raises(TypeError, match=r"Adagrad: `clipnorm` must be a real number, got True"):
        O.Adagrad(clipnorm=True)


@pytest.mark.parametrize("name", NAMES)
def test_clip_config_round_trips_and_zero_means_off(name):
    cls = getattr(sn.keras.optimizers, name)
    opt = cls(clipvalue=0.25)
    config = opt.get_config()
    assert (config["clipnorm"], config["clipvalue"], config["global_clipnorm"]) == (None, 0.25,
                                                                                   None)
    assert cls.from_config(config).get_config() == config
    assert keras_twin(opt).get_config()["clipvalue"] == 0.25
    # clipnorm=0 is accepted and clips nothing (Keras: `if self.clipnorm and ...`).
    a, b = cls(clipnorm=0), cls()
    wa, wb = [np.ones(3, np.float32)], [np.ones(3, np.float32)]
    g = [np.full(3, 100.0, np.float32)]
    a.apply(g, wa)
    b.apply(g, wb)
    np.testing.assert_array_equal(wa[0], wb[0])

"""Learning-rate schedules and an assignable learning rate, against tf.keras.

* Values: Hypothesis draws a schedule (each of the five, with its options), its parameters and
  the dtype of its initial rate (a Python float, i.e. float32 in Keras, or a NumPy float32 /
  float64), and many steps (0, the boundaries and decay_steps and their neighbours, far past
  them). scratchnet's `schedule(step)` must equal the Keras schedule called eagerly, and
  `schedule.training_value(step)` the Keras schedule evaluated inside a tf.function on an int64
  variable, as `fit` does -- bit for bit, same dtype (see scratchnet/optimizers/schedules.py
  for why the two differ and why bit-exactness is what float64 parity needs).
* fit: the model, its optimizer and schedule are built by ONE function `build(K, ...)` from
  `scratchnet.keras` and from `keras`, weights copied, then k steps of fit (shuffle=False)
  with the schedule changing from step to step: weights and History within
  tests/tolerances.py. Every schedule on SGD and Adam, one on each other optimizer. float64
  runs use float32 schedules (a Python float initial rate) -- the case where getting Keras's
  float32 arithmetic wrong shows up as ~1e-8 errors.
* The learning rate read back (`float(opt.learning_rate)`) and assigned mid-training, directly
  and from a callback, the `variables` count, configs and serialization, and bad arguments.
"""
import math

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import parity_log
import scratchnet as sn
from test_model_parity import check_fit_against_keras
from tf_support import import_tf

tf = import_tf()
import keras  # noqa: E402

from reference import floatx_scope  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

SCHEDULES = ["ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay",
             "PolynomialDecay", "CosineDecay"]
RATE_KINDS = {"python": float, "float32": np.float32, "float64": np.float64}


def check(actual, expected, dtype, what, kind):
    parity_log.check(actual, expected, dtype, what, f"schedules {kind}")


# ---------------------------------------------------------------------------- drawing
def floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def schedule_specs(draw, name=None):
    """(name, kwargs with the rates as Python floats, rate kind, a step horizon)."""
    name = name or draw(st.sampled_from(SCHEDULES))
    kind = draw(st.sampled_from(sorted(RATE_KINDS)))
    lr = draw(st.sampled_from([0.1, 0.01, 1.0]) | floats(1e-4, 2.0))
    decay_steps = draw(st.integers(1, 60) | floats(0.5, 60.0))
    if name == "ExponentialDecay":
        rate = draw(st.sampled_from([0.96, 0.5]) | floats(0.05, 1.5))
        kw = dict(initial_learning_rate=lr, decay_steps=decay_steps, decay_rate=rate,
                  staircase=draw(st.booleans()))
        horizon = int(20 * decay_steps) + 1        # 0.05 ** 20: still a normal float32
    elif name == "InverseTimeDecay":
        kw = dict(initial_learning_rate=lr, decay_steps=decay_steps,
                  decay_rate=draw(st.sampled_from([0.5, 1.0]) | floats(0.0, 5.0)),
                  staircase=draw(st.booleans()))
        horizon = 10**5
    elif name == "PiecewiseConstantDecay":
        boundaries = sorted(draw(st.sets(st.integers(0, 300), min_size=1, max_size=4)))
        values = draw(st.lists(floats(1e-4, 2.0), min_size=len(boundaries) + 1,
                               max_size=len(boundaries) + 1))
        kw = dict(boundaries=boundaries, values=values)
        horizon = 400
    elif name == "PolynomialDecay":
        kw = dict(initial_learning_rate=lr, decay_steps=decay_steps,
                  end_learning_rate=draw(st.sampled_from([1e-4, 0.0]) | floats(0.0, 0.1)),
                  power=draw(st.sampled_from([1.0, 2.0, 3.0, 0.5, 0.0, -1.0])
                             | floats(0.1, 4.0)),
                  cycle=draw(st.booleans()))
        horizon = 10**4
    else:
        kw = dict(initial_learning_rate=lr, decay_steps=decay_steps,
                  alpha=draw(st.sampled_from([0.0, 0.1]) | floats(0.0, 1.0)))
        if draw(st.booleans()):
            kw.update(warmup_target=draw(floats(1e-3, 2.0)),
                      warmup_steps=draw(st.integers(0, 60)))
        horizon = 10**4
    return {"name": name, "kwargs": kw, "kind": kind, "horizon": horizon}


def make_schedule(K, spec):
    """The schedule of `spec` from library K, its rate(s) of the drawn kind."""
    kw = dict(spec["kwargs"])
    cast = RATE_KINDS[spec["kind"]]
    if "values" in kw:
        kw["values"] = [cast(v) for v in kw["values"]]
    else:
        kw["initial_learning_rate"] = cast(kw["initial_learning_rate"])
    return getattr(K.optimizers.schedules, spec["name"])(**kw)


def interesting_steps(spec, draw):
    kw = spec["kwargs"]
    marks = [0, 1, 2]
    for b in kw.get("boundaries", []):
        marks += [b - 1, b, b + 1]
    if "decay_steps" in kw:
        t = kw["decay_steps"]
        w = kw.get("warmup_steps", 0)
        for k in (1, 2, 3):
            marks += [math.floor(k * t) - 1, math.floor(k * t), math.ceil(k * t),
                      math.ceil(k * t) + 1, w + math.floor(k * t)]
        marks += [w - 1, w, w + 1]
    marks += draw(st.lists(st.integers(0, spec["horizon"]), min_size=20, max_size=40))
    return sorted({m for m in marks if 0 <= m <= spec["horizon"]})


def keras_graph_values(schedule, steps):
    """The Keras schedule inside a tf.function on an int64 variable, as fit evaluates it."""
    step = tf.Variable(0, dtype=tf.int64)
    fn = tf.function(lambda: schedule(step))
    out = []
    for s in steps:
        step.assign(s)
        out.append(fn().numpy())
    return np.array(out)


# ---------------------------------------------------------------------------- values
@given(data=st.data())
def test_schedule_values_match_keras_eager_and_in_graph(data):
    spec = data.draw(schedule_specs(), label="schedule")
    steps = interesting_steps(spec, data.draw)
    note(f"steps={steps}")
    ours, theirs = make_schedule(sn.keras, spec), make_schedule(keras, spec)
    eager = np.array([theirs(tf.constant(s, tf.int64)).numpy() for s in steps])
    graph = keras_graph_values(theirs, steps)
    mine_eager = np.array([ours(np.int64(s)) for s in steps])
    mine_graph = np.array([ours.training_value(np.int64(s)) for s in steps])
    assert mine_eager.dtype == eager.dtype and mine_graph.dtype == graph.dtype
    np.testing.assert_array_equal(mine_eager, eager, err_msg=f"{spec} eager")
    np.testing.assert_array_equal(mine_graph, graph, err_msg=f"{spec} in a graph")
    # A schedule takes any number as its step (here a Python int, as a user may call it).
    assert ours(int(steps[-1])) == mine_eager[-1]


def test_graph_and_eager_values_really_differ():
    """The two forms are not the same function: TensorFlow's graph rewrites change some
    float32 values in the last bit (why `training_value` exists)."""
    for name, args in [("CosineDecay", (0.1, 300)), ("InverseTimeDecay", (0.1, 3, 0.7)),
                       ("PolynomialDecay", (0.1, 300, 0.01, 3.0))]:
        s = getattr(sn.keras.optimizers.schedules, name)(*args)
        eager = np.array([s(np.int64(t)) for t in range(300)])
        graph = np.array([s.training_value(np.int64(t)) for t in range(300)])
        assert np.any(eager != graph), name
        np.testing.assert_allclose(eager, graph, rtol=3e-7, atol=3e-8)   # (lr0 = 0.1)


@pytest.mark.parametrize("name", SCHEDULES)
def test_config_and_serialization_interoperate_with_keras(name):
    spec = {"name": name, "kind": "python", "horizon": 0,
            "kwargs": {"ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=10,
                                                decay_rate=0.9, staircase=True),
                       "InverseTimeDecay": dict(initial_learning_rate=0.1, decay_steps=10,
                                                decay_rate=0.5),
                       "PiecewiseConstantDecay": dict(boundaries=[3, 7],
                                                      values=[0.1, 0.05, 0.01]),
                       "PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=10,
                                               power=2.0, cycle=True),
                       "CosineDecay": dict(initial_learning_rate=0.0, decay_steps=10,
                                           alpha=0.1, warmup_target=0.1,
                                           warmup_steps=5)}[name]}
    ours, theirs = make_schedule(sn.keras, spec), make_schedule(keras, spec)
    assert ours.get_config() == theirs.get_config()
    assert sn.keras.optimizers.schedules.serialize(ours) == \
        keras.optimizers.schedules.serialize(theirs)
    back = keras.optimizers.schedules.deserialize(sn.keras.optimizers.schedules.serialize(ours))
    assert type(back) is type(theirs) and back.get_config() == theirs.get_config()
    again = sn.keras.optimizers.schedules.deserialize(
        keras.optimizers.schedules.serialize(theirs))
    assert type(again) is type(ours) and again.get_config() == ours.get_config()
    # An optimizer's config holds the serialized schedule; each library rebuilds from either.
    opt = sn.keras.optimizers.Adam(learning_rate=ours)
    twin = keras.optimizers.Adam.from_config(opt.get_config())
    assert twin.get_config()["learning_rate"] == opt.get_config()["learning_rate"]
    rebuilt = sn.keras.optimizers.Adam.from_config(
        {k: v for k, v in twin.get_config().items() if k in opt.get_config() and k != "name"})
    assert rebuilt.get_config() == opt.get_config() | {"name": rebuilt.name}
    for t in (0, 4, 9, 30):
        assert ours(t) == theirs(t).numpy()


def test_import_paths():
    from scratchnet.keras.optimizers import schedules
    from scratchnet.keras.optimizers.schedules import ExponentialDecay, LearningRateSchedule

    assert schedules.ExponentialDecay is ExponentialDecay is \
        sn.keras.optimizers.schedules.ExponentialDecay is sn.optimizers.schedules.ExponentialDecay
    assert issubclass(ExponentialDecay, LearningRateSchedule)
    assert sn.optimizers.schedules.CosineDecay is sn.keras.optimizers.schedules.CosineDecay


# ---------------------------------------------------------------------------- fit
def fit_data(dtype, n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(dtype)
    y = np.eye(3, dtype=dtype)[rng.integers(0, 3, n)]
    return x, y


def build(K, optimizer):
    """A small classifier compiled with `optimizer` (made from K by the caller)."""
    model = K.Sequential([K.Input(shape=(4,)), K.layers.Dense(6, activation="tanh"),
                          K.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=False)
    return model


def optimizer_of(K, name, learning_rate):
    O = K.optimizers
    return {"SGD": lambda: O.SGD(learning_rate=learning_rate),
            "SGD_nesterov": lambda: O.SGD(learning_rate=learning_rate, momentum=0.9,
                                          nesterov=True),
            "RMSprop": lambda: O.RMSprop(learning_rate=learning_rate, momentum=0.5,
                                         centered=True),
            "Adagrad": lambda: O.Adagrad(learning_rate=learning_rate),
            "Adadelta": lambda: O.Adadelta(learning_rate=learning_rate),
            "Adam": lambda: O.Adam(learning_rate=learning_rate, amsgrad=True)}[name]()


# Schedules whose rate changes over the 12 updates of `fit_both` (6 per epoch, 2 epochs).
FIT_SCHEDULES = {
    "ExponentialDecay": dict(initial_learning_rate=0.3, decay_steps=3, decay_rate=0.6),
    "ExponentialDecay_staircase": dict(initial_learning_rate=0.3, decay_steps=2.5,
                                       decay_rate=0.5, staircase=True),
    "InverseTimeDecay": dict(initial_learning_rate=0.3, decay_steps=3, decay_rate=0.7),
    "PiecewiseConstantDecay": dict(boundaries=[2, 5, 9], values=[0.3, 0.2, 0.05, 0.01]),
    "PolynomialDecay": dict(initial_learning_rate=0.3, decay_steps=7, end_learning_rate=0.01,
                            power=3.0),
    "PolynomialDecay_cycle": dict(initial_learning_rate=0.3, decay_steps=5, power=0.5,
                                  cycle=True),
    "CosineDecay": dict(initial_learning_rate=0.3, decay_steps=9, alpha=0.1),
    "CosineDecay_warmup": dict(initial_learning_rate=0.01, decay_steps=7, warmup_target=0.3,
                               warmup_steps=4),
}
SMALL_LR = {"Adam": 0.1, "Adagrad": 1.0, "Adadelta": 1.0, "RMSprop": 0.1}  # rate multipliers


def scheduled(K, key, scale=1.0, rate_type=float):
    kw = dict(FIT_SCHEDULES[key])
    for k in ("initial_learning_rate", "end_learning_rate", "warmup_target"):
        if k in kw:
            kw[k] = rate_type(kw[k] * scale)
    if "values" in kw:
        kw["values"] = [rate_type(v * scale) for v in kw["values"]]
    return getattr(K.optimizers.schedules, key.split("_")[0])(**kw)


def fit_both(model, twin, x, y, epochs=2, batch_size=4, callbacks=(None, None)):
    hs = model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                   callbacks=[callbacks[0]] if callbacks[0] else None).history
    hk = twin.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0,
                  callbacks=[callbacks[1]] if callbacks[1] else None).history
    return hs, hk


def check_fit(model, twin, hs, hk, dtype, initial, x, y, make_twin64, epochs=2):
    check_fit_against_keras(check, model, twin, hs, hk, dtype, initial, x, y, make_twin64,
                            4, epochs)
    assert model.optimizer.iterations == int(twin.optimizer.iterations.numpy())


def run_fit_case(optimizer_name, key, dtype, rate_type=float):
    scale = SMALL_LR.get(optimizer_name.split("_")[0], 1.0)
    x, y = fit_data(dtype)

    def make(K):
        return build(K, optimizer_of(K, optimizer_name, scheduled(K, key, scale, rate_type)))

    with floatx_scope(dtype):
        sn.utils.set_random_seed(1)
        model, twin = make(sn.keras), make(keras)
        twin.set_weights(model.get_weights())
        initial = model.get_weights()
        hs, hk = fit_both(model, twin, x, y)
        check_fit(model, twin, hs, hk, dtype, initial, x, y, lambda: make(keras))
        # The rate reads back as Keras's does: the schedule's value at `iterations`.
        ours, theirs = model.optimizer.learning_rate, twin.optimizer.learning_rate
        assert np.asarray(ours).dtype == np.asarray(theirs).dtype
        assert float(ours) == float(theirs)
        # Keras tracks no learning-rate variable for a schedule; nor does scratchnet.
        assert (sum(v.size for v in model.optimizer.variables)
                == sum(int(np.prod(v.shape)) for v in twin.optimizer.variables))


_KEYS = sorted(FIT_SCHEDULES)


# Every schedule variant on SGD and on Adam in float64 (the strict case); in float32 half of
# them on each (to keep the run short).
@pytest.mark.parametrize("optimizer_name, key, dtype", (
    [(name, key, "float64") for name in ("SGD", "Adam") for key in _KEYS]
    + [("SGD", key, "float32") for key in _KEYS[::2]]
    + [("Adam", key, "float32") for key in _KEYS[1::2]]))
def test_fit_with_each_schedule_matches_keras(optimizer_name, key, dtype):
    run_fit_case(optimizer_name, key, dtype)


@pytest.mark.parametrize("optimizer_name, key, dtype", [
    ("SGD_nesterov", "CosineDecay_warmup", "float64"), ("RMSprop", "ExponentialDecay", "float64"),
    ("Adagrad", "PolynomialDecay", "float64"), ("Adadelta", "InverseTimeDecay", "float64"),
    ("RMSprop", "CosineDecay", "float32"), ("Adagrad", "PiecewiseConstantDecay", "float32"),
    ("Adadelta", "ExponentialDecay_staircase", "float32")])
def test_fit_with_a_schedule_on_every_optimizer(optimizer_name, key, dtype):
    run_fit_case(optimizer_name, key, dtype)


@pytest.mark.parametrize("key", ["ExponentialDecay", "CosineDecay", "PolynomialDecay"])
def test_fit_with_a_float64_schedule(key):
    """initial_learning_rate=np.float64(...): the schedule itself computes in float64."""
    run_fit_case("SGD", key, "float64", rate_type=np.float64)


# ---------------------------------------------------------------------------- the rate itself
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("optimizer_name", ["SGD_nesterov", "Adam", "RMSprop"])
def test_learning_rate_assigned_between_and_during_fit(optimizer_name, dtype):
    """`model.optimizer.learning_rate = x` between fits, and from a callback at each epoch's
    start (what LearningRateScheduler / ReduceLROnPlateau do), on both sides."""
    x, y = fit_data(dtype)
    base = SMALL_LR.get(optimizer_name.split("_")[0], 1.0) * 0.3

    def make(K):
        return build(K, optimizer_of(K, optimizer_name, base))

    def halving(K):
        class Halve(K.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                lr = float(np.asarray(self.model.optimizer.learning_rate))
                self.model.optimizer.learning_rate = lr * 0.5
        return Halve()

    with floatx_scope(dtype):
        sn.utils.set_random_seed(2)
        model, twin = make(sn.keras), make(keras)
        twin.set_weights(model.get_weights())
        hs, hk = fit_both(model, twin, x, y, epochs=1)
        for opt in (model.optimizer, twin.optimizer):
            opt.learning_rate = 0.7 * base
        assert float(model.optimizer.learning_rate) == float(twin.optimizer.learning_rate)
        hs2, hk2 = fit_both(model, twin, x, y, epochs=3, callbacks=(halving(sn.keras),
                                                                    halving(keras)))
        for key in hk:
            hs[key] += hs2[key]
            hk[key] += hk2[key]

        assert set(hs) == set(hk)
        for key in hk:
            check(hs[key], hk[key], dtype, f"History[{key!r}]", "assigned-lr History")
        for i, (a, b) in enumerate(zip(model.get_weights(), twin.get_weights())):
            check(a, b, dtype, f"weights[{i}]", "assigned-lr weights")
        ours, theirs = model.optimizer.learning_rate, twin.optimizer.learning_rate
        assert np.asarray(ours).dtype == np.dtype(dtype) == np.asarray(theirs).dtype
        assert float(ours) == float(theirs) == float(np.asarray(0.7 * base, dtype) * 0.125)


def test_learning_rate_reads_in_floatx_and_keeps_the_given_number():
    with floatx_scope("float32"):
        ours, theirs = sn.keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1)
        assert isinstance(ours.learning_rate, np.float32)
        assert float(ours.learning_rate) == float(theirs.learning_rate) == float(np.float32(0.1))
        assert ours.learning_rate == 0.1 and ours.lr == 0.1    # (compared in float32)
        assert ours.get_config()["learning_rate"] == 0.1       # the number as written
        ours.learning_rate = np.float64(0.25)
        theirs.learning_rate = np.float64(0.25)
        assert float(ours.learning_rate) == float(theirs.learning_rate) == 0.25
        ours.learning_rate = np.array(0.5)                     # a 0-d array is a number too
        assert ours.learning_rate == 0.5
    with floatx_scope("float64"):
        ours, theirs = sn.keras.optimizers.Adam(0.1), keras.optimizers.Adam(0.1)
        assert isinstance(ours.learning_rate, np.float64)
        assert float(ours.learning_rate) == float(theirs.learning_rate) == 0.1


def test_float32_rate_on_float64_weights_is_rounded_like_keras():
    """floatx float32 but float64 weights: Keras's rate variable is float32, then cast; an
    SGD step is then w - float64(float32(lr)) * g exactly."""
    w = np.array([1.0, -2.0, 3.0])
    g = np.array([0.3, 0.7, -1.1])
    opt = sn.keras.optimizers.SGD(learning_rate=0.1)
    opt.apply([g], [w])
    np.testing.assert_array_equal(w, np.array([1.0, -2.0, 3.0]) - g * np.float64(np.float32(0.1)))
    with floatx_scope("float32"):     # (Keras's floatx too)
        v = tf.Variable([1.0, -2.0, 3.0], dtype=tf.float64)
        keras.optimizers.SGD(learning_rate=0.1).apply([tf.constant(g)], [v])
    np.testing.assert_array_equal(w, v.numpy())


def test_callable_learning_rate_like_keras():
    rates = iter([0.5, 0.25, 0.125])
    values = []

    def rate():
        values.append(next(rates))
        return values[-1]

    opt = sn.keras.optimizers.SGD(learning_rate=rate)
    w = np.zeros(2, np.float32)
    opt.apply([np.ones(2, np.float32)], [w])
    opt.apply([np.ones(2, np.float32)], [w])
    np.testing.assert_array_equal(w, np.full(2, -0.75, np.float32))
    assert len(opt.variables) == 1          # iterations only, as in Keras
    opt.learning_rate = lambda: 0.5          # a new function replaces it
    assert opt.learning_rate == 0.5
    with pytest.raises(TypeError, match="function"):
        opt.learning_rate = 0.1
    bad = sn.keras.optimizers.SGD(learning_rate=lambda: "fast")
    with pytest.raises(TypeError, match="expected a number"):
        bad.apply([np.ones(2, np.float32)], [np.zeros(2, np.float32)])


def test_assigning_to_a_scheduled_optimizer_raises_keras_error():
    ours = sn.keras.optimizers.SGD(sn.keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    theirs = keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))
    with pytest.raises(TypeError) as keras_error:
        theirs.learning_rate = 0.01
    with pytest.raises(TypeError) as our_error:
        ours.learning_rate = 0.01
    assert str(our_error.value) == str(keras_error.value)
    # Assigning another schedule is allowed (Keras too), and a float rate may become a
    # schedule.
    ours.learning_rate = sn.keras.optimizers.schedules.InverseTimeDecay(0.2, 1, 1.0)
    assert ours.learning_rate == np.float32(0.2)
    plain = sn.keras.optimizers.Adam(0.01)
    plain.learning_rate = sn.keras.optimizers.schedules.CosineDecay(0.1, 5)
    assert plain.learning_rate == np.float32(0.1)
    assert len(plain.variables) == 1         # the rate variable is gone, as in Keras


def test_schedule_is_evaluated_once_per_update_at_iterations():
    seen = []

    class Recorder(sn.keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            seen.append(step)
            return np.float32(0.1) / np.float32(step + 1)

    opt = sn.keras.optimizers.Adam(learning_rate=Recorder())
    ws = [np.zeros(3, np.float32), np.zeros((2, 2), np.float64)]   # two dtypes, one call
    for _ in range(3):
        opt.apply([np.ones(3, np.float32), np.ones((2, 2))], ws)
    assert seen == [0, 1, 2] and all(isinstance(s, np.int64) for s in seen)
    assert float(opt.learning_rate) == pytest.approx(0.1 / 4)


# ---------------------------------------------------------------------------- bad arguments
def test_bad_schedule_arguments_raise_clear_errors():
    S, KS = sn.keras.optimizers.schedules, keras.optimizers.schedules
    for ours, theirs in [(lambda: S.ExponentialDecay(0.1, 0, 0.9),
                          lambda: KS.ExponentialDecay(0.1, 0, 0.9)),
                         (lambda: S.CosineDecay(0.1, -5), lambda: KS.CosineDecay(0.1, -5)),
                         (lambda: S.PiecewiseConstantDecay([1, 2], [0.1, 0.2]),
                          lambda: KS.PiecewiseConstantDecay([1, 2], [0.1, 0.2]))]:
        with pytest.raises(ValueError) as keras_error:
            theirs()
        with pytest.raises(ValueError) as our_error:
            ours()
        assert str(our_error.value) == str(keras_error.value)
    with pytest.raises(TypeError, match=r"ExponentialDecay.*initial_learning_rate.*e\.g\. 1\.0"):
        S.ExponentialDecay(1, 10, 0.9)              # Keras silently computes an int rate
    with pytest.raises(TypeError, match=r"InverseTimeDecay.*decay_rate.*'fast'"):
        S.InverseTimeDecay(0.1, 10, "fast")
    with pytest.raises(ValueError, match=r"PolynomialDecay.*power.*finite"):
        S.PolynomialDecay(0.1, 10, power=float("inf"))
    with pytest.raises(ValueError, match=r"PiecewiseConstantDecay.*strictly increasing"):
        S.PiecewiseConstantDecay([5, 5], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"PiecewiseConstantDecay.*empty"):
        S.PiecewiseConstantDecay([], [0.1])
    with pytest.raises(TypeError, match=r"PiecewiseConstantDecay.*one dtype"):
        S.PiecewiseConstantDecay([5], [0.1, np.float64(0.2)])
    with pytest.raises(ValueError, match=r"CosineDecay.*warmup_steps.*>= 0"):
        S.CosineDecay(0.1, 10, warmup_target=0.2, warmup_steps=-1)
    with pytest.raises(TypeError, match=r"ExponentialDecay.*step.*'3'"):
        S.ExponentialDecay(0.1, 10, 0.9)("3")
    with pytest.raises(NotImplementedError, match="must override `__call__"):
        S.LearningRateSchedule()(0)
    with pytest.raises(ValueError, match=r"unknown class_name 'Nope'"):
        S.deserialize({"class_name": "Nope", "config": {}})


def test_bad_optimizer_learning_rates_raise_clear_errors():
    O, S = sn.keras.optimizers, sn.keras.optimizers.schedules
    with pytest.raises(TypeError, match=r"SGD.*learning_rate.*LearningRateSchedule.*'fast'"):
        O.SGD(learning_rate="fast")
    with pytest.raises(ValueError, match=r"Adam.*learning_rate.*finite"):
        O.Adam(learning_rate=float("nan"))
    with pytest.raises(ValueError, match=r"SGD.*legacy `decay`.*numeric learning rate"):
        O.SGD(learning_rate=S.ExponentialDecay(0.1, 10, 0.9), decay=1e-3)
    opt = O.SGD(lr=0.1, decay=1e-3)
    with pytest.raises(ValueError, match=r"SGD.*legacy `decay`"):
        opt.learning_rate = S.ExponentialDecay(0.1, 10, 0.9)
    with pytest.raises(TypeError, match=r"RMSprop.*learning_rate.*True"):
        O.RMSprop().learning_rate = True

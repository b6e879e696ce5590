"""scratchnet.optimizers against tf.keras.optimizers, and the Numba kernels against NumPy.

Parity: Hypothesis draws 1-3 variables of random shapes (scalars and size-1 shapes included),
values, a dtype, hyper-parameters and k = 1..5 steps of fresh gradients; the same steps go to
tf.Variables through a TensorFlow twin built from our `get_config()` and to numpy arrays
through scratchnet; the variables must agree within tests/tolerances.py after every step.
The legacy `decay` is drawn too; its TF twin is `InverseTimeDecay(lr, decay_steps=1, decay)`.

Run with `-s` to see the largest relative errors observed per dtype.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from scratchnet import backend, optimizers
from scratchnet.optimizers import SGD, Adadelta, Adagrad, Adam, Optimizer, RMSprop
from tf_support import import_tf
from tolerances import assert_close, relative_error

NAMES = ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam"]
CLASSES = {"SGD": SGD, "RMSprop": RMSprop, "Adagrad": Adagrad, "Adadelta": Adadelta,
           "Adam": Adam}
DTYPES = ["float32", "float64"]

_WORST = {"float32": 0.0, "float64": 0.0}  # largest relative error vs TF, per dtype


@pytest.fixture(scope="module", autouse=True)
def _report_worst_errors():
    yield
    print("\n[test_optimizers] largest relative error vs TensorFlow: "
          + ", ".join(f"{k}={v:.3g}" for k, v in _WORST.items()))


@pytest.fixture(scope="module")
def tf():
    return import_tf()


@contextlib.contextmanager
def keras_floatx(tf, dtype):
    """Keras keeps its learning-rate variable in floatx, and so does scratchnet: set both
    libraries' floatx to the weights' dtype (the conftest fixture restores scratchnet's)."""
    before = tf.keras.config.floatx()
    tf.keras.config.set_floatx(dtype)
    backend.set_floatx(dtype)
    try:
        yield
    finally:
        tf.keras.config.set_floatx(before)


# ----------------------------------------------------------------------------- strategies
def unit(lo=0.0, hi=1.0, edges=()):
    """Floats in [lo, hi], with the named edge values drawn often."""
    s = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    return st.sampled_from(list(edges)) | s if edges else s


learning_rates = st.sampled_from([1e-4, 1e-3, 0.01, 0.1, 1.0]) | unit(1e-5, 2.0)
epsilons = st.sampled_from([1e-7, 1e-3, 1.0]) | unit(1e-8, 0.1)
decays = st.just(0.0) | st.sampled_from([1e-7, 1e-2, 0.5]) | unit(1e-6, 2.0)


@st.composite
def hyper_parameters(draw, name, with_decay=True, epsilon=epsilons):
    """Keyword arguments for optimizer `name` (Python floats/bools, as Keras requires)."""
    kw = {"learning_rate": draw(learning_rates)}
    if name == "SGD":
        kw["momentum"] = draw(unit(0.0, 0.99, edges=(0.0, 0.5, 0.9)))
        kw["nesterov"] = draw(st.booleans())
    elif name == "RMSprop":
        kw["rho"] = draw(unit(0.0, 0.999, edges=(0.0, 0.9)))
        kw["momentum"] = draw(unit(0.0, 0.99, edges=(0.0, 0.9)))
        kw["epsilon"] = draw(epsilon)
        kw["centered"] = draw(st.booleans())
    elif name == "Adagrad":
        kw["initial_accumulator_value"] = draw(unit(0.0, 1.0, edges=(0.0, 0.1)))
        kw["epsilon"] = draw(epsilon)
    elif name == "Adadelta":
        kw["rho"] = draw(unit(0.0, 0.999, edges=(0.0, 0.95)))
        kw["epsilon"] = draw(epsilon)
    elif name == "Adam":
        kw["beta_1"] = draw(unit(0.0, 0.99, edges=(0.0, 0.9)))
        kw["beta_2"] = draw(unit(0.0, 0.9999, edges=(0.0, 0.999)))
        kw["epsilon"] = draw(epsilon)
        kw["amsgrad"] = draw(st.booleans())
    if with_decay:
        decay = draw(decays)
        if decay:
            kw["decay"] = decay
    return kw


shapes = st.sampled_from([(), (1,), (1, 1), (7,), (3, 4), (2, 1, 3)]) | hnp.array_shapes(
    min_dims=0, max_dims=3, min_side=1, max_side=6)


@st.composite
def problems(draw):
    """(dtype, initial variables, list of per-step gradient lists)."""
    dtype = draw(st.sampled_from(DTYPES))
    var_shapes = draw(st.lists(shapes, min_size=1, max_size=3))
    steps = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**32 - 1))
    value_scale = draw(st.sampled_from([1e-3, 1.0, 10.0]))
    grad_scale = draw(st.sampled_from([1e-4, 1e-2, 1.0, 100.0]))
    zero_fraction = draw(st.sampled_from([0.0, 0.0, 0.3, 1.0]))  # some/all gradients exactly 0
    rng = np.random.default_rng(seed)

    def draw_array(shape, scale, zeros=0.0):
        x = rng.standard_normal(shape) * scale
        if zeros:
            x = np.where(rng.random(shape) < zeros, 0.0, x)
        return np.array(x, dtype=dtype)  # a writeable array, also for shape ()

    variables = [draw_array(s, value_scale) for s in var_shapes]
    grads = [[draw_array(s, grad_scale, zero_fraction) for s in var_shapes]
             for _ in range(steps)]
    note(f"dtype={dtype} shapes={var_shapes} steps={steps} seed={seed} "
         f"value_scale={value_scale} grad_scale={grad_scale} zeros={zero_fraction}")
    return dtype, variables, grads


def tf_twin(tf, ours, dtype):
    """The tf.keras optimizer built from our config (decay -> InverseTimeDecay schedule)."""
    config = ours.get_config()
    decay = config.pop("decay", 0.0)
    if decay:
        # Keras 3 dropped `decay`; the schedule reproduces tf.keras 2's lr / (1 + decay * t).
        # A numpy scalar makes the schedule compute in `dtype` (a Python float means float32).
        config["learning_rate"] = tf.keras.optimizers.schedules.InverseTimeDecay(
            np.dtype(dtype).type(config["learning_rate"]), decay_steps=1, decay_rate=decay)
    return getattr(tf.keras.optimizers, type(ours).__name__).from_config(config)


# ----------------------------------------------------------------------------- parity vs TF
@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_parity_with_tensorflow(tf, name, data):
    kw = data.draw(hyper_parameters(name), label="hyper-parameters")
    dtype, variables, grads = data.draw(problems(), label="problem")
    with keras_floatx(tf, dtype):
        ours = CLASSES[name](**kw)
        theirs = tf_twin(tf, ours, dtype)
        tf_vars = [tf.Variable(v.copy()) for v in variables]
        for step, step_grads in enumerate(grads):
            ours.apply([g.copy() for g in step_grads], variables)
            theirs.apply_gradients(zip([tf.constant(g) for g in step_grads], tf_vars))
            for i, (v, t) in enumerate(zip(variables, tf_vars)):
                expected = t.numpy()
                _WORST[dtype] = max(_WORST[dtype], relative_error(v, expected))
                assert v.dtype == np.dtype(dtype)
                assert_close(v, expected, dtype, f"{name} {kw} step {step + 1} variable {i}")
        assert ours.iterations == len(grads) == int(theirs.iterations.numpy())


# ----------------------------------------------------------------------------- numba == numpy
def all_slots(opt):
    return [(i, name, opt.get_slot(i, name).copy())
            for i, slots in enumerate(opt._slots) for name in sorted(slots)]


@pytest.mark.parametrize("name", NAMES)
@given(data=st.data())
def test_numba_kernel_equals_numpy_reference(name, data):
    """Both versions of each update, run through `apply`, agree bit for bit (state too)."""
    kw = data.draw(hyper_parameters(name, epsilon=epsilons | st.just(0.0)),
                   label="hyper-parameters")
    dtype, variables, grads = data.draw(problems(), label="problem")
    fast, slow = CLASSES[name](**kw), CLASSES[name](**kw)
    slow.implementation = "numpy"
    assert fast.implementation == "numba"
    v_fast = [v.copy() for v in variables]
    v_slow = [v.copy() for v in variables]
    with np.errstate(all="ignore"):  # epsilon = 0 with zero gradients gives 0/0, on both sides
        for step_grads in grads:
            fast.apply(step_grads, v_fast)
            slow.apply(step_grads, v_slow)
            for a, b in zip(v_fast, v_slow):
                np.testing.assert_array_equal(a, b)
    for (i, n, a), (_, _, b) in zip(all_slots(fast), all_slots(slow), strict=True):
        assert a.dtype == np.dtype(dtype), (i, n)
        np.testing.assert_array_equal(a, b, err_msg=f"slot {n} of variable {i}")


@pytest.mark.parametrize("name", NAMES)
def test_kernels_called_directly_agree(name):
    """The module-level functions themselves: same arguments, same results."""
    rng = np.random.default_rng(0)
    opt = CLASSES[name]()
    for dtype in map(np.dtype, DTYPES):
        var = rng.standard_normal(50).astype(dtype)
        grad = rng.standard_normal(50).astype(dtype)
        opt.build([var])
        slots = opt._kernel_slots(var, opt._slots[0])
        scalars = opt._scalars(dtype, opt._effective_lr(dtype))
        a_var, a_slots = var.copy(), [s.copy() for s in slots]
        b_var, b_slots = var.copy(), [s.copy() for s in slots]
        for _ in range(3):
            type(opt)._numba_update(a_var, grad, *a_slots, *scalars)
            type(opt)._numpy_update(b_var, grad, *b_slots, *scalars)
        np.testing.assert_array_equal(a_var, b_var)
        for a, b in zip(a_slots, b_slots):
            np.testing.assert_array_equal(a, b)
        assert a_var.dtype == dtype and not np.array_equal(a_var, var)


# ----------------------------------------------------------------------------- defaults, config
@pytest.mark.parametrize("name", NAMES)
def test_defaults_and_config_match_keras(tf, name):
    ours = CLASSES[name]()
    theirs = getattr(tf.keras.optimizers, name)()
    config, keras_config = ours.get_config(), theirs.get_config()
    assert "decay" not in config
    for key, value in config.items():
        assert key in keras_config, key
        if key == "name":
            continue
        if value is None or isinstance(value, bool):
            assert keras_config[key] == value, key
        else:
            assert keras_config[key] == pytest.approx(value, rel=1e-7), key  # lr: float32 var
    # Keras's own hyper-parameter keys of this optimizer are all there.
    base = set(tf.keras.optimizers.Optimizer(learning_rate=0.1).get_config())
    assert set(keras_config) - base <= set(config)
    # A tf.keras twin can be built from our config, and ours from our config.
    getattr(tf.keras.optimizers, name).from_config(ours.get_config())
    assert CLASSES[name].from_config(ours.get_config()).get_config() == config


def test_config_round_trip_with_decay_and_lr_alias():
    opt = SGD(lr=0.05, decay=1e-3, momentum=0.9, nesterov=True, name="my_sgd")
    config = opt.get_config()
    assert config == {"name": "my_sgd", "learning_rate": 0.05, "decay": 1e-3,
                      "momentum": 0.9, "nesterov": True, "clipnorm": None,
                      "global_clipnorm": None, "clipvalue": None}
    again = SGD.from_config(config)
    assert again.get_config() == config and again.lr == 0.05


def test_lr_alias_and_keyword_errors():
    assert SGD(lr=0.05).learning_rate == 0.05
    assert Adam(lr=0.002).get_config()["learning_rate"] == 0.002
    assert SGD().learning_rate == 0.01 and Adam().learning_rate == 0.001
    with pytest.raises(ValueError, match="lr"):
        SGD(learning_rate=0.1, lr=0.1)
    with pytest.raises(TypeError, match="momentun"):
        SGD(momentun=0.9)
    with pytest.raises(TypeError, match="learning_rate"):
        Adam(learning_rate="fast")
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(ValueError, match="decay"):
        SGD(decay=-1.0)
    opt = RMSprop()
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and opt.lr == 0.5
    with pytest.raises(ValueError, match="implementation"):
        opt.implementation = "cuda"


# ----------------------------------------------------------------------------- decay
def test_lecture_sgd_with_lr_decay_momentum_runs():
    """Python ML ch. 13: SGD(lr=0.001, decay=1e-7, momentum=.9)."""
    opt = SGD(lr=0.001, decay=1e-7, momentum=.9)
    w = [np.ones((3, 2), np.float32), np.zeros(2, np.float32)]
    for _ in range(3):
        opt.apply([np.full((3, 2), 0.5, np.float32), np.ones(2, np.float32)], w)
    assert opt.iterations == 3 and opt.decay == 1e-7
    assert np.all(w[0] < 1) and np.all(w[1] < 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_decay_matches_hand_formula(dtype):
    """lr_t = lr / (1 + decay * t) with t = updates applied so far, then momentum SGD.

    decay and momentum are exact in float32 so the float64 hand computation is exact too; the
    learning rate is held in floatx (float32 here, as Keras's variable), then cast.
    """
    lr, decay, momentum = 0.1, 0.25, 0.5
    rng = np.random.default_rng(3)
    f = np.dtype(dtype).type
    w = rng.standard_normal(6).astype(dtype)
    w_hand, m_hand = w.copy(), np.zeros_like(w)
    opt = SGD(lr=lr, decay=decay, momentum=momentum)
    assert backend.floatx() == "float32"
    for t in range(5):
        g = rng.standard_normal(6).astype(dtype)
        lr_t = f(np.float32(lr)) / (f(1) + f(decay) * f(t))
        m_hand = m_hand * f(momentum) - g * lr_t
        w_hand = w_hand + m_hand
        opt.apply([g], [w])
        assert_close(w, w_hand, dtype, f"step {t + 1}")
    assert opt.iterations == 5


def test_decay_matches_tensorflow_inverse_time_decay(tf):
    """The lecture's SGD(lr, decay, momentum) vs TF SGD with InverseTimeDecay, both dtypes."""
    for dtype in DTYPES:
        rng = np.random.default_rng(7)
        with keras_floatx(tf, dtype):
            ours = SGD(lr=0.01, decay=0.1, momentum=0.9)
            theirs = tf_twin(tf, ours, dtype)
            w = rng.standard_normal((4, 3)).astype(dtype)
            tw = tf.Variable(w.copy())
            for step in range(8):
                g = rng.standard_normal((4, 3)).astype(dtype)
                ours.apply([g], [w])
                theirs.apply_gradients([(tf.constant(g), tw)])
                _WORST[dtype] = max(_WORST[dtype], relative_error(w, tw.numpy()))
                assert_close(w, tw.numpy(), dtype, f"{dtype} step {step + 1}")


def test_learning_rate_can_change_between_steps(tf):
    rng = np.random.default_rng(11)
    with keras_floatx(tf, "float32"):
        ours, theirs = Adam(learning_rate=0.01), tf.keras.optimizers.Adam(learning_rate=0.01)
        w = rng.standard_normal(5).astype(np.float32)
        tw = tf.Variable(w.copy())
        for step, lr in enumerate([0.01, 0.01, 0.1, 0.001]):
            ours.learning_rate = lr
            theirs.learning_rate = lr
            g = rng.standard_normal(5).astype(np.float32)
            ours.apply([g], [w])
            theirs.apply_gradients([(tf.constant(g), tw)])
            assert_close(w, tw.numpy(), "float32", f"step {step + 1}")


# ----------------------------------------------------------------------------- get
@pytest.mark.parametrize("identifier,cls", [
    ("sgd", SGD), ("SGD", SGD), ("rmsprop", RMSprop), ("RMSprop", RMSprop),
    ("adagrad", Adagrad), ("Adadelta", Adadelta), ("adam", Adam), ("ADAM", Adam),
])
def test_get_by_name_gives_fresh_default_instance(identifier, cls):
    a, b = optimizers.get(identifier), optimizers.get(identifier)
    assert type(a) is cls and a is not b
    assert a.get_config() == cls().get_config()
    assert a.iterations == 0 and not a.built


def test_get_instance_and_dict():
    opt = Adam(learning_rate=0.02)
    assert optimizers.get(opt) is opt
    got = optimizers.get({"class_name": "Adam", "config": {"learning_rate": 0.02,
                                                           "amsgrad": True}})
    assert isinstance(got, Adam) and got.learning_rate == 0.02 and got.amsgrad
    assert isinstance(optimizers.get({"class_name": "sgd", "config": {}}), SGD)
    again = optimizers.get(optimizers.serialize(RMSprop(rho=0.8, centered=True)))
    assert isinstance(again, RMSprop) and again.rho == 0.8 and again.centered


@pytest.mark.parametrize("bad", ["adamw", "sgd ", "", 3, None, SGD, {"class_name": "Nadam"}])
def test_get_rejects_unknown_identifiers(bad):
    with pytest.raises(ValueError) as info:
        optimizers.get(bad)
    message = str(info.value)
    if not isinstance(bad, dict):
        assert repr(bad) in message
    for name in ("'sgd'", "'rmsprop'", "'adagrad'", "'adadelta'", "'adam'"):
        assert name in message


# ----------------------------------------------------------------------------- apply mechanics
def test_shape_and_count_mismatch_errors_name_optimizer_index_and_shapes():
    opt = Adam()
    w = [np.zeros((3, 2), np.float32), np.zeros(2, np.float32)]
    with pytest.raises(ValueError, match=r"Adam.*gradient 1.*\(3,\).*\(2,\)"):
        opt.apply([np.zeros((3, 2), np.float32), np.zeros(3, np.float32)], w)
    assert not opt.built and opt.iterations == 0  # a rejected call changes nothing
    with pytest.raises(ValueError, match="2 gradients for 1 variables"):
        opt.apply([np.zeros((3, 2)), np.zeros(2)], w[:1])
    opt.apply([np.ones((3, 2), np.float32), np.ones(2, np.float32)], w)
    before = [x.copy() for x in w]
    with pytest.raises(ValueError, match=r"Adam.*gradient 1.*\(4,\).*\(2,\)"):
        opt.apply([np.ones((3, 2)), np.ones(4)], w)
    assert opt.iterations == 1
    for a, b in zip(w, before):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(TypeError, match="float32 and float64"):
        SGD().apply([np.ones(2)], [np.zeros(2, np.int64)])
    with pytest.raises(TypeError, match="numpy array"):
        SGD().apply([1.0], [2.0])
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        SGD().apply([np.ones(2)], [frozen])
    opt = SGD()
    w = np.zeros(2)
    opt.apply([np.ones(2)], [w])
    w.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        opt.apply([np.ones(2)], [w])


def test_state_is_keyed_by_variable_not_by_position():
    """A variable keeps its slots when the list around it changes (a layer unfrozen: more
    variables at the next compile), and a new variable gets fresh ones."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((3, 2)), rng.standard_normal(4)
    ga, gb = rng.standard_normal((3, 2)), rng.standard_normal(4)
    keyed, reference = Adam(learning_rate=0.1), Adam(learning_rate=0.1)
    a_ref, b_ref = a.copy(), b.copy()
    keyed.apply([ga], [a])                       # step 1: only `a` trains
    keyed.apply([gb, ga], [b, a])                # step 2: `b` joins, listed first
    reference.apply([ga, None], [a_ref, b_ref])
    reference.apply([ga, gb], [a_ref, b_ref])
    np.testing.assert_array_equal(a, a_ref)      # a's moments carried over
    np.testing.assert_array_equal(b, b_ref)
    assert keyed.get_slot(1, "momentum").shape == (3, 2)     # index: the last call's list
    np.testing.assert_array_equal(keyed.get_slot(0, "velocity"),
                                  reference.get_slot(1, "velocity"))
    assert sum(v.size for v in keyed.variables) == 1 + 1 + 2 * (6 + 4)


def test_iterations_in_place_updates_and_apply_gradients():
    opt = SGD(learning_rate=0.1, momentum=0.9)
    kernel, bias = np.ones((2, 3), np.float32), np.zeros(3, np.float32)
    ids = (id(kernel), id(bias))
    for k in range(1, 4):
        result = opt.apply_gradients(zip([np.ones((2, 3)), np.ones(3)], [kernel, bias]))
        assert result == opt.iterations == k
    assert (id(kernel), id(bias)) == ids and np.all(kernel < 1) and np.all(bias < 0)
    assert opt.get_slot(0, "momentum").shape == (2, 3)
    assert opt.get_slot(0, "momentum").dtype == np.float32
    opt.apply([], [])  # an empty update is a no-op, as in Keras
    assert opt.iterations == 3
    # A None gradient leaves its variable alone but still counts as a step.
    opt.apply([None, np.ones(3)], [kernel, bias])
    assert opt.iterations == 4


def test_state_dtype_follows_each_variable_and_mixed_dtypes():
    rng = np.random.default_rng(5)
    v32 = rng.standard_normal((4, 3)).astype(np.float32)
    v64 = rng.standard_normal(5)
    mixed = Adam(learning_rate=0.01)
    only32, only64 = Adam(learning_rate=0.01), Adam(learning_rate=0.01)
    a32, a64 = v32.copy(), v64.copy()
    for _ in range(3):
        g32, g64 = rng.standard_normal((4, 3)), rng.standard_normal(5)  # float64 gradients
        mixed.apply([g32, g64], [v32, v64])
        only32.apply([g32.astype(np.float32)], [a32])  # gradients are cast like in Keras
        only64.apply([g64], [a64])
    np.testing.assert_array_equal(v32, a32)
    np.testing.assert_array_equal(v64, a64)
    assert mixed.get_slot(0, "velocity").dtype == np.float32
    assert mixed.get_slot(1, "velocity").dtype == np.float64


@pytest.mark.parametrize("implementation", ["numba", "numpy"])
def test_non_contiguous_variables_are_updated_in_place(implementation):
    rng = np.random.default_rng(9)
    base = rng.standard_normal((4, 6)).astype(np.float32)
    view = base[:, ::2]  # not contiguous: a view the caller owns
    reference = np.ascontiguousarray(view)
    a, b = RMSprop(momentum=0.5, centered=True), RMSprop(momentum=0.5, centered=True)
    a.implementation = b.implementation = implementation
    for _ in range(3):
        g = rng.standard_normal(view.shape).astype(np.float32)
        a.apply([np.asfortranarray(g)], [view])
        b.apply([g], [reference])
    np.testing.assert_array_equal(view, reference)
    np.testing.assert_array_equal(base[:, ::2], reference)


def test_switching_momentum_on_after_build_creates_the_slot():
    opt = SGD(learning_rate=0.1)
    w = np.ones(3)
    opt.apply([np.ones(3)], [w])
    opt.momentum = 0.5
    opt.apply([np.ones(3)], [w])  # m = -0.1, w = 0.9 - 0.1
    np.testing.assert_allclose(w, 0.8)
    np.testing.assert_allclose(opt.get_slot(0, "momentum"), -0.1)


def test_switching_amsgrad_on_after_steps_uses_a_new_velocity_hat():
    """The per-variable kernel arguments kept between steps (`_kernel_args`) are made again
    when a hyper-parameter changes the slots: here v_hat appears at step 3."""
    from scratchnet.optimizers.adam import adam_step_size, adam_update_numpy
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(5) for _ in range(3)]
    opt, w = Adam(learning_rate=0.1), np.ones(5)
    ref, m, v, v_hat = np.ones(5), np.zeros(5), np.zeros(5), np.zeros(5)
    for step, g in enumerate(grads, 1):
        if step == 3:
            opt.amsgrad = True
        opt.apply([g], [w])
        alpha = adam_step_size(np.float64(np.float32(0.1)), 0.9, 0.999, step)
        adam_update_numpy(ref, g, m, v, v_hat, alpha, 1 - 0.9, 1 - 0.999, 1e-7, step == 3)
    np.testing.assert_allclose(w, ref, rtol=1e-14)
    np.testing.assert_array_equal(opt.get_slot(0, "velocity_hat"), v)


def test_optimizer_base_is_exported():
    assert issubclass(Adam, Optimizer)
    assert set(optimizers.__all__) >= {"Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta",
                                       "Adam", "get"}

"""Dropout and BatchNormalization vs TensorFlow: the layers alone and inside trained models.

BatchNormalization: forward, dL/dx, dL/dgamma, dL/dbeta and the moving statistics after a
training call, in training and in inference mode, over Hypothesis-drawn shapes (Dense
outputs (n, C) and (n, T, C), Conv2D outputs (n, H, W, C), batch 1 included), any axis,
center/scale off, other momentum/epsilon, both implementations (Numba kernels and NumPy);
`trainable=False` (inference mode, frozen statistics); k steps of `fit` of small models
built from ONE function `build(K)` with scratchnet.keras and tf.keras (weights, moving
statistics, History, evaluate, predict); weight order, names and summary counts.

Dropout: TensorFlow's masks come from its own generator, so the comparisons replay
scratchnet's draws in TensorFlow: the uniforms scratchnet drew are handed to TF's
`tf.nn.experimental.general_dropout` (the function behind Keras's dropout: keep where
u >= rate, scale by 1/(1 - rate)) through its `uniform_sampler`, and a test-only Keras layer
(`ReplayDropout`) does that inside a tf.keras model, step after step, for `fit`. Plus the
statistics of the masks, inference = identity, seeds, noise_shape and bad arguments.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet import backend
from scratchnet.layers import BatchNormalization, Dropout
from parity_log import check
from tf_support import import_tf
from tolerances import assert_close

tf = import_tf()
import keras  # noqa: E402
from reference import floatx_scope  # noqa: E402  (needs TF)

DTYPES = ("float32", "float64")


# ============================================================================ BatchNormalization
@st.composite
def bn_cases(draw, dtype):
    kind = draw(st.sampled_from(["dense", "dense3", "conv", "conv"]))
    batch = draw(st.sampled_from((1, 2, 3, 5, 8)))
    if kind == "dense":
        shape = (batch, draw(st.integers(1, 12)))
    elif kind == "dense3":
        shape = (batch, draw(st.integers(1, 4)), draw(st.integers(1, 6)))
    else:
        shape = (batch, draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.integers(1, 8)))
    ndim = len(shape)
    axis = draw(st.sampled_from([-1, -1, -1] + list(range(1, ndim)) + list(range(1 - ndim, 0))))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # float32: TensorFlow's gradient takes sum(dy * x) - mean * sum(dy), which cancels when
    # |mean| >> std, and dL/dx itself cancels to ~ eps / (var + eps) of dy * a for a batch of
    # two; with a small spread or a far-off mean TF's float32 result drifts past rtol 1e-4
    # while ours stays within 1e-6 of the float64 value (a drawn case: 1.25169 exact, ours
    # 1.2516947, TF 1.251465). So float32 keeps to well-conditioned inputs; float64 takes all.
    scales, offsets = ((1.0, 3.0), (0.0, 0.5)) if dtype == "float32" else \
        ((0.1, 1.0, 3.0), (0.0, 0.5, -2.0))
    x = rng.standard_normal(shape) * draw(st.sampled_from(scales)) \
        + draw(st.sampled_from(offsets))
    if kind == "conv" and draw(st.booleans()):
        x = np.maximum(x, 0.0)                        # a ReLU's output: many exact zeros
    size = shape[axis]
    # Two numbers per channel (N = 2): xhat = +-sqrt(var / (var + eps)), and dL/dx is only the
    # residual a * dy * eps / (var + eps) of terms that cancel; in float32 TF's result then
    # carries ~1e-6 absolute error (a drawn case, eps 1e-5: float64 -5.4315e-4, ours
    # -5.4286e-4, TF -5.4145e-4), so float32 takes a large epsilon there.
    n_per_channel = int(np.prod(shape)) // size
    epsilon = 0.1 if dtype == "float32" and n_per_channel == 2 else \
        draw(st.sampled_from((1e-3, 1e-5, 0.1)))
    weights = {"gamma": rng.standard_normal(size) + 1.0, "beta": rng.standard_normal(size),
               "moving_mean": rng.standard_normal(size),
               "moving_variance": rng.uniform(0.2, 3.0, size)}
    return dict(dtype=dtype, x=x.astype(dtype), axis=axis,
                dy=rng.standard_normal(shape).astype(dtype),
                center=draw(st.booleans()) or draw(st.booleans()),
                scale=draw(st.booleans()) or draw(st.booleans()),
                momentum=draw(st.sampled_from((0.99, 0.9, 0.0))),
                epsilon=epsilon,
                implementation=draw(st.sampled_from(("fast", "numpy"))),
                weights={k: v.astype(dtype) for k, v in weights.items()})


def bn_weights(case):
    names = (["gamma"] if case["scale"] else []) + (["beta"] if case["center"] else []) \
        + ["moving_mean", "moving_variance"]
    return [case["weights"][n] for n in names]


def bn_kwargs(case):
    return dict(axis=case["axis"], momentum=case["momentum"], epsilon=case["epsilon"],
                center=case["center"], scale=case["scale"], dtype=case["dtype"])


def keras_bn(case, training, trainable=True):
    """Keras's output, dL/d(x, gamma, beta) (None where absent) and moving statistics."""
    layer = keras.layers.BatchNormalization(**bn_kwargs(case))
    layer.build(case["x"].shape)
    layer.set_weights(bn_weights(case))
    layer.trainable = trainable
    xt = tf.constant(case["x"])
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, training=training)
    sources = [xt] + [w for w in (layer.gamma, layer.beta) if w is not None]
    grads = tape.gradient(y, sources, output_gradients=tf.constant(case["dy"]))
    grads = [None if g is None else g.numpy() for g in grads]
    found = {"dx": grads[0]}
    k = 1
    for name, present in (("gamma", case["scale"]), ("beta", case["center"])):
        found[name] = grads[k] if present else None
        k += present
    found["moving"] = [layer.moving_mean.numpy(), layer.moving_variance.numpy()]
    return y.numpy(), found


def ours_bn(case, training, trainable=True):
    layer = BatchNormalization(**bn_kwargs(case))
    layer.implementation = case["implementation"]
    layer(case["x"])                                   # builds (inference: moves nothing)
    layer.set_weights(bn_weights(case))
    layer.trainable = trainable
    layer.zero_grads()
    y, cache = layer.forward(case["x"], training=training)
    dx = layer.backward(case["dy"], cache)
    return layer, y, dx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("training", [True, False])
@given(data=st.data())
def test_batchnorm_matches_keras(dtype, training, data):
    case = data.draw(bn_cases(dtype))
    layer, y, dx = ours_bn(case, training)
    y_tf, tf_grads = keras_bn(case, training)
    area = f"BatchNormalization {'training' if training else 'inference'}"
    check(y, y_tf, dtype, "forward", area)
    check(dx, tf_grads["dx"], dtype, "dL/dx", area)
    k = 0
    for name, present in (("gamma", case["scale"]), ("beta", case["center"])):
        if present:
            check(layer.grads[k], tf_grads[name], dtype, f"dL/d{name}", area)
            k += 1
    assert len(layer.grads) == k
    check(layer.moving_mean, tf_grads["moving"][0], dtype, "moving_mean", area)
    check(layer.moving_variance, tf_grads["moving"][1], dtype, "moving_variance", area)
    if not training:                                    # inference moves nothing
        np.testing.assert_array_equal(layer.moving_mean, case["weights"]["moving_mean"])

    # without dL/dx (the first layer of a model): the same weight gradients
    layer.zero_grads()
    _, cache = layer.forward(case["x"], training=training)
    assert layer.backward(case["dy"], cache, need_input_grad=False) is None
    if case["scale"]:
        check(layer.grads[0], tf_grads["gamma"], dtype, "dL/dgamma without dL/dx", area)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_batchnorm_trainable_false_runs_in_inference_mode(dtype, data):
    """Keras: batch statistics only when training AND trainable; a frozen layer keeps its
    moving statistics and its gamma/beta get no gradient."""
    case = data.draw(bn_cases(dtype))
    layer, y, dx = ours_bn(case, training=True, trainable=False)
    y_tf, tf_grads = keras_bn(case, training=True, trainable=False)
    area = "BatchNormalization frozen"
    check(y, y_tf, dtype, "forward", area)
    check(dx, tf_grads["dx"], dtype, "dL/dx", area)
    np.testing.assert_array_equal(layer.moving_mean, case["weights"]["moving_mean"])
    np.testing.assert_array_equal(layer.moving_variance, case["weights"]["moving_variance"])
    assert layer.trainable_weights == [] and all(g is None for g in layer.grads)
    assert len(layer.non_trainable_weights) == len(bn_weights(case))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_batchnorm_numpy_and_fast_agree(dtype, data):
    """The Numba kernels do the NumPy functions' arithmetic in the same order: on one thread
    (a layer called outside fit) the results are the same bits -- except for ONE channel,
    where NumPy sums the contiguous column pairwise and the kernel row after row, so the
    sums (and what follows from them) may differ in the last bits."""
    case = data.draw(bn_cases(dtype))
    results = []
    for implementation in ("numpy", "fast"):
        case = {**case, "implementation": implementation}
        layer, y, dx = ours_bn(case, training=True)
        results.append([y, dx, *[g for g in layer.grads], layer.moving_mean.copy(),
                        layer.moving_variance.copy()])
    for a, b in zip(*results):
        if case["x"].shape[case["axis"]] == 1:
            assert_close(b, a, dtype, "fast vs numpy, one channel")
        else:
            np.testing.assert_array_equal(a, b)


def test_batchnorm_fast_kernels_split_in_chunks_agree_with_numpy(monkeypatch):
    """Inside fit the kernels cut the rows into chunks for the threads (`threads.parts`):
    the chunks' float64 sums are added in chunk order, so the sums move by rounding only,
    and the row-wise kernels write every row exactly once. Four chunks are forced here
    (on the threads when splitting pays, else one after the other)."""
    from scratchnet import threads
    from scratchnet.kernels import batchnorm_fast
    from scratchnet.layers import normalization

    monkeypatch.setattr(batchnorm_fast, "_split", lambda rows, channels: 4)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((8 * 28 * 28 + 3, 6)).astype(np.float32) * 2 + 1
    dy = rng.standard_normal(x.shape).astype(np.float32)
    before = threads.num_threads()
    threads.set_num_threads(2)
    try:
        with threads.compute_threads():
            mean, var = batchnorm_fast.moments(x)
            sums = batchnorm_fast.backward_sums(dy, x, mean)
            inv = (1.0 / np.sqrt(var + 1e-3)).astype(np.float32)
            a, b = inv * np.float32(1.5), np.full(6, 0.25, np.float32)
            y = batchnorm_fast.normalize(x, a, b, np.full_like(x, np.nan))
            dx = batchnorm_fast.input_gradient(dy, x, mean, inv, a, sums[0] / len(x),
                                               sums[1] * inv / len(x), np.full_like(x, np.nan))
    finally:
        threads.set_num_threads(before)
    ref_mean, ref_var = normalization.moments(x)
    ref_sums = normalization.backward_sums(dy, x, ref_mean)
    for a_, b_ in zip([mean, var, *sums], [ref_mean, ref_var, *ref_sums]):
        assert_close(a_, b_, "float32", "chunked sums")
    np.testing.assert_array_equal(y, normalization.normalize(x, a, b))
    np.testing.assert_array_equal(dx, normalization.input_gradient(
        dy, x, mean, inv, a, sums[0] / len(x), sums[1] * inv / len(x)))


def test_batchnorm_gradients_match_finite_differences():
    """dL/dx, dL/dgamma, dL/dbeta of L = sum(y * dy) in training mode, against central
    differences (float64), independently of TensorFlow."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 2, 2, 4))
    dy = rng.standard_normal(x.shape)
    layer = BatchNormalization(dtype="float64")
    layer(x)
    layer.set_weights([rng.standard_normal(4) + 1, rng.standard_normal(4), np.zeros(4),
                       np.ones(4)])
    layer.zero_grads()
    y, cache = layer.forward(x, training=True)
    dx = layer.backward(dy, cache)

    def loss():
        return float(np.sum(layer.forward(x, training=True)[0] * dy))

    h = 1e-6
    for target, analytic in ((x, dx), (layer.gamma, layer.grads[0]), (layer.beta, layer.grads[1])):
        numeric = np.zeros_like(target)
        for i in np.ndindex(target.shape):
            old = target[i]
            target[i] = old + h
            up = loss()
            target[i] = old - h
            down = loss()
            target[i] = old
            numeric[i] = (up - down) / (2 * h)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)


def test_batchnorm_weights_like_keras():
    """gamma, beta, moving_mean, moving_variance in Keras's order and names; counts in
    summary(); center/scale False drop beta/gamma; input spec on the normalized axis."""
    ours = BatchNormalization(name="bn_check")
    ours.build((None, 5, 5, 6))
    theirs = keras.layers.BatchNormalization(name="bn_check")
    theirs.build((None, 5, 5, 6))
    assert ours.weight_paths == [v.path for v in theirs.weights]
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert len(ours.trainable_weights) == 2 and len(ours.non_trainable_weights) == 2
    assert ours.count_params() == 24
    plain = BatchNormalization(center=False, scale=False)
    plain.build((None, 3))
    assert plain.trainable_weights == [] and len(plain.weights) == 2
    with pytest.raises(ValueError, match="incompatible"):
        ours(np.zeros((2, 5, 5, 4), np.float32))

    def build(K):
        return K.Sequential([K.Input((8, 8, 1)), K.layers.Conv2D(4, 3, activation="relu"),
                             K.layers.BatchNormalization(), K.layers.Flatten(),
                             K.layers.Dense(10), K.layers.BatchNormalization()])

    totals = []
    for model in (build(sn.keras), build(tf.keras)):
        lines = []
        model.summary(print_fn=lambda text, line_break=True: lines.extend(
            str(text).splitlines()))
        totals.append([line.split(":")[1].split("(")[0].strip() for line in lines
                       if "params:" in line])
    assert totals[0] == totals[1] and totals[0][2] == "28"          # 2 x (4 + 10) moving stats


def test_batchnorm_bad_arguments():
    with pytest.raises(ValueError, match="out of bounds"):
        BatchNormalization(axis=3).build((None, 4))
    with pytest.raises(ValueError, match="batch axis"):
        BatchNormalization(axis=0).build((None, 4))
    with pytest.raises(ValueError, match="renorm"):
        BatchNormalization(renorm=True)
    with pytest.raises(TypeError, match="axis must be an int"):
        BatchNormalization(axis=[1, 2])
    with pytest.raises(TypeError, match="momentum"):
        BatchNormalization(momentum="high")
    with pytest.raises(ValueError, match="implementation"):
        BatchNormalization().implementation = "gpu"


def test_batchnorm_config_keys_like_keras():
    ours = BatchNormalization().get_config()
    theirs = keras.layers.BatchNormalization().get_config()
    assert set(theirs) - {"dtype"} <= set(ours)
    for key in ("axis", "momentum", "epsilon", "center", "scale", "renorm", "synchronized"):
        assert ours[key] == theirs[key]


# ---- k steps of fit ---------------------------------------------------------------------------
def twins(build, dtype, compile_args, **compile_kw):
    with floatx_scope(dtype):
        ours, theirs = build(sn.keras), build(tf.keras)
        theirs.set_weights(ours.get_weights())
        ours.compile(**compile_args(sn.keras))
        theirs.compile(**compile_args(tf.keras), jit_compile=False, **compile_kw)
    return ours, theirs


def fit_both(ours, theirs, dtype, x, y, area, **kwargs):
    with floatx_scope(dtype):
        h1 = ours.fit(x, y, shuffle=False, verbose=0, **kwargs)
        h2 = theirs.fit(x, y, shuffle=False, verbose=0, **kwargs)
        assert set(h1.history) == set(h2.history)
        for key in h2.history:                          # (Python floats: no dtype to check)
            assert_close(h1.history[key], h2.history[key], dtype, f"History {key}")
        for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
            check(a, b, dtype, f"weights[{i}] after fit", area)
        e1 = ours.evaluate(x, y, verbose=0, return_dict=True)
        e2 = theirs.evaluate(x, y, verbose=0, return_dict=True)
        for key in e2:
            assert_close(e1[key], e2[key], dtype, f"evaluate {key}")
        check(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), dtype, "predict", area)


def adam(K):
    return {"optimizer": K.optimizers.Adam(0.01), "loss": "sparse_categorical_crossentropy",
            "metrics": ["accuracy"]}


def sgd(K):
    return {"optimizer": K.optimizers.SGD(0.1, momentum=0.5),
            "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}


BN_MODELS = {
    "dense": (lambda K, **bn: K.Sequential([
        K.Input((6,)), K.layers.Dense(8, activation="relu"), K.layers.BatchNormalization(**bn),
        K.layers.Dense(3, activation="softmax")]), (6,)),
    "dense_pre_activation": (lambda K, **bn: K.Sequential([
        K.Input((6,)), K.layers.Dense(8, use_bias=False), K.layers.BatchNormalization(**bn),
        K.layers.Activation("relu"), K.layers.Dense(3, use_bias=False),
        K.layers.BatchNormalization(**bn),
        K.layers.Softmax()]), (6,)),
    "conv": (lambda K, **bn: K.Sequential([
        K.Input((6, 6, 2)), K.layers.Conv2D(3, 3, activation="relu"),
        K.layers.BatchNormalization(**bn), K.layers.MaxPooling2D(2), K.layers.Flatten(),
        K.layers.Dense(3, activation="softmax")]), (6, 6, 2)),
    "conv_axis1": (lambda K, **bn: K.Sequential([
        K.Input((5, 5, 2)), K.layers.Conv2D(4, 3, padding="same", use_bias=False),
        K.layers.BatchNormalization(axis=1, **bn), K.layers.ReLU(), K.layers.Flatten(),
        K.layers.Dense(3, activation="softmax")]), (5, 5, 2)),
}


# (model, BatchNormalization arguments, optimizer, batch size): drawn once by hand to cover
# the variants; a Dense or Conv2D right before a BatchNormalization has no bias (the batch
# mean removes it: its gradient is rounding noise, which Adam would blow up to full steps)
FIT_CASES = [
    ("dense", {}, "adam", 7),
    ("dense", {"momentum": 0.5, "center": False}, "sgd", 30),
    ("dense_pre_activation", {"scale": False}, "adam", 4),
    ("conv", {}, "adam", 8),
    ("conv", {"momentum": 0.9, "epsilon": 0.01, "center": False, "scale": False}, "sgd", 7),
    ("conv_axis1", {}, "adam", 8),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,bn,optimizer,batch", FIT_CASES)
def test_batchnorm_fit_matches_keras(dtype, name, bn, optimizer, batch):
    # fixed starting weights: float32 Adam runs amplify rounding differently from one draw
    # to the next, and the test must not depend on what ran before it
    sn.utils.set_random_seed(1234)
    builder, shape = BN_MODELS[name]
    ours, theirs = twins(lambda K: builder(K, **bn), dtype, adam if optimizer == "adam" else sgd)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((30,) + shape).astype(dtype)
    y = rng.integers(0, 3, 30)
    fit_both(ours, theirs, dtype, x, y, f"BatchNormalization fit ({name})", epochs=2,
             batch_size=batch, validation_split=0.2)
    layer = next(layer for layer in ours.layers if isinstance(layer, BatchNormalization))
    assert not np.array_equal(layer.moving_mean, np.zeros_like(layer.moving_mean))


@pytest.mark.parametrize("dtype", DTYPES)
def test_frozen_batchnorm_in_fit_matches_keras(dtype):
    """bn.trainable = False before compile: inference mode inside fit, statistics frozen."""
    def build(K):
        model = BN_MODELS["conv"][0](K)
        model.layers[1].trainable = False
        return model

    ours, theirs = twins(build, dtype, adam)
    bn = ours.layers[1]
    bn.set_weights([np.full(3, 1.5), np.full(3, 0.1), np.full(3, 0.2), np.full(3, 2.0)])
    theirs.layers[1].set_weights(bn.get_weights())
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 6, 6, 2)).astype(dtype)
    y = rng.integers(0, 3, 20)
    before = bn.get_weights()
    fit_both(ours, theirs, dtype, x, y, "BatchNormalization fit (frozen)", epochs=2,
             batch_size=8)
    for a, b in zip(before, bn.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert ours.count_params() == theirs.count_params()
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_regularized_constrained_batchnorm_fit_matches_keras(dtype):
    def build(K):
        return K.Sequential([
            K.Input((6,)), K.layers.Dense(8, activation="relu"),
            K.layers.BatchNormalization(gamma_regularizer=K.regularizers.l2(0.05),
                                        beta_regularizer=K.regularizers.l1(0.02),
                                        beta_constraint=K.constraints.NonNeg()),
            K.layers.Dense(3, activation="softmax")])

    ours, theirs = twins(build, dtype, sgd)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 6)).astype(dtype)
    y = rng.integers(0, 3, 24)
    fit_both(ours, theirs, dtype, x, y, "BatchNormalization fit (regularized)", epochs=2,
             batch_size=8)


def test_batchnorm_in_a_subclassed_model_follows_training():
    """`self.bn(x)` without training= inside call: training in fit, inference in predict.
    (tf.keras 2's behaviour, kept on purpose: Keras 3 calls a model whose call() has no
    `training` argument without it, so there the BN stays in inference during fit; README,
    "Where scratchnet and Keras 3 part ways".)"""
    class Net(sn.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = sn.keras.layers.Dense(4)
            self.bn = sn.keras.layers.BatchNormalization()
            self.out = sn.keras.layers.Dense(2, activation="softmax")

        def call(self, x):
            return self.out(self.bn(self.dense(x)))

    model = Net()
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    y = np.arange(16) % 2
    model.predict(x, verbose=0)
    np.testing.assert_array_equal(model.bn.moving_mean, np.zeros(4, np.float32))
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    moved = model.bn.moving_mean.copy()
    assert np.all(moved != 0)
    model.predict(x, verbose=0)
    model.evaluate(x, y, verbose=0)
    np.testing.assert_array_equal(model.bn.moving_mean, moved)
    model(x, training=True)
    assert np.all(model.bn.moving_mean != moved)


# ============================================================================ Dropout
class Recorder:
    """Wraps a numpy Generator and keeps a copy of every array `random` draws."""

    def __init__(self, generator):
        self.generator, self.draws = generator, []

    def random(self, *args, **kwargs):
        result = self.generator.random(*args, **kwargs)
        self.draws.append(np.array(kwargs["out"] if kwargs.get("out") is not None else result))
        return result


def recording(layer):
    recorder = Recorder(layer._rng())
    layer._generator = recorder
    return recorder


def tf_dropout(x, rate, uniforms, noise_shape=None):
    """TensorFlow's dropout (general_dropout: Keras's backend dropout with another sampler)
    on the given uniforms."""
    def sampler(shape, dtype):
        assert tuple(shape) == uniforms.shape
        return tf.constant(uniforms, dtype=dtype)

    return tf.nn.experimental.general_dropout(x, rate, uniform_sampler=sampler,
                                              noise_shape=noise_shape)


@st.composite
def dropout_cases(draw, dtype):
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=2, max_size=4)))
    rate = draw(st.sampled_from((0.1, 0.5, 0.75, 0.999)) | st.floats(0.01, 0.95))
    noise = None
    if draw(st.booleans()):
        noise = tuple(draw(st.sampled_from((None, 1, n))) for n in shape)
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    return dict(shape=shape, rate=rate, noise_shape=noise, seed=seed,
                x=rng.standard_normal(shape).astype(dtype),
                dy=rng.standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_dropout_with_the_same_uniforms_matches_tensorflow(dtype, data):
    case = data.draw(dropout_cases(dtype))
    layer = Dropout(case["rate"], noise_shape=case["noise_shape"], seed=case["seed"])
    recorder = recording(layer)
    y, cache = layer.forward(case["x"], training=True)
    dx = layer.backward(case["dy"], cache)
    (u,) = recorder.draws
    assert u.dtype == np.dtype(dtype)
    expected_mask = tuple(n if d is None else d for d, n in
                          zip(case["noise_shape"] or case["shape"], case["shape"]))
    assert u.shape == expected_mask

    xt = tf.constant(case["x"])
    noise = list(expected_mask) if case["noise_shape"] else None
    with tf.GradientTape() as tape:
        tape.watch(xt)
        yt = tf_dropout(xt, case["rate"], u, noise)
    dxt = tape.gradient(yt, xt, output_gradients=tf.constant(case["dy"]))
    # the same uniforms give the same mask: the results are exact, not merely close
    np.testing.assert_array_equal(y, yt.numpy())
    np.testing.assert_array_equal(dx, dxt.numpy())
    check(y, yt.numpy(), dtype, "forward", "Dropout")
    check(dx, dxt.numpy(), dtype, "dL/dx", "Dropout")


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_is_the_identity_at_inference(dtype):
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(dtype)
    layer = Dropout(0.5, dtype=dtype)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)
    y, cache = layer.forward(x, training=False)
    np.testing.assert_array_equal(y, x)
    dy = np.ones_like(x)
    np.testing.assert_array_equal(layer.backward(dy, cache), dy)
    assert not np.array_equal(layer(x, training=True), x)
    # rate 0 changes nothing even in training; rate 1 drops everything (Keras: zeros_like)
    np.testing.assert_array_equal(Dropout(0.0, dtype=dtype)(x, training=True), x)
    zero = Dropout(1.0, dtype=dtype)
    y, cache = zero.forward(x, training=True)
    np.testing.assert_array_equal(y, np.zeros_like(x))
    np.testing.assert_array_equal(zero.backward(dy, cache), np.zeros_like(x))
    np.testing.assert_array_equal(
        y, keras.layers.Dropout(1.0, dtype=dtype)(tf.constant(x), training=True).numpy())


@pytest.mark.parametrize("dtype,rate", [("float32", 0.3), ("float64", 0.5), ("float32", 0.9)])
def test_dropout_keeps_the_right_fraction_and_scales(dtype, rate):
    x = np.random.default_rng(0).uniform(0.5, 2.0, (500, 1000)).astype(dtype)
    y = Dropout(rate, seed=11, dtype=dtype)(x, training=True)
    kept = y != 0
    n = x.size
    sigma = np.sqrt(rate * (1 - rate) / n)
    assert abs(kept.mean() - (1 - rate)) < 5 * sigma
    scale = np.asarray(1.0 / (1.0 - rate), dtype)
    np.testing.assert_array_equal(y[kept], x[kept] * scale)
    # inverted dropout keeps the expectation: mean(y) ~ mean(x)
    assert abs(y.mean() / x.mean() - 1) < 6 * np.sqrt(rate / (1 - rate) / n) * x.std() / x.mean() + 1e-3


def test_dropout_noise_shape_broadcasts():
    x = np.ones((4, 3, 5), np.float32)
    y = Dropout(0.5, noise_shape=(None, 1, 5), seed=0)(x, training=True)
    assert (y == y[:, :1, :]).all()                     # the same mask at every step
    assert 0 < (y != 0).mean() < 1
    with pytest.raises(ValueError, match="does not broadcast"):
        Dropout(0.5, noise_shape=(4, 2, 5))(x, training=True)
    with pytest.raises(ValueError, match="has 2 axes"):
        Dropout(0.5, noise_shape=(4, 5))(x, training=True)


def test_dropout_seeds_reproduce():
    x = np.ones((8, 16), np.float32)
    a, b = Dropout(0.5, seed=42), Dropout(0.5, seed=42)
    first = [a(x, training=True) for _ in range(3)]
    second = [b(x, training=True) for _ in range(3)]
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p, q)
    assert not np.array_equal(first[0], first[1])      # a new mask at every call

    def train():
        backend.set_random_seed(5)
        model = sn.keras.Sequential([sn.keras.Input((6,)), sn.keras.layers.Dense(16, "relu"),
                                     sn.keras.layers.Dropout(0.5),
                                     sn.keras.layers.Dense(3, "softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        rng = np.random.default_rng(0)
        model.fit(rng.standard_normal((40, 6)), rng.integers(0, 3, 40), batch_size=8,
                  epochs=2, verbose=0)
        return model.get_weights()

    for p, q in zip(train(), train()):
        np.testing.assert_array_equal(p, q)


def test_dropout_bad_arguments_like_keras():
    for rate in (-0.1, 1.5):
        with pytest.raises(ValueError) as ours:
            Dropout(rate)
        with pytest.raises(ValueError) as theirs:
            keras.layers.Dropout(rate)
        assert str(ours.value) == str(theirs.value)
    for noise in ("abc", (2, 0), (2, 1.5), 7):
        with pytest.raises(ValueError) as ours:
            Dropout(0.5, noise_shape=noise)
        with pytest.raises(ValueError) as theirs:
            keras.layers.Dropout(0.5, noise_shape=noise)
        assert str(ours.value) == str(theirs.value)
    with pytest.raises(TypeError, match="rate must be a float"):
        Dropout("0.5")
    with pytest.raises(ValueError, match="seed"):
        Dropout(0.5, seed=-1)


def test_dropout_config_and_summary_like_keras():
    ours = Dropout(0.25, noise_shape=[None, 1], seed=3).get_config()
    theirs = keras.layers.Dropout(0.25, noise_shape=[None, 1], seed=3).get_config()
    for key in ("rate", "seed", "noise_shape", "trainable"):
        assert ours[key] == theirs[key]
    layer = Dropout(0.5)
    assert layer.count_params() == 0 and layer.weights == []


# ---- k steps of fit with the same masks -------------------------------------------------------
class ReplayDropout(keras.layers.Layer):
    """Test-only: Keras's dropout (TF's general_dropout) on uniforms handed over in order,
    one array per training call -- scratchnet's draws, step after step."""

    def __init__(self, rate, uniforms, noise_shape=None, **kwargs):
        super().__init__(**kwargs)
        self.rate, self.uniforms, self.noise_shape, self.used = rate, list(uniforms), \
            noise_shape, 0

    def call(self, inputs, training=None):
        if not training:
            return inputs
        u = self.uniforms[self.used]
        self.used += 1
        noise = None
        if self.noise_shape is not None:
            noise = [inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape)]
        return tf_dropout(inputs, self.rate, u, noise)

    def compute_output_shape(self, input_shape):
        return input_shape


DROPOUT_MODELS = {
    "dense": (lambda K, drop: K.Sequential([
        K.Input((6,)), K.layers.Dense(16, activation="relu"), drop,
        K.layers.Dense(3, activation="softmax")]), (6,), None),
    "conv_noise_shape": (lambda K, drop: K.Sequential([
        K.Input((6, 6, 1)), K.layers.Conv2D(4, 3, activation="relu"), drop,
        K.layers.MaxPooling2D(2), K.layers.Flatten(),
        K.layers.Dense(3, activation="softmax")]), (6, 6, 1), (None, 1, 1, None)),
    "python_ml_head": (lambda K, drop: K.Sequential([
        K.Input((4, 4, 2)), K.layers.Conv2D(3, 3, padding="same", activation="relu"),
        K.layers.MaxPool2D(2), K.layers.Flatten(), K.layers.Dense(12, activation="relu"),
        drop, K.layers.Dense(3, activation="softmax")]), (4, 4, 2), None),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,rate", [("dense", 0.5), ("conv_noise_shape", 0.2),
                                       ("python_ml_head", 0.5)])
def test_dropout_fit_matches_keras_with_the_same_masks(dtype, name, rate):
    builder, shape, noise = DROPOUT_MODELS[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((26,) + shape).astype(dtype)
    y = rng.integers(0, 3, 26)
    with floatx_scope(dtype):
        drop = sn.keras.layers.Dropout(rate, noise_shape=noise, seed=7)
        ours = builder(sn.keras, drop)
        start = ours.get_weights()
        recorder = recording(drop)
        ours.compile(**adam(sn.keras))
        h1 = ours.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                      validation_split=0.25)
        steps = 2 * int(np.ceil(19 / 8))               # validation runs in inference mode
        assert len(recorder.draws) == steps
        replay = ReplayDropout(rate, recorder.draws, noise_shape=noise)
        theirs = builder(tf.keras, replay)
        theirs.set_weights(start)
        theirs.compile(**adam(tf.keras), run_eagerly=True)
        h2 = theirs.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
                        validation_split=0.25)
        assert replay.used == steps
    area = "Dropout fit (same masks)"
    for key in h2.history:
        assert_close(h1.history[key], h2.history[key], dtype, f"History {key}")
    for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
        check(a, b, dtype, f"weights[{i}] after fit", area)
    # predict / evaluate: inference, no masks drawn
    with floatx_scope(dtype):
        check(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), dtype, "predict", area)
    assert len(recorder.draws) == steps


def test_dropout_in_a_subclassed_model_follows_training():
    class Net(sn.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = sn.keras.layers.Dense(32, kernel_initializer="ones")
            self.dropout = sn.keras.layers.Dropout(0.5)

        def call(self, x):
            return self.dropout(self.dense(x))

    model = Net()
    x = np.ones((4, 3), np.float32)
    clean = model(x)
    np.testing.assert_array_equal(clean, np.full((4, 32), 3.0, np.float32))
    np.testing.assert_array_equal(model.predict(x, verbose=0), clean)
    noisy = model(x, training=True)
    assert set(np.unique(noisy)) == {0.0, 6.0}


# ============================================================================ reference twins
@pytest.mark.parametrize("dtype", DTYPES)
def test_to_keras_and_back_keep_dropout_and_batchnorm(dtype):
    from reference import from_keras, to_keras

    L = sn.keras.layers
    with floatx_scope(dtype):
        model = sn.keras.Sequential([
            sn.keras.Input((6, 6, 2)), L.Conv2D(3, 3, activation="relu"),
            L.BatchNormalization(momentum=0.9, epsilon=0.01, center=False,
                                 gamma_regularizer=sn.keras.regularizers.l2(0.03),
                                 gamma_constraint=sn.keras.constraints.NonNeg()),
            L.Flatten(), L.Dropout(0.3, seed=4), L.Dense(2, activation="softmax")])
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        x = np.random.default_rng(0).standard_normal((5, 6, 6, 2)).astype(dtype)
        model.fit(x, np.arange(5) % 2, verbose=0)          # moving statistics move
        twin = to_keras(model)
        back = from_keras(twin)
    bn, drop = twin.layers[1], twin.layers[3]
    assert (bn.momentum, bn.epsilon, bn.center, bn.scale) == (0.9, 0.01, False, True)
    assert type(bn.gamma_regularizer).__name__ == "L2"
    assert type(bn.gamma_constraint).__name__ == "NonNeg"
    assert (drop.rate, drop.seed) == (0.3, 4)
    for ours, theirs, again in zip(model.get_weights(), twin.get_weights(), back.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(ours, again)
    mine, copy = model.layers[1], back.layers[1]
    assert (copy.momentum, copy.epsilon, copy.center, copy.axis) == (0.9, 0.01, False, -1)
    assert type(copy.gamma_regularizer).__name__ == "L2"
    assert copy.gamma_regularizer.l2 == pytest.approx(mine.gamma_regularizer.l2)
    assert (back.layers[3].rate, back.layers[3].seed) == (0.3, 4)
    with floatx_scope(dtype):
        check(model.predict(x, verbose=0), twin.predict(x, verbose=0), dtype, "predict",
              "to_keras twin")

"""`to_categorical` vs Keras, `set_random_seed` reproducibility, initializers' statistics/names."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from scratchnet import backend, initializers, layers, utils
from scratchnet.models import Sequential
from tf_support import import_tf

# Initializer checks are statistical, not parity checks: sample moments of n draws are
# compared with their theoretical values within SIGMAS standard errors (fixed seeds make the
# tests deterministic; 6 standard errors keeps them valid for any seed in practice).
SIGMAS = 6


# ---------------------------------------------------------------- to_categorical
@st.composite
def labels(draw):
    num = draw(st.integers(1, 6))
    shape = draw(st.sampled_from(((5,), (1,), (4, 1), (1, 1), (2, 3), (2, 3, 1), (3, 2, 2))))
    dtype = draw(st.sampled_from(("int64", "int32", "uint8", "float32", "float64")))
    y = draw(hnp.arrays(dtype, shape, elements=st.integers(0, num - 1)))
    given_classes = draw(st.sampled_from((None, num, num + 2)))
    as_list = draw(st.booleans())
    return (y.tolist() if as_list else y), given_classes


@given(case=labels())
def test_to_categorical_matches_keras(case):
    import_tf()
    import keras

    y, num_classes = case
    ours = utils.to_categorical(y, num_classes)
    theirs = keras.utils.to_categorical(y, num_classes)
    assert ours.shape == theirs.shape
    assert ours.dtype == theirs.dtype
    np.testing.assert_array_equal(ours, theirs)


def test_to_categorical_lecture_usage():
    y = np.array([3, 0, 9, 1], dtype=np.uint8)  # MNIST labels are uint8
    one_hot = utils.to_categorical(y, 10)
    assert one_hot.shape == (4, 10) and one_hot.dtype == np.float64
    np.testing.assert_array_equal(one_hot.argmax(axis=1), y)
    assert one_hot.sum() == 4
    assert utils.to_categorical(y.reshape(4, 1)).shape == (4, 10)  # (n, 1) labels drop the 1
    assert utils.to_categorical([[1], [0]]).shape == (2, 2)
    np.testing.assert_array_equal(utils.to_categorical(2, 4), [0, 0, 1, 0])


def test_scratchnet_namespace_exposes_utils():
    import scratchnet

    assert scratchnet.keras.utils.to_categorical is utils.to_categorical
    assert utils.set_random_seed is backend.set_random_seed


# ---------------------------------------------------------------- set_random_seed
def _model():
    return Sequential([layers.Flatten(input_shape=(3, 4)),
                       layers.Dense(8, activation="relu", kernel_initializer="he_normal"),
                       layers.Dense(5, activation="tanh", bias_initializer="random_uniform"),
                       layers.Dense(3, activation="softmax")])


def test_same_seed_gives_same_initial_weights():
    utils.set_random_seed(1234)
    first = _model().get_weights()
    utils.set_random_seed(1234)
    second = _model().get_weights()
    assert len(first) == len(second) == 6
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    utils.set_random_seed(4321)
    third = _model().get_weights()
    assert not np.array_equal(first[0], third[0])


@pytest.mark.parametrize("floatx", ["float32", "float64"])
def test_same_seed_gives_same_history_with_shuffle(floatx):
    backend.set_floatx(floatx)
    data_rng = np.random.default_rng(0)
    x = data_rng.standard_normal((50, 3, 4))
    y = data_rng.integers(0, 3, 50)

    def run():
        utils.set_random_seed(7)
        model = _model()
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x, y, epochs=3, batch_size=8, shuffle=True, validation_split=0.2,
                            verbose=0)
        return history.history, model.get_weights()

    (h1, w1), (h2, w2) = run(), run()
    assert h1 == h2  # bit-identical: the same shuffles, the same arithmetic
    assert set(h1) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)
    assert w1[0].dtype == np.dtype(floatx)


def test_shuffle_order_depends_on_the_seed():
    x = np.arange(40, dtype=float).reshape(20, 2)
    y = np.arange(20, dtype=float)
    losses = []
    for seed in (1, 1, 2):
        utils.set_random_seed(0)
        model = Sequential([layers.Dense(1, input_shape=(2,))])
        model.compile(optimizer="sgd", loss="mse")
        utils.set_random_seed(seed)  # same weights, shuffles by `seed`
        losses.append(model.fit(x / 40, y / 20, batch_size=4, epochs=2, verbose=0)
                      .history["loss"])
    assert losses[0] == losses[1]
    assert losses[0] != losses[2]


@pytest.mark.parametrize("seed", [-1, 1.5, "3", None, True])
def test_set_random_seed_rejects_non_ints(seed):
    with pytest.raises(ValueError, match="seed"):
        utils.set_random_seed(seed)


# ---------------------------------------------------------------- initializers
SHAPE = (300, 200)  # fan_in 300, fan_out 200
N = SHAPE[0] * SHAPE[1]


def _draw(name, shape=SHAPE, dtype="float64"):
    utils.set_random_seed(2024)
    return initializers.get(name)(shape, dtype)


def _check_moments(w, mean, std, what):
    """Sample mean and std within SIGMAS standard errors of (mean, std)."""
    n = w.size
    assert abs(w.mean() - mean) <= SIGMAS * std / np.sqrt(n), f"{what}: mean {w.mean()}"
    # standard error of the sample std is about std / sqrt(2 n) (<= that for lighter tails)
    assert abs(w.std() - std) <= SIGMAS * std / np.sqrt(2 * n), f"{what}: std {w.std()} vs {std}"


def test_glorot_uniform_bounds_and_moments():
    limit = np.sqrt(6 / sum(SHAPE))
    w = _draw("glorot_uniform")
    assert w.shape == SHAPE and w.dtype == np.float64
    assert np.all(np.abs(w) <= limit)
    assert np.abs(w).max() > 0.999 * limit  # really spread to the bound
    _check_moments(w, 0.0, limit / np.sqrt(3), "glorot_uniform")


@pytest.mark.parametrize("name,fan", [("he_normal", SHAPE[0]), ("glorot_normal", sum(SHAPE) / 2)])
def test_truncated_normals_cut_at_two_std(name, fan):
    scale = 2.0 if name == "he_normal" else 1.0
    target_std = np.sqrt(scale / fan)               # the variance Keras aims for
    untruncated_std = target_std / 0.87962566103423978
    w = _draw(name)
    assert np.all(np.abs(w) <= 2 * untruncated_std)
    assert np.abs(w).max() > 0.99 * 2 * untruncated_std
    _check_moments(w, 0.0, target_std, name)


def test_he_uniform_bounds():
    limit = np.sqrt(6 / SHAPE[0])
    w = _draw("he_uniform")
    assert np.all(np.abs(w) <= limit) and np.abs(w).max() > 0.999 * limit
    _check_moments(w, 0.0, limit / np.sqrt(3), "he_uniform")


def test_random_normal_and_uniform_defaults():
    _check_moments(_draw("random_normal"), 0.0, 0.05, "random_normal")
    w = _draw("random_uniform")
    assert np.all(np.abs(w) <= 0.05)
    _check_moments(w, 0.0, 0.05 / np.sqrt(3), "random_uniform")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_zeros_ones_and_dtype(dtype):
    z = initializers.get("zeros")((3, 4), dtype)
    o = initializers.get("ones")((5,), dtype)
    assert z.dtype == np.dtype(dtype) and o.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(z, np.zeros((3, 4)))
    np.testing.assert_array_equal(o, np.ones(5))
    assert _draw("glorot_uniform", dtype=dtype).dtype == np.dtype(dtype)


def test_fans_like_keras():
    assert initializers.compute_fans((5, 7)) == (5, 7)
    assert initializers.compute_fans((3, 3, 4, 8)) == (36, 72)  # conv kernels
    assert initializers.compute_fans((6,)) == (6, 6)


def test_seeded_initializer_is_repeatable():
    a = initializers.GlorotUniform(seed=3)((4, 5))
    b = initializers.GlorotUniform(seed=3)((4, 5))
    np.testing.assert_array_equal(a, b)


NAMES = ["zeros", "ones", "random_uniform", "random_normal", "glorot_uniform", "glorot_normal",
         "he_uniform", "he_normal", "lecun_uniform", "lecun_normal", "truncated_normal"]
# ('constant' too is a name in both, but keras.initializers.get('constant') fails in Keras 3.15)


@pytest.mark.parametrize("name", NAMES)
def test_initializer_names_match_keras(name):
    import_tf()
    import keras

    ours = initializers.get(name)
    theirs = keras.initializers.get(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert type(initializers.get(type(theirs).__name__)) is type(ours)  # 'GlorotUniform' works
    assert initializers.name_of(ours) == name


@pytest.mark.parametrize("name", ["glorot_uniform", "he_normal", "glorot_normal", "he_uniform",
                                  "lecun_uniform", "lecun_normal", "truncated_normal"])
def test_initializer_spread_matches_keras(name):
    """Keras's own draws obey the same bound and have the same std as ours."""
    import_tf()
    import keras

    theirs = np.asarray(keras.initializers.get(name)(SHAPE, dtype="float64"), dtype=np.float64)
    ours = _draw(name)
    bound = max(np.abs(ours).max(), np.abs(theirs).max())
    assert np.abs(ours).max() > 0.99 * bound and np.abs(theirs).max() > 0.99 * bound
    std = theirs.std()
    assert abs(ours.std() - std) <= 2 * SIGMAS * std / np.sqrt(2 * N)


def test_dense_defaults_are_keras_defaults():
    layer = layers.Dense(4)
    assert isinstance(layer.kernel_initializer, initializers.GlorotUniform)
    assert isinstance(layer.bias_initializer, initializers.Zeros)
    config = layer.get_config()
    assert config["kernel_initializer"]["class_name"] == "GlorotUniform"   # Keras's form
    assert config["bias_initializer"]["class_name"] == "Zeros"
    layer(np.ones((2, 3)))
    np.testing.assert_array_equal(layer.bias, np.zeros(4))

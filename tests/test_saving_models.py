"""Whole-model saving (issue 9, Tests): model.save / load_model / to_json, against real tf.keras.

1. The interop matrix: lecture models (the MLP, the Coursera CNN, LeNet-5 with
   BatchNormalization, the Python-ML CNN on smaller images), a Functional model with Add,
   Concatenate, a nested Sequential, Dropout and regularizers; each optimizer; '.keras' and
   '.h5'; both directions. Both sides are built from one `def build(K)`.
   - Keras -> scratchnet: tf.keras trains 2 epochs and saves; scratchnet's `load_model` gives
     the same predictions, and k=2 further `fit` steps equal the steps tf.keras takes.
   - scratchnet -> Keras: scratchnet trains and saves; `keras.models.load_model` gives the same
     predictions; '.keras': k further fit steps equal. '.h5': Keras 3.15 cannot `fit` a model it
     loaded from a legacy file (its own files too: "Unknown variable ... optimizer can only be
     called for the variables it was originally built with"), so there the optimizer variables
     Keras restored are compared with scratchnet's instead.
   Dropout's masks come from each library's own random generator, so before the k compared
   steps the Dropout rates are set to 0 on both sides (the rate itself travelled in the file:
   the predictions and configs check that). The matrix is printed at the end of the module
   (run with -s) and written to <pytest tmp>/saving_matrix.txt.
2. Round trips inside scratchnet for every layer and model kind, both dtypes: bitwise-equal
   weights and predictions after .keras, .h5 and to_json + set_weights.
3. custom_objects, @register_keras_serializable, unknown classes, Lambda (safe_mode) and
   Keras-only options scratchnet does not implement: one clear ValueError.
4. The lecture's save/load lines with only the import swapped.
"""
import json
import os
import warnings
import zipfile

import numpy as np
import pytest

import scratchnet as sn
from parity_log import check
from tf_support import import_tf
from tolerances import assert_close_normwise, relative_error, tolerance

tf = import_tf()
import keras  # noqa: E402
from reference import floatx_scope  # noqa: E402  (needs TF)

from scratchnet import lecture_models  # noqa: E402
import lecture_cnns  # noqa: E402

FORMATS = (".keras", ".h5")
AREA = "saving interop"


# =============================================================================== the models
def mlp(K):
    """ML Zero to Hero 2 / Coursera C1 W2 (scratchnet/lecture_models.py)."""
    return lecture_models.get("mlp").builder(K)


def coursera_cnn(K):
    """Coursera C1 W3 exercise (32 filters), as the notebook writes it (tests/lecture_cnns.py)."""
    return lecture_cnns.coursera_cnn(K.Sequential, K.layers, 32)


def lenet5_bn(K):
    """Hands-On CV ch. 3 LeNet-5 with BatchNormalization after each convolution."""
    return lecture_models.get("lenet5_bn").builder(K)


def python_ml_cnn_small(K):
    """Python ML ch. 15's CNN (Conv 5x5 valid x2, MaxPool, Dense(1024), Dropout(0.5)) on
    16x16 images instead of 28x28, for speed; otherwise as the book writes it."""
    L = K.layers
    return K.Sequential([
        L.Conv2D(32, (5, 5), padding="valid", activation="relu", input_shape=(16, 16, 1)),
        L.MaxPool2D((2, 2)),
        L.Conv2D(64, (5, 5), padding="valid", activation="relu"),
        L.MaxPool2D((2, 2)),
        L.Flatten(),
        L.Dense(1024, activation="relu"),
        L.Dropout(0.5),
        L.Dense(10, activation="softmax"),
    ])


def functional(K):
    """Add, Concatenate, a nested Sequential, BatchNormalization, Dropout, l2/l1 regularizers."""
    L = K.layers
    inputs = K.Input((12,))
    inner = K.Sequential([K.Input((12,)), L.Dense(8, activation="tanh"),
                          L.BatchNormalization(), L.Dense(8)], name="inner")
    a = inner(inputs)
    b = L.Dense(8, activation="relu", kernel_regularizer=K.regularizers.l2(0.01))(inputs)
    c = L.Dense(8, bias_regularizer="l1")(inputs)
    merged = L.Concatenate()([L.Add()([a, b]), c])
    merged = L.Dropout(0.3)(merged)
    return K.Model(inputs, L.Dense(10, activation="softmax")(merged), name="functional")


MODELS = {"mlp": (mlp, (28, 28)), "coursera_cnn": (coursera_cnn, (28, 28, 1)),
          "lenet5_bn": (lenet5_bn, (28, 28, 1)),
          "python_ml_cnn_16x16": (python_ml_cnn_small, (16, 16, 1)),
          "functional": (functional, (12,))}

OPTIMIZERS = {
    "sgd": lambda K: K.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "adam": lambda K: K.optimizers.Adam(learning_rate=0.01, amsgrad=False),
    "rmsprop": lambda K: K.optimizers.RMSprop(learning_rate=0.01, momentum=0.5),
    "adagrad": lambda K: K.optimizers.Adagrad(learning_rate=0.1),
    "adadelta": lambda K: K.optimizers.Adadelta(learning_rate=1.0),
}


def compiled(K, model_name, optimizer):
    model = MODELS[model_name][0](K)
    model.compile(optimizer=OPTIMIZERS[optimizer](K), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data(model_name, dtype, n=8):
    """n inputs of the model's shape and sparse labels; batches of n/2, so one epoch = 2 steps."""
    rng = np.random.default_rng(7)
    shape = MODELS[model_name][1]
    return rng.uniform(0, 1, (n,) + shape).astype(dtype), rng.integers(0, 10, n)


K_STEPS = 2                        # the compared fit steps after loading
FIT = dict(batch_size=4, shuffle=False, verbose=0)


def dropout_off(model):
    """Set every Dropout rate to 0 (recursing into nested models) and drop Keras's traced
    train function so that the next `fit` retraces with the new rate."""
    for layer in model.layers:
        if hasattr(layer, "layers"):
            dropout_off(layer)
        elif type(layer).__name__ == "Dropout":
            layer.rate = 0.0
    if hasattr(model, "train_function"):
        model.train_function = None


def quiet_save(model, path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")            # Keras: "HDF5 format is considered legacy"
        model.save(path)


def keras_load(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return keras.models.load_model(path)


# the matrix, printed at the end of the module
MATRIX = []


@pytest.fixture(scope="module", autouse=True)
def matrix_table(tmp_path_factory):
    yield
    if not MATRIX:
        return
    head = (f"{'model':<20} {'optimizer':<9} {'dtype':<8} {'format':<7} {'direction':<16} "
            f"{'predict max rel':>15} {'fit normwise':>12}  fit compared")
    lines = [head, "-" * len(head)]
    for row in sorted(MATRIX):
        model, opt, dtype, fmt, direction, pred, fit, what = row
        lines.append(f"{model:<20} {opt:<9} {dtype:<8} {fmt:<7} {direction:<16} "
                     f"{pred:>15.2e} {fit:>12.2e}  {what}")
    lines.append("(fit normwise: max |a - b| / max |b| per weight array, the worst array)")
    text = "\n".join(lines)
    path = tmp_path_factory.getbasetemp() / "saving_matrix.txt"
    path.write_text(text + "\n")
    print(f"\nsaving interop matrix ({len(MATRIX)} rows; also in {path}):\n{text}")


def keras_restore_legacy_optimizer(model, path):
    """What Keras's legacy load_model means to do: a fresh optimizer of the saved config,
    built on the model's trainable variables, set from the file by Keras's own reader."""
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    optimizer.build(model.trainable_variables)
    with h5py.File(path, "r") as f:
        values = [np.asarray(v) for v in
                  legacy_h5_format.load_optimizer_weights_from_hdf5_group(f)]
    optimizer.set_weights(values)


def weights_error(ours, theirs, dtype, what):
    worst = 0.0
    a, b = ours.get_weights(), theirs.get_weights()
    assert len(a) == len(b), f"{what}: {len(a)} weights vs {len(b)}"
    for i, (u, v) in enumerate(zip(a, b)):
        # (normwise: entries with an exactly-zero gradient are noise that Adam amplifies)
        assert_close_normwise(u, v, dtype, f"{what}: weight {i}")
        worst = max(worst, normwise_error(u, v))
    return worst


def normwise_error(actual, expected):
    """max |a - b| / max |b|: the error assert_close_normwise bounds."""
    a, b = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)) if b.size else 0.0


def governed_error(actual, expected, dtype):
    """The largest relative error over the entries the relative tolerance governs
    (|expected| >= atol / rtol), as tests/parity_log.py reports it."""
    rtol, atol = tolerance(dtype)
    a, b = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    big = np.abs(b) >= atol / rtol
    return relative_error(a[big], b[big]) if big.any() else 0.0


def interop(tmp_path, model_name, optimizer, fmt, dtype):
    x, y = data(model_name, dtype)
    tag = (model_name, optimizer, dtype, fmt)
    with floatx_scope(dtype):
        # ---- Keras -> scratchnet
        theirs = compiled(keras, model_name, optimizer)
        theirs.fit(x, y, epochs=2, **FIT)
        path = str(tmp_path / f"keras_made{fmt}")
        quiet_save(theirs, path)
        ours = sn.keras.models.load_model(path)
        assert type(ours.optimizer).__name__ == type(theirs.optimizer).__name__
        expected = theirs.predict(x, verbose=0)
        got = ours.predict(x, verbose=0)
        check(got, expected, dtype, f"{tag}: predictions after load", AREA)
        pred_err = governed_error(got, expected, dtype)
        dropout_off(ours), dropout_off(theirs)
        ours.fit(x, y, epochs=1, **FIT)
        theirs.fit(x, y, epochs=1, **FIT)
        assert ours.optimizer.iterations == theirs.optimizer.iterations.numpy() == 2 * 2 + K_STEPS
        fit_err = weights_error(ours, theirs, dtype, f"{tag}: weights after {K_STEPS} steps")
        MATRIX.append(tag[:3] + (fmt, "keras->scratch", pred_err, fit_err,
                                 f"weights after {K_STEPS} fit steps"))

        # ---- scratchnet -> Keras
        ours = compiled(sn.keras, model_name, optimizer)
        ours.fit(x, y, epochs=2, **FIT)
        path = str(tmp_path / f"scratch_made{fmt}")
        ours.save(path)
        theirs = keras_load(path)
        expected = ours.predict(x, verbose=0)
        got = theirs.predict(x, verbose=0)
        check(got, expected, dtype, f"{tag}: Keras's predictions of scratchnet's file", AREA)
        pred_err = governed_error(got, expected, dtype)
        if fmt == ".h5":
            # Keras 3.15 restores no optimizer slots from a legacy file (its own files too: it
            # builds the optimizer on `model._trainable_variables`, which is empty for a
            # Sequential, so `set_weights` fails and only logs a warning), and the model it
            # loaded cannot `fit`. So Keras's own legacy reader reads the file's optimizer
            # weights into a fresh twin optimizer built on the model's trainable variables.
            keras_restore_legacy_optimizer(theirs, path)
            mine = ours.optimizer.state_arrays(ours.trainable_weights)
            restored = [v.numpy() for v in theirs.optimizer.variables]
            assert len(mine) == len(restored), (len(mine), len(restored))
            for i, (u, v) in enumerate(zip(mine, restored)):
                if u.dtype.kind == "f":
                    check(u, v, dtype, f"{tag}: optimizer variable {i}", AREA)
                else:
                    np.testing.assert_array_equal(v, u)
        dropout_off(ours), dropout_off(theirs)
        ours.fit(x, y, epochs=1, **FIT)
        theirs.fit(x, y, epochs=1, **FIT)
        assert ours.optimizer.iterations == theirs.optimizer.iterations.numpy() == 2 * 2 + K_STEPS
        fit_err = weights_error(ours, theirs, dtype, f"{tag}: weights after {K_STEPS} steps")
        what = f"weights after {K_STEPS} fit steps" + (
            " (optimizer via Keras's legacy reader)" if fmt == ".h5" else "")
        MATRIX.append(tag[:3] + (fmt, "scratch->keras", pred_err, fit_err, what))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_every_optimizer_travels_both_ways(tmp_path, optimizer, fmt):
    interop(tmp_path, "mlp", optimizer, fmt, "float64")


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model_name", [m for m in MODELS if m != "mlp"])
def test_every_lecture_model_travels_both_ways(tmp_path, model_name, fmt):
    interop(tmp_path, model_name, "adam", fmt, "float64")


@pytest.mark.parametrize("fmt", FORMATS)
def test_float32_smoke(tmp_path, fmt):
    interop(tmp_path, "functional", "rmsprop", fmt, "float32")


# ================================================================ 2. round trips in scratchnet
DTYPES = ("float32", "float64")
ROUND_TRIPS = (".keras", ".h5", "json")
# every layer kind of scratchnet.layers.__all__ that takes a place in a model (the aliases
# AvgPool2D, Convolution2D, MaxPool2D are the same classes; Layer is the base class, a user
# subclass of it is tested in part 3; `add` / `concatenate` are the functional forms)
LAYER_KINDS = {"Activation", "Add", "Average", "AveragePooling2D", "BatchNormalization",
               "Concatenate", "Conv2D", "Cropping2D", "Dense", "Dropout", "Flatten",
               "GlobalAveragePooling2D", "GlobalMaxPooling2D", "InputLayer", "MaxPooling2D",
               "Maximum", "Minimum", "Multiply", "Permute", "ReLU", "Reshape", "Softmax",
               "Subtract", "UpSampling2D", "ZeroPadding2D", "Rescaling", "RandomFlip",
               "RandomRotation", "RandomZoom", "RandomTranslation", "RandomContrast",
               "Resizing"}


def every_layer(K):
    """One Functional model with every layer kind, most of them with non-default options."""
    L, R = K.layers, K.regularizers
    inputs = K.Input((8, 8, 3), name="image")
    pre = L.Rescaling(0.5, offset=0.1)(inputs)         # preprocessing: identity at inference
    for augment in (L.RandomFlip("horizontal", seed=1), L.RandomRotation(0.1, seed=2),
                    L.RandomZoom(0.1, seed=3), L.RandomContrast(0.2, value_range=(-9, 9)),
                    L.RandomTranslation(0.1, 0.2, fill_mode="constant", seed=4)):
        pre = augment(pre)
    pre = L.Resizing(8, 8, interpolation="nearest")(pre)
    c = L.Conv2D(4, 3, padding="same", strides=1, activation="relu", use_bias=True,
                 kernel_initializer="he_normal", kernel_regularizer=R.l2(1e-3),
                 bias_regularizer=R.l1(1e-4), name="conv")(pre)
    b = L.BatchNormalization(momentum=0.9, epsilon=1e-2, center=True, scale=False)(c)
    z = L.ZeroPadding2D(((1, 2), (2, 1)))(b)                       # 11 x 11
    cr = L.Cropping2D(((1, 2), (2, 1)))(z)                         # 8 x 8
    m = L.MaxPooling2D(2)(cr)                                      # 4 x 4
    a = L.AveragePooling2D(3, strides=1, padding="same")(cr)      # 8 x 8
    u = L.UpSampling2D(2)(m)                                       # 8 x 8
    merged = L.Concatenate(axis=-1)([L.Add()([u, a]), L.Subtract()([u, a]),
                                     L.Multiply()([u, a]), L.Average()([u, a]),
                                     L.Maximum()([u, a]), L.Minimum()([u, a])])   # 8x8x24
    p = L.Permute((2, 1, 3))(merged)
    r = L.Reshape((64, 24))(p)
    r = L.Activation("tanh")(L.ReLU(max_value=6.0)(r))
    flat = L.Dense(6, kernel_regularizer="l1_l2")(L.Dropout(0.25, seed=3)(L.Flatten()(r)))
    g1 = L.Dense(6, use_bias=False)(L.GlobalAveragePooling2D()(merged))
    g2 = L.Dense(6, activation="sigmoid")(L.GlobalMaxPooling2D(keepdims=False)(merged))
    out = L.Softmax(axis=-1)(L.Add()([flat, g1, g2]))
    return K.Model(inputs, out, name="every_layer")


def sequential_model(K):
    L = K.layers
    return K.Sequential([K.Input((8, 8, 3)), L.Conv2D(3, 3, activation="relu"),
                         L.BatchNormalization(), L.MaxPooling2D(), L.Flatten(),
                         L.Dropout(0.5), L.Dense(6, activation="softmax")], name="seq")


def nested_model(K):
    """A Functional model around a nested Sequential and a nested Functional model."""
    L = K.layers
    inner_seq = K.Sequential([K.Input((8, 8, 3)), L.Conv2D(2, 3), L.Flatten(),
                              L.Dense(5, activation="relu")], name="inner_seq")
    i = K.Input((8, 8, 3))
    inner_fn = K.Model(i, L.Dense(5)(L.GlobalAveragePooling2D()(i)), name="inner_fn")
    inputs = K.Input((8, 8, 3))
    out = L.Dense(6, activation="softmax")(L.Concatenate()([inner_seq(inputs),
                                                              inner_fn(inputs)]))
    return K.Model(inputs, out, name="outer")


@sn.keras.saving.register_keras_serializable(package="scratchnet_tests")
class Registered(sn.keras.Model):
    """A subclassed model with get_config: saved whole, rebuilt from its config."""

    def __init__(self, units=6, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.conv = sn.keras.layers.Conv2D(3, 3, activation="relu")
        self.flat = sn.keras.layers.Flatten()
        self.out = sn.keras.layers.Dense(units, activation="softmax")

    def call(self, x):
        return self.out(self.flat(self.conv(x)))

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class NoConfig(sn.keras.Model):
    """A subclassed model without get_config (LeNet5(Model) of Hands-On CV ch. 3 style)."""

    def __init__(self):
        super().__init__()
        self.conv = sn.keras.layers.Conv2D(3, 3, activation="relu")
        self.flat = sn.keras.layers.Flatten()
        self.out = sn.keras.layers.Dense(6, activation="softmax")

    def call(self, x):
        return self.out(self.flat(self.conv(x)))


MODEL_KINDS = {"every_layer": lambda: every_layer(sn.keras),
               "sequential": lambda: sequential_model(sn.keras),
               "nested": lambda: nested_model(sn.keras),
               "subclassed_registered": lambda: Registered(units=6)}


def trained(make, dtype):
    """A model compiled with Adam and trained a step (weights, BN statistics and optimizer
    state all moved off their initial values), and its inputs."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 8, 8, 3)).astype(dtype)
    y = rng.integers(0, 6, 6)
    model = make()
    model.compile(optimizer=sn.keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, batch_size=3, verbose=0)
    return model, x


def assert_identical(a, b, what):
    a, b = list(a), list(b)
    assert len(a) == len(b), f"{what}: {len(a)} arrays vs {len(b)}"
    for i, (u, v) in enumerate(zip(a, b)):
        u, v = np.asarray(u), np.asarray(v)
        assert u.dtype == v.dtype, f"{what} {i}: dtype {u.dtype} vs {v.dtype}"
        np.testing.assert_array_equal(u, v, err_msg=f"{what} {i}")


def round_trip(model, how, tmp_path):
    if how == "json":
        again = sn.keras.models.model_from_json(model.to_json())
        again.set_weights(model.get_weights())
        return again
    path = str(tmp_path / f"m{how}")
    model.save(path)
    return sn.keras.models.load_model(path)


def test_every_layer_kind_is_in_the_round_trip_model():
    """The list above is scratchnet.layers.__all__ less aliases, the base class and functions."""
    from scratchnet import layers

    kinds = {type(layer).__name__ for layer in every_layer(sn.keras).layers}
    assert kinds == LAYER_KINDS
    classes = {getattr(layers, n).__name__ for n in layers.__all__
               if isinstance(getattr(layers, n), type) and n != "Layer"}
    assert classes == LAYER_KINDS | {"InputLayer"}


@pytest.mark.parametrize("how", ROUND_TRIPS)
@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_is_bitwise(tmp_path, kind, how, dtype):
    with floatx_scope(dtype):
        model, x = trained(MODEL_KINDS[kind], dtype)
        again = round_trip(model, how, tmp_path)
        assert type(again) is type(model)
        assert again.get_config() == model.get_config()
        if kind != "subclassed_registered":   # (a rebuilt subclassed model's sublayers get
            assert again.weight_paths == model.weight_paths  # fresh names, as in Keras)
        assert_identical(again.get_weights(), model.get_weights(), "weight")
        out = again.predict(x, verbose=0)
        assert out.dtype == np.dtype(dtype)
        assert_identical([out], [model.predict(x, verbose=0)], "prediction")
        if how != "json":          # the compiled state and the optimizer's slots travel too
            assert type(again.optimizer) is type(model.optimizer)
            mine, theirs = again.optimizer.get_config(), model.optimizer.get_config()
            # the learning rate travels as a variable of the model's dtype (as in Keras):
            # 0.01 comes back as float32(0.01) = 0.009999999776482582 in float32
            assert np.array(mine.pop("learning_rate"), dtype) == \
                np.array(theirs.pop("learning_rate"), dtype)
            assert mine == theirs
            for key in ("loss", "metrics", "loss_weights"):
                assert again.get_compile_config()[key] == model.get_compile_config()[key]
            assert_identical(again.optimizer.state_arrays(again.trainable_weights),
                             model.optimizer.state_arrays(model.trainable_weights),
                             "optimizer array")


@pytest.mark.parametrize("dtype", DTYPES)
def test_subclassed_model_without_get_config(tmp_path, dtype):
    """Weights-only saving works (both layouts); saving the whole model either works or
    says clearly that the class needs get_config."""
    with floatx_scope(dtype):
        model, x = trained(NoConfig, dtype)
        for layout in (".weights.h5", ".h5"):
            path = str(tmp_path / f"w{layout}")
            model.save_weights(path)
            twin = NoConfig()
            twin(x)
            twin.load_weights(path)
            assert_identical(twin.get_weights(), model.get_weights(), "weight")
            assert_identical([twin.predict(x, verbose=0)], [model.predict(x, verbose=0)],
                             "prediction")
        for fmt in FORMATS:
            path = str(tmp_path / f"m{fmt}")
            try:
                model.save(path)
                again = sn.keras.models.load_model(path, custom_objects={"NoConfig": NoConfig})
            except (ValueError, TypeError, NotImplementedError) as error:
                assert "NoConfig" in str(error) and "config" in str(error), str(error)
            else:
                assert_identical(again.get_weights(), model.get_weights(), "weight")
                assert_identical([again.predict(x, verbose=0)],
                                 [model.predict(x, verbose=0)], "prediction")


# ====================================================== 3. custom objects, unknown classes, safety
class Scale(sn.keras.layers.Layer):
    """A user layer: x * w * factor, one weight per feature."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="random_normal",
                                 name="w")

    def forward(self, x, training=False):           # scratchnet layers: forward / backward
        return x * self.w * self.factor, x

    def backward(self, dy, x, need_input_grad=True):
        self.add_grad(0, (dy * x * self.factor).sum(axis=0))
        return dy * self.w * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@sn.keras.saving.register_keras_serializable(package="scratchnet_tests")
class RegisteredScale(Scale):
    pass


def with_layer(layer):
    model = sn.keras.Sequential([sn.keras.Input((4,)), sn.keras.layers.Dense(4), layer,
                                 sn.keras.layers.Dense(2)])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    model.fit(x, np.ones((3, 2), "float32"), verbose=0)      # the user layer trains a step
    return model


@pytest.mark.parametrize("fmt", FORMATS)
def test_custom_objects_and_registration(tmp_path, fmt):
    x = np.random.default_rng(0).normal(size=(3, 4)).astype("float32")
    model = with_layer(Scale(factor=3.0))
    path = str(tmp_path / f"custom{fmt}")
    model.save(path)
    with pytest.raises(ValueError, match="Scale") as error:
        sn.keras.models.load_model(path)
    assert "custom_objects" in str(error.value)
    for again in (sn.keras.models.load_model(path, custom_objects={"Scale": Scale}),):
        assert again.layers[1].factor == 3.0
        assert_identical(again.get_weights(), model.get_weights(), "weight")
        assert_identical([again.predict(x, verbose=0)], [model.predict(x, verbose=0)], "pred")
    with sn.keras.saving.custom_object_scope({"Scale": Scale}):
        again = sn.keras.models.load_model(path)
    assert_identical([again.predict(x, verbose=0)], [model.predict(x, verbose=0)], "pred")

    registered = with_layer(RegisteredScale(factor=0.5))
    path = str(tmp_path / f"registered{fmt}")
    registered.save(path)
    again = sn.keras.models.load_model(path)          # no custom_objects needed
    assert type(again.layers[1]) is RegisteredScale and again.layers[1].factor == 0.5
    assert_identical([again.predict(x, verbose=0)], [registered.predict(x, verbose=0)], "pred")


def keras_made(tmp_path, name, build, fmt=".keras"):
    with floatx_scope("float32"):
        model = build()
        model.compile(optimizer=model._test_optimizer if hasattr(model, "_test_optimizer")
                      else "adam", loss="mse")
        path = str(tmp_path / f"{name}{fmt}")
        quiet_save(model, path)
    return path


def test_lambda_layers_are_refused(tmp_path):
    """A Keras file whose model holds a Lambda (Python code, marshalled): refused, with
    safe_mode named, and nothing of the code runs."""
    path = keras_made(tmp_path, "lambda", lambda: keras.Sequential(
        [keras.Input((3,)), keras.layers.Lambda(lambda t: t * 2.0), keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match="safe_mode"):
        sn.keras.models.load_model(path)
    with zipfile.ZipFile(path) as archive:                 # also straight from a config
        config = archive.read("config.json").decode()
    with pytest.raises(ValueError, match="safe_mode"):
        sn.keras.models.model_from_json(config)


def test_unknown_class_is_one_clear_error(tmp_path):
    config = json.loads(with_layer(sn.keras.layers.ReLU()).to_json())
    config["config"]["layers"][2]["class_name"] = "FancyLayer"
    config["config"]["layers"][2]["module"] = "my_package.layers"
    with pytest.raises(ValueError, match="FancyLayer"):
        sn.keras.models.model_from_json(json.dumps(config))


def _adam_weight_decay():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model._test_optimizer = keras.optimizers.Adam(weight_decay=0.1)
    return model


@pytest.mark.parametrize("option, build", [
    ("renorm", lambda: keras.Sequential([keras.Input((3,)),
                                         keras.layers.BatchNormalization(renorm=True)])),
    ("weight_decay", _adam_weight_decay),
])
def test_keras_options_scratchnet_lacks_are_refused(tmp_path, option, build):
    path = keras_made(tmp_path, option, build)
    with pytest.raises(ValueError, match=option):
        sn.keras.models.load_model(path)


# ============================================================== 4. the lecture code, as written
PYTHON_ML_SAVE_MODEL = '''
import tensorflow as tf
model = tf.keras.Sequential()
model.add(tf.keras.layers.Dense(units=1,input_dim=1))
model.compile(optimizer='sgd',loss='mse')
model.fit(x_train, y_train, epochs=3, verbose=0)
model.evaluate(x_test,y_test, verbose=0)
model.save('simple_model.h5')
before = model.predict(x_test, verbose=0)
model = tf.keras.models.load_model('simple_model.h5')
loss = model.evaluate(x_test,y_test, verbose=0)
'''


def test_python_ml_ch14_save_and_load_model(tmp_path, monkeypatch):
    """Python ML ch. 14: model.save('simple_model.h5') then tf.keras.models.load_model of it,
    the model compiled with loss='mse'. Keras 3.15 cannot load its own file ("Could not
    deserialize 'keras.metrics.mse'"); scratchnet can, and tf.keras reads scratchnet's file."""
    monkeypatch.chdir(tmp_path)
    x = np.arange(-2.0, 2.0, 0.25)
    data = {"x_train": x, "y_train": 2 * x - 1, "x_test": x[::3], "y_test": 2 * x[::3] - 1}
    ours = dict(data)
    exec(PYTHON_ML_SAVE_MODEL.replace("tensorflow", "scratchnet"), ours)
    assert_identical([ours["model"].predict(data["x_test"], verbose=0)], [ours["before"]],
                     "prediction")
    assert np.isfinite(ours["loss"])

    theirs = dict(data)
    with pytest.raises(Exception, match="mse"):             # Keras 3.15's own round trip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            exec(PYTHON_ML_SAVE_MODEL, theirs)

    os.replace("simple_model.h5", "keras_made.h5")         # Keras's file, read by scratchnet
    again = sn.keras.models.load_model("keras_made.h5")
    np.testing.assert_array_equal(again.predict(data["x_test"], verbose=0).astype(np.float32),
                                  theirs["model"].predict(data["x_test"], verbose=0))
    assert again.optimizer.iterations == theirs["model"].optimizer.iterations.numpy()

    exec(PYTHON_ML_SAVE_MODEL.replace("tensorflow", "scratchnet"), dict(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_loaded = keras.models.load_model("simple_model.h5", compile=False)
    np.testing.assert_array_equal(keras_loaded.predict(data["x_test"], verbose=0),
                                  sn.keras.models.load_model("simple_model.h5")
                                  .predict(data["x_test"], verbose=0))


HANDS_ON_CV_CH2 = '''
import tensorflow as tf
model = tf.keras.models.Sequential()
model.add(tf.keras.layers.Flatten())
model.add(tf.keras.layers.Dense(128, activation='relu'))
model.add(tf.keras.layers.Dense(10, activation='softmax'))
model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
model.fit(x_train, y_train, epochs=1, verbose=0)
model.save('mnist_model.keras')
model.save_weights('mnist.weights.h5')
loaded = tf.keras.models.load_model('mnist_model.keras')
'''


def test_hands_on_cv_ch2_save_load(tmp_path, monkeypatch):
    """Hands-On CV ch. 2: `.save()`, `.save_weights()`, `tf.keras.models.load_model()`
    (the chapter names the calls; the file names here are ours)."""
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    ns = {"x_train": rng.uniform(0, 1, (16, 28, 28)).astype("float32"),
          "y_train": rng.integers(0, 10, 16)}
    exec(HANDS_ON_CV_CH2.replace("tensorflow", "scratchnet"), ns)
    model, loaded = ns["model"], ns["loaded"]
    assert_identical(loaded.get_weights(), model.get_weights(), "weight")
    assert_identical([loaded.predict(ns["x_train"], verbose=0)],
                     [model.predict(ns["x_train"], verbose=0)], "prediction")
    twin = keras_load("mnist_model.keras")                  # and tf.keras reads both files
    np.testing.assert_allclose(twin.predict(ns["x_train"], verbose=0),
                               model.predict(ns["x_train"], verbose=0), rtol=1e-4, atol=1e-6)
    twin.load_weights("mnist.weights.h5")
    assert_identical(twin.get_weights(), model.get_weights(), "weight")

"""save_weights / load_weights: Keras's two HDF5 layouts, both directions with tf.keras, and
files that cannot leave a model half-loaded (scratchnet/saving/weights_h5.py)."""
import os

import numpy as np
import pytest

import scratchnet as sn
from tf_support import import_tf
from tolerances import assert_close

tf = import_tf()
from reference import floatx_scope  # noqa: E402

LAYOUTS = (".weights.h5", ".h5")


def sequential(K):
    return K.Sequential([K.Input((8, 8, 1)), K.layers.Conv2D(3, 3, activation="relu"),
                         K.layers.BatchNormalization(), K.layers.MaxPooling2D(),
                         K.layers.Flatten(), K.layers.Dense(5, activation="relu"),
                         K.layers.Dropout(0.5), K.layers.Dense(3, activation="softmax")])


def functional_nested(K):
    inputs = K.Input((6,))
    inner = K.Sequential([K.Input((6,)), K.layers.Dense(4, activation="tanh"),
                          K.layers.Dense(4)])
    a = inner(inputs)
    b = K.layers.Dense(4, kernel_regularizer="l2")(inputs)
    return K.Model(inputs, K.layers.Dense(2)(K.layers.Add()([a, b])))


BUILDERS = {"sequential": (sequential, (8, 8, 1)), "functional": (functional_nested, (6,))}


def keras_save_weights(model, path):
    """tf.keras's writer of each layout (Keras 3 refuses to write the legacy one, so its own
    legacy writer is called directly, as tf.keras 2's save_weights('x.h5') wrote it)."""
    if path.endswith(".weights.h5"):
        model.save_weights(path)
        return
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("kind", sorted(BUILDERS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_travel_both_ways_with_tf_keras(tmp_path, layout, kind, dtype):
    build, shape = BUILDERS[kind]
    x = np.random.default_rng(0).normal(size=(5,) + shape).astype(dtype)
    with floatx_scope(dtype):
        ours, theirs = build(sn.keras), build(tf.keras)
        ours.compile("adam", "mse")
        ours.fit(x, ours.predict(x, verbose=0) + 0.5, verbose=0, epochs=2)  # moved weights
        path = str(tmp_path / f"ours{layout}")
        ours.save_weights(path)
        theirs.load_weights(path)                        # tf.keras reads scratchnet's file
        for a, b in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), dtype,
                     "predict after loading")

        keras_model, again = build(tf.keras), build(sn.keras)
        path = str(tmp_path / f"theirs{layout}")
        keras_save_weights(keras_model, path)
        again.load_weights(path)                         # scratchnet reads tf.keras's file
        for a, b in zip(again.get_weights(), keras_model.get_weights()):
            np.testing.assert_array_equal(a, b)


PYTHON_ML_SAVE = '''
import tensorflow as tf
model = tf.keras.Sequential()
model.add(tf.keras.layers.Dense(units=1,input_dim=1))
model.compile(optimizer='sgd',loss='mse')
model.fit(x_train, y_train, epochs=3, verbose=0)
model.save_weights('simple_weight.h5')
model = tf.keras.Sequential()
model.add(tf.keras.layers.Dense(units=1,input_dim=1))
model.compile(optimizer='sgd',loss='mse')
model.load_weights('simple_weight.h5')
'''


def test_python_ml_save_weights_cell_runs_as_written(tmp_path, monkeypatch):
    """Python ML ch. 14 writes `save_weights('simple_weight.h5')`, which Keras 3 refuses
    (it demands '.weights.h5'); scratchnet writes the tf.keras 2 file, and tf.keras 3 still
    reads it."""
    monkeypatch.chdir(tmp_path)
    x = np.arange(10.0)
    ns = {"x_train": x, "y_train": 2 * x - 1}
    exec(PYTHON_ML_SAVE.replace("tensorflow", "scratchnet"), ns)
    first_weights = ns["model"].get_weights()
    with pytest.raises(ValueError):                      # what Keras 3 does with the cell
        exec(PYTHON_ML_SAVE, {"x_train": x, "y_train": 2 * x - 1})
    twin = tf.keras.Sequential([tf.keras.Input((1,)), tf.keras.layers.Dense(1)])
    twin.load_weights("simple_weight.h5")
    for a, b in zip(first_weights, twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def _saved(tmp_path, layout):
    model = sequential(sn.keras)
    path = str(tmp_path / f"m{layout}")
    model.save_weights(path)
    return model, path


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_file_that_does_not_fit_changes_nothing(tmp_path, layout):
    _, path = _saved(tmp_path, layout)
    other = sn.keras.Sequential([sn.keras.Input((8, 8, 1)),
                                 sn.keras.layers.Conv2D(4, 3, activation="relu"),
                                 sn.keras.layers.BatchNormalization(),
                                 sn.keras.layers.MaxPooling2D(), sn.keras.layers.Flatten(),
                                 sn.keras.layers.Dense(5), sn.keras.layers.Dropout(0.5),
                                 sn.keras.layers.Dense(3)])
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"m\.(weights\.)?h5.*shape"):
        other.load_weights(path)
    for a, b in zip(before, other.get_weights()):
        np.testing.assert_array_equal(a, b)
    smaller = sn.keras.Sequential([sn.keras.Input((8, 8, 1)), sn.keras.layers.Flatten(),
                                   sn.keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="load_weights"):
        smaller.load_weights(path)


@pytest.mark.parametrize("content", [b"", b"not an hdf5 file at all", b"\x89HDF\r\n\x1a\n"])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_empty_or_foreign_files_raise_one_clear_error(tmp_path, content, layout):
    model = sequential(sn.keras)
    before = model.get_weights()
    path = tmp_path / f"bad{layout}"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="bad"):
        model.load_weights(str(path))
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        model.save_weights(str(tmp_path / "weights.ckpt"))
    with pytest.raises(ValueError, match="no such file"):
        model.load_weights(str(tmp_path / "missing.h5"))


# (damaged and hostile files of every kind: tests/test_saving_safety.py)


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    model, path = _saved(tmp_path, ".weights.h5")
    good = open(path, "rb").read()
    import h5py

    def broken(self, *args, **kwargs):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(h5py.Group, "create_dataset", broken)
    with pytest.raises(OSError, match="simulated"):
        model.save_weights(path)
    monkeypatch.undo()
    assert open(path, "rb").read() == good
    assert sorted(os.listdir(tmp_path)) == ["m.weights.h5"]       # no temporary file left


def lenet5_class(K):
    """The lecture's subclassed LeNet-5 (../shared/lectures/001_*.txt), for scratchnet or Keras."""
    from_layers = K.layers

    class LeNet5(K.Model):
        def __init__(self, num_classes):
            super(LeNet5, self).__init__()
            self.conv1 = from_layers.Conv2D(6, kernel_size=(5, 5), padding='same',
                                            activation='relu')
            self.conv2 = from_layers.Conv2D(16, kernel_size=(5, 5), activation='relu')
            self.max_pool = from_layers.MaxPooling2D(pool_size=(2, 2))
            self.flatten = from_layers.Flatten()
            self.dense1 = from_layers.Dense(120, activation='relu')
            self.dense2 = from_layers.Dense(84, activation='relu')
            self.dense3 = from_layers.Dense(num_classes, activation='softmax')

        def call(self, inputs):
            x = self.max_pool(self.conv1(inputs))
            x = self.max_pool(self.conv2(x))
            x = self.flatten(x)
            return self.dense3(self.dense2(self.dense1(x)))

    return LeNet5


@pytest.mark.parametrize("suffix", [".weights.h5", ".h5"])
def test_subclassed_lenet5_weights_both_ways_with_keras(tmp_path, suffix):
    """Keras 3 stores a subclassed model's layers by attribute name -- except those whose
    attribute sorts after `layers` (max_pool, a weightless one here) -- and scratchnet reads
    and writes that layout: LeNet-5 trained in one library predicts the same in the other."""
    keras = tf.keras
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    y = np.arange(4)
    theirs = lenet5_class(keras)(10)
    theirs.compile("sgd", "sparse_categorical_crossentropy")
    theirs.fit(x, y, verbose=0)
    ours = lenet5_class(sn.keras)(10)
    ours(x)
    path = str(tmp_path / ("keras" + suffix))
    keras_save_weights(theirs, path)
    ours.load_weights(path)
    assert_close(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), "float32",
                 "LeNet-5 keras->scratchnet predict")
    ours.compile("sgd", "sparse_categorical_crossentropy")
    ours.fit(x, y, verbose=0)
    path = str(tmp_path / ("scratchnet" + suffix))
    ours.save_weights(path)
    theirs.load_weights(path)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert_close(theirs.predict(x, verbose=0), ours.predict(x, verbose=0), "float32",
                 "LeNet-5 scratchnet->keras predict")

"""ModelCheckpoint and BackupAndRestore (scratchnet/callbacks/model_checkpoint.py,
backup_and_restore.py).

ModelCheckpoint is checked against tf.keras: one `build(K)` per side (float64, the scratchnet
twin gets the tf.keras weights), the same `fit` with the same callback, each side in its own
directory; then the files each side wrote (their formatted names: which epochs and batches
saved), the messages printed at verbose=1 and the warnings must be the same, and the saved
weights those of the right epoch.

BackupAndRestore must be exact: training interrupted anywhere and started again with the same
callback ends with the weights of an uninterrupted run, bit for bit (np.array_equal), and the
resumed epochs' History equal too. Interruptions in-process (an exception from a callback, a
"crash" between the two files of a backup), and for real: training subprocesses killed with
SIGKILL, by themselves after a chosen batch and by this process at a random moment, then
resumed by a fresh subprocess.
"""
import json
import os
import runpy
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import scratchnet as sn
from lecture_cnns import PYTHON_ML_CNN_CELL
from parity_log import check
from tf_support import import_tf
from tolerances import assert_close

AREA = "checkpoints"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def tf():
    return import_tf()


# ---- ModelCheckpoint against tf.keras -----------------------------------------------------
from small_classifier import X, X_VAL, Y, Y_VAL, build  # noqa: E402


def record_weights(K):
    """A callback of library K that keeps each epoch's weights (in `.weights`)."""

    class Recorder(K.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append([np.array(w) for w in self.model.get_weights()])

    return Recorder()


def twin_fit(tf, make, tmp_path, monkeypatch, capsys, **fit_kw):
    """Fit a tf.keras model and its scratchnet twin (SGD 3.0: val_loss improves for five
    epochs, then gets worse), each in its own directory, with the callbacks of `make(K)`.
    Returns {side: (model, printed text, warning texts, files written, recorded weights)}."""
    from reference import floatx_scope

    fit_kw = {"x": X, "y": Y, "batch_size": 8, "epochs": 8, "verbose": 0, "shuffle": False,
              "validation_data": (X_VAL, Y_VAL), **fit_kw}
    runs = {}
    with floatx_scope("float64"):
        tf.keras.utils.set_random_seed(1)
        twin = build(tf.keras)
        mine = build(sn.keras)
        mine.set_weights(twin.get_weights())
        for side, K, model in (("tf", tf.keras, twin), ("sn", sn.keras, mine)):
            directory = tmp_path / side
            directory.mkdir()
            monkeypatch.chdir(directory)
            extra = {"jit_compile": False} if side == "tf" else {}
            model.compile(optimizer=K.optimizers.SGD(learning_rate=3.0),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"], **extra)
            recorder = record_weights(K)
            capsys.readouterr()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(callbacks=make(K) + [recorder], **fit_kw)
            files = sorted(os.path.relpath(os.path.join(d, f), directory)
                           for d, _, names in os.walk(directory) for f in names)
            runs[side] = (model, capsys.readouterr().out,
                          [str(w.message) for w in caught if "Can save best" in str(w.message)],
                          files, recorder.weights)
    return runs


def _weights_in(path, dtype="float64"):
    """The arrays of a checkpoint, read by scratchnet (a whole model, or weights read into a
    fresh twin)."""
    from reference import floatx_scope

    with floatx_scope(dtype):
        if str(path).endswith(".keras") or (str(path).endswith(".h5")
                                            and "weights" not in str(path)):
            return sn.keras.models.load_model(path).get_weights()
        model = build(sn.keras)
    model.load_weights(path)
    return model.get_weights()


def _names(pattern, epochs):
    return [pattern.format(epoch=e) for e in epochs]


# name: (ModelCheckpoint's arguments, the files it must leave). The run: val_loss improves in
# epochs 1-5 and not in 6-8; val_accuracy is 0.9, then 1.0 for good; the loss keeps falling.
CHECKPOINT_CASES = {
    # every epoch, the epoch (from 1) and val_loss in the name
    "every_epoch": (dict(filepath="ckpt-{epoch:02d}-{val_loss:.3f}.weights.h5"), None),
    # the best val_loss, one file overwritten
    "best_val_loss": (dict(filepath="best.weights.h5", save_best_only=True),
                      ["best.weights.h5"]),
    "best_val_loss_per_epoch": (dict(filepath="v-{epoch}.weights.h5", save_best_only=True),
                                _names("v-{epoch}.weights.h5", range(1, 6))),
    # 'auto' knows accuracy goes up: epochs 1 and 2; 1.0 again is no improvement
    "best_val_accuracy": (dict(filepath="acc-{epoch}.weights.h5", monitor="val_accuracy",
                               save_best_only=True), _names("acc-{epoch}.weights.h5", [1, 2])),
    # mode='max' on a falling loss: only the first epoch saves
    "max_mode_on_loss": (dict(filepath="l-{epoch}.weights.h5", monitor="loss", mode="max",
                              save_best_only=True), ["l-1.weights.h5"]),
    # a starting best to beat: val_loss < 0.1 from epoch 4 on
    "initial_value_threshold": (dict(filepath="t-{epoch}.weights.h5", save_best_only=True,
                                     initial_value_threshold=0.1),
                                _names("t-{epoch}.weights.h5", [4, 5])),
    # mode='min' on accuracy (wrong, but what was asked): 0.9, then nothing lower
    "min_mode_on_accuracy": (dict(filepath="m-{epoch}.weights.h5", monitor="val_accuracy",
                                  mode="min", save_best_only=True), ["m-1.weights.h5"]),
    # every 2 batches (3 batches per epoch: the count runs across epochs), {batch} from 1
    "every_2_batches": (dict(filepath="b-{epoch:02d}-{batch}.weights.h5", save_freq=2),
                        [f"b-{e:02d}-{b}.weights.h5" for e, b in
                         [(1, 2), (2, 1), (2, 3), (3, 2), (4, 1), (4, 3), (5, 2), (6, 1),
                          (6, 3), (7, 2), (8, 1), (8, 3)]]),
    # a monitor the logs lack: a warning, and a save every epoch
    "missing_monitor": (dict(filepath="n-{epoch}.weights.h5", monitor="val_precision",
                             save_best_only=True, mode="max"),
                        _names("n-{epoch}.weights.h5", range(1, 9))),
    # whole models: Keras 3's zip, and the legacy HDF5 model file the lectures write
    "full_model_keras": (dict(filepath="m-{epoch}.keras", save_best_only=True,
                              save_weights_only=False), _names("m-{epoch}.keras", range(1, 6))),
    "full_model_h5": (dict(filepath="best_model.h5", save_best_only=True,
                           save_weights_only=False), ["best_model.h5"]),
}


@pytest.mark.parametrize("case", sorted(CHECKPOINT_CASES))
def test_model_checkpoint_saves_like_keras(tf, case, tmp_path, monkeypatch, capsys):
    kwargs, expected_files = CHECKPOINT_CASES[case]
    kwargs = {"save_weights_only": True, **kwargs}
    runs = twin_fit(tf, lambda K: [K.callbacks.ModelCheckpoint(verbose=1, **kwargs)],
                    tmp_path, monkeypatch, capsys)
    (_, out_tf, warned_tf, files_tf, _), (_, out_sn, warned_sn, files_sn, per_epoch) = (
        runs["tf"], runs["sn"])
    assert files_sn == files_tf, "the same checkpoints (names: epochs, batches, values)"
    assert out_sn == out_tf, "Keras's messages, word for word"
    assert warned_sn == warned_tf
    assert files_sn, "every case saves something"
    if expected_files is not None:
        assert files_sn == sorted(expected_files), "the case tests what it says"
    assert bool(warned_sn) == (case == "missing_monitor")
    # each file holds the weights of the epoch its name says (or, for the one overwritten
    # file, of the last epoch that saved), equal to what tf.keras saved
    saved_epochs = [int(line.split(":")[0].split()[-1]) for line in out_sn.splitlines()
                    if "finished saving" in line]
    for name in files_sn:
        ours, theirs = _weights_in(tmp_path / "sn" / name), _weights_in(tmp_path / "tf" / name)
        for i, (a, b) in enumerate(zip(ours, theirs)):
            check(a, b, "float64", f"{name}: weights[{i}]", AREA)
        if not kwargs["save_weights_only"]:             # tf.keras reads scratchnet's models
            for a, b in zip(ours, tf.keras.models.load_model(tmp_path / "sn" / name)
                            .get_weights()):
                np.testing.assert_array_equal(a, b)
        if case == "every_2_batches":
            continue                                    # saved mid-epoch: no epoch record
        epoch = int(name.split("-")[1].split(".")[0]) if "{epoch" in kwargs["filepath"] else (
            saved_epochs[-1])
        for a, b in zip(ours, per_epoch[epoch - 1]):
            np.testing.assert_array_equal(a, b)


def test_verbose_0_prints_nothing(tmp_path, capsys):
    model = _small_model()
    model.fit(X, Y, epochs=2, verbose=0, validation_data=(X_VAL, Y_VAL), callbacks=[
        sn.keras.callbacks.ModelCheckpoint(tmp_path / "m-{epoch}.keras")])
    assert capsys.readouterr().out == ""
    assert sorted(os.listdir(tmp_path)) == ["m-1.keras", "m-2.keras"]


FORMAT_CASES = [
    ("m-{epoch:02d}-{val_loss:.2f}.keras", 2, None, {"val_loss": 0.41234, "loss": 0.5}),
    ("{epoch}/{batch:03d}-{loss:.4f}.weights.h5", 0, 6, {"loss": 0.123456}),
    ("w-{epoch}.weights.h5", 9, 3, {"batch": 17, "loss": 1.0}),   # 'batch' from the logs
    ("plain.keras", 4, None, {}),
]


@pytest.mark.parametrize("pattern,epoch,batch,logs", FORMAT_CASES)
def test_filepath_formatting_matches_keras(tf, pattern, epoch, batch, logs):
    ours = sn.keras.callbacks.ModelCheckpoint(pattern)
    theirs = tf.keras.callbacks.ModelCheckpoint(pattern)
    assert ours._get_file_path(epoch, batch, logs) == theirs._get_file_path(epoch, batch, logs)


def test_filepath_formatting_example():
    callback = sn.keras.callbacks.ModelCheckpoint("ckpt-{epoch:02d}-{val_loss:.2f}.keras")
    assert callback._get_file_path(2, None, {"val_loss": 0.41234}) == "ckpt-03-0.41.keras"
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        callback._get_file_path(0, None, {"loss": 0.5})      # no val_loss in the logs


@pytest.mark.parametrize("kwargs", [
    dict(filepath="m.keras", save_freq="batch"),
    dict(filepath="m.weights.txt"),
    dict(filepath="m.keras", save_weights_only=True),
    dict(filepath="m.weights", save_weights_only=True),
])
def test_bad_arguments_are_refused_as_keras_does(tf, kwargs):
    with pytest.raises(ValueError) as theirs:
        tf.keras.callbacks.ModelCheckpoint(**kwargs)
    with pytest.raises(ValueError) as ours:
        sn.keras.callbacks.ModelCheckpoint(**kwargs)
    assert kwargs.get("save_freq", kwargs["filepath"]) in str(ours.value)
    assert str(theirs.value).split(".")[0] == str(ours.value).split(".")[0]


@pytest.mark.parametrize("save_freq", [0, -3, True, 2.0])
def test_save_freq_must_be_a_positive_int(save_freq):
    with pytest.raises(ValueError, match="save_freq"):
        sn.keras.callbacks.ModelCheckpoint("m.keras", save_freq=save_freq)
    with pytest.raises(TypeError, match="filepath"):
        sn.keras.callbacks.ModelCheckpoint(3)


def _small_model(K=sn.keras):
    model = build(K)
    model.compile(K.optimizers.SGD(learning_rate=3.0), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def test_plain_h5_weights_file_is_written_in_the_legacy_layout(tf, tmp_path):
    """save_weights_only with 'x.h5' (Keras 3 refuses the name): tf.keras 2's weights file,
    which tf.keras 3 reads; directories in the path are created."""
    model = _small_model()
    path = tmp_path / "sub" / "dir" / "w-{epoch}.h5"
    model.fit(X, Y, epochs=2, verbose=0, callbacks=[
        sn.keras.callbacks.ModelCheckpoint(path, monitor="loss", save_weights_only=True)])
    assert sorted(os.listdir(tmp_path / "sub" / "dir")) == ["w-1.h5", "w-2.h5"]
    import h5py

    with h5py.File(tmp_path / "sub" / "dir" / "w-2.h5", "r") as f:
        assert "layer_names" in f.attrs                       # the legacy layout
    twin = build(tf.keras)
    twin.load_weights(str(tmp_path / "sub" / "dir" / "w-2.h5"))
    for a, b in zip(model.get_weights(), twin.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_directory_as_filepath_is_refused(tmp_path):
    (tmp_path / "taken.weights.h5").mkdir()
    model = _small_model()
    callback = sn.keras.callbacks.ModelCheckpoint(tmp_path / "taken.weights.h5", monitor="loss",
                                                  save_weights_only=True)
    with pytest.raises(OSError, match="non-directory filepath"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[callback])


def test_best_only_with_batch_saves_keeps_the_best_running_loss(tmp_path):
    """save_best_only with an int save_freq compares the epoch's running loss at those
    batches (Keras 3.15 fails there with a TypeError once a best value exists; scratchnet
    decides the direction at the first save)."""
    model = _small_model()
    seen = []

    class Losses(sn.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(logs["loss"])

    callback = sn.keras.callbacks.ModelCheckpoint(tmp_path / "b.weights.h5", monitor="loss",
                                                  save_best_only=True, save_freq=1,
                                                  save_weights_only=True)
    model.fit(X, Y, batch_size=8, epochs=3, verbose=0, shuffle=False,
              callbacks=[Losses(), callback])
    assert callback.best == min(seen)
    assert os.path.exists(tmp_path / "b.weights.h5")


def test_the_best_value_carries_over_to_the_next_fit(tmp_path):
    """As in Keras: `best` is not reset by a new fit with the same callback."""
    model = _small_model()
    callback = sn.keras.callbacks.ModelCheckpoint(tmp_path / "b.weights.h5",
                                                  save_best_only=True, save_weights_only=True)
    model.fit(X, Y, epochs=3, verbose=0, shuffle=False, validation_data=(X_VAL, Y_VAL),
              callbacks=[callback])
    best = callback.best
    model.optimizer.learning_rate = 50.0             # make the next epochs worse
    model.fit(X, Y, epochs=1, verbose=0, shuffle=False, validation_data=(X_VAL, Y_VAL),
              callbacks=[callback])
    assert callback.best <= best


# ---- BackupAndRestore: in-process interruptions -------------------------------------------
class Interrupted(Exception):
    """Stands for a crash: fit stops where it is, no on_train_end."""


def _interrupt_at(epoch, batch=None):
    """A callback that raises Interrupted after batch `batch` of `epoch` (or, with batch None,
    at the end of `epoch`, after the callbacks before it)."""

    class Interrupt(sn.keras.callbacks.Callback):
        def on_epoch_begin(self, e, logs=None):
            self.epoch = e

        def on_train_batch_end(self, b, logs=None):
            if (self.epoch, b) == (epoch, batch):
                raise Interrupted

        def on_epoch_end(self, e, logs=None):
            if batch is None and e == epoch:
                raise Interrupted

    return Interrupt()


TRAIN = '''
import os, signal, sys, json
import numpy as np
import scratchnet as sn

K = sn.keras


def build():
    """Random initial weights, Dropout from the global generator and from a seeded one,
    BatchNormalization, Adam."""
    model = K.Sequential([K.Input((6,)), K.layers.Dense(16, activation="relu"),
                          K.layers.BatchNormalization(), K.layers.Dropout(0.3),
                          K.layers.Dense(8, activation="relu"), K.layers.Dropout(0.2, seed=5),
                          K.layers.Dense(2, activation="softmax")])
    model.compile(K.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(callbacks, epochs=4, batch_size=10):
    """The run every test repeats (shuffled, with a validation split)."""
    sn.backend.set_random_seed(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 6)).astype("float32")
    y = (x[:, :3].sum(axis=1) > x[:, 3:].sum(axis=1)).astype("int64")
    model = build()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2,
                        verbose=0, callbacks=callbacks)
    return model, history.history


class KillAt(K.callbacks.Callback):
    """SIGKILL this process right after batch `batch` of `epoch` (nothing runs after it)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            os.kill(os.getpid(), signal.SIGKILL)


if __name__ == "__main__":
    backup_dir, out, save_freq, epochs, kill = sys.argv[1:6]
    save_freq = save_freq if save_freq == "epoch" else int(save_freq)
    callbacks = [K.callbacks.BackupAndRestore(backup_dir, save_freq=save_freq)]
    if kill != "none":
        callbacks.append(KillAt(*map(int, kill.split(","))))
    model, history = train(callbacks, epochs=int(epochs))
    np.savez(out, *model.get_weights())
    with open(out + ".json", "w") as f:
        json.dump(history, f)
'''


@pytest.fixture(scope="module")
def train_script(tmp_path_factory):
    path = tmp_path_factory.mktemp("script") / "train.py"
    path.write_text(TRAIN)
    return str(path)


@pytest.fixture(scope="module")
def script(train_script):
    return runpy.run_path(train_script, run_name="in_process")


@pytest.fixture(scope="module")
def train(script):
    return script["train"]


@pytest.fixture(scope="module")
def reference(train):
    """The uninterrupted runs: epochs -> (weights, history)."""
    cache = {}

    def get(epochs=4):
        if epochs not in cache:
            model, history = train([], epochs=epochs)
            cache[epochs] = (model.get_weights(), history)
        return cache[epochs]

    return get


def assert_same_run(weights, history, reference_run, where):
    ref_weights, ref_history = reference_run
    assert len(weights) == len(ref_weights)
    for i, (a, b) in enumerate(zip(weights, ref_weights)):
        assert np.array_equal(a, b), f"{where}: weights[{i}] differ from the uninterrupted run"
    n = len(history["loss"])
    assert n >= 1
    for key, values in ref_history.items():   # the resumed epochs' logs, exactly
        assert history[key] == values[-n:], f"{where}: History[{key!r}]"


# (save_freq, where the interruption comes: (epoch, batch) or (epoch, None) = its end);
# 48 training samples in batches of 10: 5 batches per epoch, the last of 8
INTERRUPTIONS = [
    ("epoch", (1, 2)), ("epoch", (0, None)), ("epoch", (2, 4)),
    (1, (0, 0)), (1, (2, 3)),
    (2, (1, 0)), (2, (1, 4)),
    (3, (2, 1)), (3, (0, None)),
    (5, (1, 4)),        # due at the epoch's last batch: made at the epoch's end instead
    (7, (3, 2)),
]


@pytest.mark.parametrize("save_freq,at", INTERRUPTIONS, ids=str)
def test_resumed_training_equals_an_uninterrupted_run(train, reference, tmp_path, save_freq,
                                                      at):
    backup = tmp_path / "backup"
    with pytest.raises(Interrupted):
        train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=save_freq),
               _interrupt_at(*at)])
    assert (backup / "training_metadata.json").exists() or at == (0, 0)
    model, history = train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=save_freq)])
    assert_same_run(model.get_weights(), history, reference(), f"{save_freq}, {at}")
    assert not backup.exists(), "deleted at the end of a fit that finished"


def test_interrupted_twice(train, reference, tmp_path):
    backup = tmp_path / "backup"
    for at in [(0, 3), (2, 1)]:
        with pytest.raises(Interrupted):
            train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=2), _interrupt_at(*at)])
    model, history = train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=2)])
    assert_same_run(model.get_weights(), history, reference(), "twice")


def test_backups_fall_on_the_same_batches_after_a_resume(train, tmp_path):
    """The batch count goes on across the interruption: the resumed run backs up after the
    same batches as an uninterrupted one."""
    made = []

    class Recording(sn.keras.callbacks.BackupAndRestore):
        def _save_model(self, step):
            made.append((self._current_epoch, step))
            super()._save_model(step)

    train([Recording(tmp_path / "a", save_freq=3)])
    uninterrupted = list(made)
    made.clear()
    with pytest.raises(Interrupted):
        train([Recording(tmp_path / "b", save_freq=3), _interrupt_at(1, 3)])
    assert made[-1] == (1, 4)                           # the backup after epoch 1's batch 3
    train([Recording(tmp_path / "b", save_freq=3)])
    assert made == uninterrupted
    # after every 3 batches (5 per epoch); the one due at epoch 2's last batch is made at
    # the epoch's end, (3, 0)
    assert made == [(0, 3), (1, 1), (1, 4), (2, 2), (3, 0), (3, 3)]


def test_a_subclassed_model_resumes_exactly(tmp_path):
    """A model written as a class (Hands-On CV's LeNet-5 style), with Dropout and Adam."""
    K = sn.keras

    class Net(K.Model):
        def __init__(self):
            super().__init__()
            self.hidden = K.layers.Dense(8, activation="relu")
            self.drop = K.layers.Dropout(0.3)
            self.out = K.layers.Dense(2, activation="softmax")

        def call(self, inputs, training=None):
            return self.out(self.drop(self.hidden(inputs), training=training))

    def run(callbacks):
        sn.backend.set_random_seed(1)
        x = np.random.default_rng(0).normal(size=(40, 4)).astype("float32")
        model = Net()
        model.compile(K.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        history = model.fit(x, (x.sum(axis=1) > 0).astype("int64"), batch_size=8, epochs=3,
                            verbose=0, callbacks=callbacks)
        return model.get_weights(), history.history

    uninterrupted = run([])
    with pytest.raises(Interrupted):
        run([K.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2), _interrupt_at(1, 2)])
    weights, history = run([K.callbacks.BackupAndRestore(tmp_path / "b", save_freq=2)])
    assert_same_run(weights, history, uninterrupted, "subclassed")


def test_the_metadata_is_keras_json_plus_the_random_state(train, tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(Interrupted):
        train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=3), _interrupt_at(1, 2)])
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "training_metadata.json"]
    metadata = json.loads((backup / "training_metadata.json").read_text())
    # batches 0-2 of epoch 0, then 3-4 and 0 of epoch 1: the backup after epoch 1's batch 0
    assert (metadata["epoch"], metadata["batch"], metadata["step"], metadata["steps"]) == (
        1, 0, 1, 5)
    assert metadata["rng_state"]["bit_generator"] == "PCG64"
    assert [i for i, _ in metadata["layer_rng_states"]] == [4]   # Dropout(seed=5)
    assert len(metadata["running_metrics"]) == 2                   # loss and accuracy
    import h5py

    with h5py.File(backup / "latest.weights.h5", "r") as f:
        assert "optimizer/vars" in f                 # Adam's state travels with the weights


def test_delete_checkpoint_false_keeps_the_backup_and_others_files_stay(train, tmp_path):
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "notes.txt").write_text("mine")
    (backup / ".latest.weights.h5.tmp-host-99999999-0badcafe").write_bytes(b"killed save")
    train([sn.keras.callbacks.BackupAndRestore(backup)])
    assert sorted(os.listdir(backup)) == ["notes.txt"], "only the backup's own files go"
    train([sn.keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)], epochs=2)
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "notes.txt",
                                          "training_metadata.json"]
    assert json.loads((backup / "training_metadata.json").read_text())["epoch"] == 2


def test_a_finished_backup_resumes_nothing(train, reference, tmp_path):
    """A backup of the last epoch (kept with delete_checkpoint=False): fit runs no epoch."""
    backup = tmp_path / "backup"
    train([sn.keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)])
    model, history = train([sn.keras.callbacks.BackupAndRestore(backup)])
    assert history == {}
    for a, b in zip(model.get_weights(), reference()[0]):
        assert np.array_equal(a, b)


# ---- a crash between the two files of a backup ----------------------------------------------
@pytest.mark.parametrize("crash", ["before_metadata", "before_rename"])
def test_a_crash_between_the_two_files_resumes_exactly(train, reference, tmp_path, monkeypatch,
                                                       crash):
    """The weights go to pending.weights.h5, then the metadata (the commit, naming their
    SHA-256), then pending becomes latest. A crash before the metadata resumes from the
    backup before; a crash before the rename from the pending file."""
    import scratchnet.callbacks.backup_and_restore as module

    backup = tmp_path / "backup"
    calls = {"n": 0}
    real_write, real_replace = module._write_atomically, os.replace

    def write(path, body):
        if crash == "before_metadata" and path.endswith(".json"):
            calls["n"] += 1
            if calls["n"] == 4:
                raise Interrupted
        real_write(path, body)

    def replace(source, target):
        if crash == "before_rename" and str(source).endswith("pending.weights.h5"):
            calls["n"] += 1
            if calls["n"] == 4:
                raise Interrupted
        real_replace(source, target)

    monkeypatch.setattr(module, "_write_atomically", write)
    monkeypatch.setattr(module.os, "replace", replace)
    with pytest.raises(Interrupted):
        train([module.BackupAndRestore(backup, save_freq=2)])
    monkeypatch.undo()
    names = sorted(os.listdir(backup))
    assert "pending.weights.h5" in names
    model, history = train([module.BackupAndRestore(backup, save_freq=2)])
    assert_same_run(model.get_weights(), history, reference(), crash)


def test_a_weights_file_without_metadata_is_no_backup(train, reference, tmp_path):
    backup = tmp_path / "backup"
    train([sn.keras.callbacks.BackupAndRestore(backup, delete_checkpoint=False)], epochs=2)
    os.remove(backup / "training_metadata.json")
    model, history = train([sn.keras.callbacks.BackupAndRestore(backup)])
    assert len(history["loss"]) == 4                    # started afresh
    assert_same_run(model.get_weights(), history, reference(), "no metadata")


# ---- damaged or foreign backups ----------------------------------------------------------
def _kept_backup(train, tmp_path, **kwargs):
    backup = tmp_path / "backup"
    with pytest.raises(Interrupted):
        train([sn.keras.callbacks.BackupAndRestore(backup, **kwargs), _interrupt_at(2, 0)])
    return backup


def test_weights_that_do_not_belong_to_the_metadata_are_refused(train, tmp_path):
    backup = _kept_backup(train, tmp_path)
    other = tmp_path / "other"
    with pytest.raises(Interrupted):
        train([sn.keras.callbacks.BackupAndRestore(other), _interrupt_at(1, 0)])
    os.replace(other / "latest.weights.h5", backup / "latest.weights.h5")
    with pytest.raises(ValueError, match=r"training_metadata\.json.*SHA-256"):
        train([sn.keras.callbacks.BackupAndRestore(backup)])


def test_damaged_metadata_is_one_clear_error(train, tmp_path):
    backup = _kept_backup(train, tmp_path)
    (backup / "training_metadata.json").write_text('{"epoch": 2, "batch"')
    with pytest.raises(ValueError, match=r"training_metadata\.json.*not a valid"):
        train([sn.keras.callbacks.BackupAndRestore(backup)])
    (backup / "training_metadata.json").write_text('["epoch", 2]')
    with pytest.raises(ValueError, match="holds no training metadata"):
        train([sn.keras.callbacks.BackupAndRestore(backup)])


def test_a_mid_epoch_backup_needs_the_same_batches_per_epoch(train, tmp_path):
    backup = tmp_path / "backup"
    with pytest.raises(Interrupted):
        train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=2), _interrupt_at(1, 3)])
    with pytest.raises(ValueError, match="of 5 in epoch 2, but this fit has 3 batches per epoch"):
        train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=2)], batch_size=20)


BAD_METADATA = {
    "rng_state": ({"rng_state": {"bit_generator": "PCG64", "state": "?"}},
                  "random generator state"),
    "epoch_rng_state": ({"epoch_rng_state": None}, "random generator state"),
    "layer positions": ({"layer_rng_states": []}, r"seeded layers .* positions \[\]"),
    "running_metrics": ({"running_metrics": [[0.5, 3]]}, "1 running losses/metrics"),
    "step": ({"step": -1}, "no valid 'step'"),
    "steps": ({"steps": 6}, "this fit has 5 batches per epoch"),
    "epoch": ({"epoch": "2"}, "holds no training metadata"),
}


@pytest.mark.parametrize("case", sorted(BAD_METADATA))
def test_a_backup_that_does_not_fit_changes_nothing(script, train, tmp_path, case):
    """Metadata that does not fit this model and fit: one ValueError, and neither the
    weights, nor the optimizer, nor the random generators have changed."""
    backup = tmp_path / "backup"
    with pytest.raises(Interrupted):
        train([sn.keras.callbacks.BackupAndRestore(backup, save_freq=2), _interrupt_at(1, 3)])
    path = backup / "training_metadata.json"
    change, message = BAD_METADATA[case]
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    model = script["build"]()
    before, iterations = model.get_weights(), model.optimizer.iterations
    state = sn.backend.rng().bit_generator.state
    callback = sn.keras.callbacks.BackupAndRestore(backup, save_freq=2)
    callback.set_model(model)
    callback.set_params({"verbose": 0, "epochs": 4, "steps": 5})
    with pytest.raises(ValueError, match=message):
        callback.on_train_begin()
    for a, b in zip(before, model.get_weights()):
        assert np.array_equal(a, b)
    assert model.optimizer.iterations == iterations
    assert sn.backend.rng().bit_generator.state == state
    assert getattr(model, "_initial_epoch", None) is None


def test_double_checkpoint_falls_back_to_the_backup_before(train, reference, tmp_path):
    backup = _kept_backup(train, tmp_path, double_checkpoint=True)
    assert sorted(os.listdir(backup)) == ["latest.weights.h5", "previous.weights.h5",
                                          "previous_training_metadata.json",
                                          "training_metadata.json"]
    (backup / "latest.weights.h5").write_bytes(b"damaged")
    model, history = train([sn.keras.callbacks.BackupAndRestore(backup,
                                                                double_checkpoint=True)])
    assert len(history["loss"]) == 3                    # from the end of epoch 1 (not 2)
    assert_same_run(model.get_weights(), history, reference(), "double checkpoint")


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="Empty `backup_dir`"):
        sn.keras.callbacks.BackupAndRestore("")
    for save_freq in ("batch", 0, True):
        with pytest.raises(ValueError, match="save_freq"):
            sn.keras.callbacks.BackupAndRestore(tmp_path, save_freq=save_freq)


# ---- with tf.keras: each resumes from the other's backup ----------------------------------
def test_backups_travel_between_keras_and_scratchnet(tf, tmp_path):
    """Keras's doc example: interrupted at epoch 4 of 10, the second fit runs 6 epochs --
    with the backup written by the other library, whose weights it starts from."""
    x, y = np.arange(100.0).reshape(5, 20) / 100.0, np.zeros((5, 10))

    def run(K, backup, interrupt=False):
        """fit with BackupAndRestore; returns (History or None if interrupted, the weights
        at the start of training (after any restore), the weights when interrupted)."""
        model = K.Sequential([K.Input((20,)), K.layers.Dense(10)])
        model.compile(K.optimizers.SGD(), loss="mse")
        seen = {}

        class Watch(K.callbacks.Callback):
            def on_train_begin(self, logs=None):
                seen["start"] = [np.array(w) for w in model.get_weights()]

            def on_epoch_begin(self, epoch, logs=None):
                if interrupt and epoch == 4:
                    seen["stop"] = [np.array(w) for w in model.get_weights()]
                    raise Interrupted

        callbacks = [K.callbacks.BackupAndRestore(str(backup)), Watch()]
        try:
            history = model.fit(x, y, epochs=10, batch_size=1, callbacks=callbacks, verbose=0)
        except Interrupted:
            history = None
        return history, seen

    for writer, reader in (("tf", "sn"), ("sn", "tf")):
        K = {"tf": tf.keras, "sn": sn.keras}
        backup = tmp_path / f"from_{writer}"
        _, interrupted = run(K[writer], backup, interrupt=True)
        history, resumed = run(K[reader], backup)
        assert len(history.history["loss"]) == 6, f"{reader} resuming {writer}'s backup"
        for a, b in zip(resumed["start"], interrupted["stop"]):
            np.testing.assert_array_equal(a, b)
        assert not backup.exists()


# ---- SIGKILL: real processes, killed and started again -------------------------------------
def _run_script(script, backup, out, save_freq, epochs, kill="none", wait=True):
    env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", "")}
    args = [sys.executable, script, str(backup), str(out), str(save_freq), str(epochs), kill]
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if wait:
        process.communicate(timeout=300)
    return process


def _finished_run(out):
    with np.load(str(out) + ".npz", allow_pickle=False) as data:
        weights = [data[f"arr_{i}"] for i in range(len(data.files))]
    with open(str(out) + ".json") as f:
        return weights, json.load(f)


@pytest.mark.parametrize("save_freq,kill", [(3, "2,3"), ("epoch", "1,2")])
def test_sigkill_at_a_chosen_batch_then_resume(train_script, reference, tmp_path, save_freq,
                                               kill):
    backup, out = tmp_path / "backup", tmp_path / "out"
    killed = _run_script(train_script, backup, out, save_freq, 4, kill=kill)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.read().decode()
    assert (backup / "training_metadata.json").exists() and not os.path.exists(f"{out}.npz")
    resumed = _run_script(train_script, backup, out, save_freq, 4)
    assert resumed.returncode == 0, resumed.stderr.read().decode()
    weights, history = _finished_run(out)
    assert_same_run(weights, history, reference(), f"SIGKILL at {kill}")
    assert not backup.exists()


def test_sigkill_at_a_random_moment_then_resume(train_script, reference, tmp_path):
    """Back up after every batch, and kill the training process from outside at a random
    moment (often inside a backup) once its first backup exists."""
    epochs = 16
    backup, out = tmp_path / "backup", tmp_path / "out"
    delay = float(np.random.default_rng().uniform(0.0, 0.3))
    process = _run_script(train_script, backup, out, 1, epochs, wait=False)
    deadline = time.monotonic() + 120
    while not (backup / "training_metadata.json").exists():
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "no backup within 2 minutes"
        time.sleep(0.005)
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, "killed while training"
    where = (backup / "training_metadata.json").read_text()[:60] if (
        backup / "training_metadata.json").exists() else "no backup"
    resumed = _run_script(train_script, backup, out, 1, epochs)
    assert resumed.returncode == 0, resumed.stderr.read().decode()
    weights, history = _finished_run(out)
    assert_same_run(weights, history, reference(epochs),
                    f"killed {delay:.3f} s after the first backup ({where})")
    assert not backup.exists(), "the backup and any temporary file of a killed save are gone"


# ---- the lectures ------------------------------------------------------------------------
def test_checkpoint_callbacks_are_in_keras_callbacks():
    from scratchnet.keras.callbacks import BackupAndRestore, ModelCheckpoint

    assert ModelCheckpoint is sn.callbacks.ModelCheckpoint
    assert BackupAndRestore is sn.callbacks.BackupAndRestore
    assert "ModelCheckpoint" in sn.callbacks.__all__
    assert "BackupAndRestore" in sn.callbacks.__all__


# Python ML ch. 14, as written (data: a noisy line, the last 20% validates)
PYTHON_ML_CH14_CHECKPOINT = """
import tensorflow as tf
model = tf.keras.Sequential()
model.add(tf.keras.layers.Dense(units=1,input_dim=1))
model.compile(optimizer='sgd',loss='mse')
callback_list = [tf.keras.callbacks.ModelCheckpoint(filepath='my_model.h5',
                                   monitor='val_loss',save_best_only=True),
                                   tf.keras.callbacks.EarlyStopping(patience=5)]
history= model.fit(x_train,y_train,epochs=500,
                   validation_split=0.2,callbacks=callback_list)
"""
PYTHON_ML_CH14_LOAD = """
model.save('simple_model.h5')
model = tf.keras.models.load_model('simple_model.h5')
model.load_weights('my_model.h5')
model.evaluate(x_test,y_test)
"""


def test_python_ml_ch14_checkpoint_cell_runs_as_written(tmp_path, monkeypatch):
    """`ModelCheckpoint(filepath='my_model.h5', monitor='val_loss', save_best_only=True)`
    with EarlyStopping(patience=5): my_model.h5 is tf.keras 2's whole-model HDF5 file holding
    the best epoch's model, which the lecture loads back with `load_weights`."""
    monkeypatch.chdir(tmp_path)
    sn.backend.set_random_seed(0)
    x = np.arange(-1, 1, 0.01)
    y = 2 * x - 1 + np.random.default_rng(0).normal(0, 0.1, x.shape)
    ns = {"x_train": x, "y_train": y, "x_test": x[::7], "y_test": y[::7]}
    exec(PYTHON_ML_CH14_CHECKPOINT.replace("tensorflow", "scratchnet"), ns)
    val_loss = ns["history"].history["val_loss"]
    best = int(np.argmin(val_loss))
    assert best == len(val_loss) - 6, "EarlyStopping(patience=5) stopped 5 epochs after it"
    import h5py

    with h5py.File("my_model.h5", "r") as f:              # the legacy whole-model file
        assert "model_config" in f.attrs and "model_weights" in f
    best_model = sn.keras.models.load_model("my_model.h5")
    x_val, y_val = x[int(len(x) * 0.8):], y[int(len(x) * 0.8):]
    assert best_model.evaluate(x_val, y_val, verbose=0) == val_loss[best]
    exec(PYTHON_ML_CH14_LOAD.replace("tensorflow", "scratchnet"), ns)
    for a, b in zip(ns["model"].get_weights(), best_model.get_weights()):
        np.testing.assert_array_equal(a, b)


PYTHON_ML_CH15_CNN = PYTHON_ML_CNN_CELL + """import time
from tensorflow.keras.callbacks import ModelCheckpoint, TensorBoard
callback_list = [ModelCheckpoint(filepath='cnn_checkpoint.h5', monitor='val_loss',save_best_only=True),
                               TensorBoard(log_dir="logs/{}".format(time.asctime()))]
v_epoch = 50
history = model.fit(X_train_centered,y_train_onehot,
                   batch_size=64, epochs=v_epoch,
                   validation_data=(X_valid_centered,y_valid_onehot),
                   callbacks= callback_list)
"""


def test_python_ml_ch15_cnn_checkpoint_cell_runs_as_written(tmp_path, monkeypatch):
    """The ch. 15 CNN cell with only the imports swapped (and 3 epochs on 192 synthetic
    images instead of 50 on MNIST): cnn_checkpoint.h5 holds the best epoch's model."""
    monkeypatch.chdir(tmp_path)
    sn.backend.set_random_seed(0)
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 192)
    images = rng.normal(size=(192, 28, 28, 1)) * 0.5
    images[np.arange(192), 2 * labels + 4, 4:24, 0] += 2.0         # a learnable mark
    onehot = sn.keras.utils.to_categorical(labels, 10)
    ns = {"X_train_centered": images[:128], "y_train_onehot": onehot[:128],
          "X_valid_centered": images[128:], "y_valid_onehot": onehot[128:]}
    cell = PYTHON_ML_CH15_CNN.replace("tensorflow", "scratchnet")
    exec(cell.replace("v_epoch = 50", "v_epoch = 3"), ns)
    val_loss = ns["history"].history["val_loss"]
    best_model = sn.keras.models.load_model("cnn_checkpoint.h5")
    loss, _ = best_model.evaluate(images[128:], onehot[128:], verbose=0)
    assert_close(loss, min(val_loss), "float32", "the checkpoint's validation loss")
    assert os.listdir("logs"), "the TensorBoard callback of the same list wrote its logs"

"""`BackupAndRestore`: survive an interrupted `fit` -- start it again and it goes on from the
last backup, ending with exactly the weights an uninterrupted run would have had.

    BackupAndRestore(backup_dir, save_freq='epoch', double_checkpoint=False,
                     delete_checkpoint=True)

    callback = tf.keras.callbacks.BackupAndRestore(backup_dir='backup')
    model.fit(x, y, epochs=10, callbacks=[callback])    # killed during epoch 7 ...
    model.fit(x, y, epochs=10, callbacks=[callback])    # ... run again: goes on from there

(the second `fit` is usually the same script started again, with the same model code, the
same `compile` and the same `fit` arguments; the backup is only valid for those).

What a backup is: two files in `backup_dir`, as Keras writes them,

    latest.weights.h5        model.save_weights(): the weights and the optimizer's state
                             (its step count and slots: momentum, Adam's moments)
    training_metadata.json   where training was: {"epoch": .., "batch": .., ...}

written at every epoch's end (`save_freq='epoch'`) or after every `save_freq` batches (an
int). When `fit` starts, `on_train_begin` loads them, and `fit` skips what already ran. When
`fit` ends normally (all epochs, or stopped early) the backup is deleted
(`delete_checkpoint=True`), so the next run starts afresh.

Why the result is exact, bit for bit. Keras restores the weights and the epoch number. That
is not all training depends on: the optimizer's state (in the weights file) and the random
numbers -- each epoch's shuffle order and every Dropout mask are drawn from scratchnet's one
generator (`backend.rng()`, a NumPy Generator) or, for a `Dropout(seed=...)`, from the
layer's own. A generator's state is a small dict of integers (`bit_generator.state`), so the
metadata JSON stores it, and a restored generator draws exactly the numbers the lost run
would have drawn next. scratchnet's metadata therefore also holds

    "rng_state"           backend.rng()'s state when the backup was made
    "layer_rng_states"    [[layer index, state], ...] of layers with their own generator
    "weights_sha256"      the SHA-256 of the weights file this metadata belongs to

and, for a backup made in the middle of an epoch (int `save_freq`), also

    "step", "steps"       the next batch to run, and the batches per epoch
    "epoch_rng_state"     the generator's state at the epoch's start, from which `fit` draws
                          the epoch's shuffle order again
    "running_metrics"     [[total, count], ...] of the epoch's running loss and metrics, so
                          even the resumed epoch's logs equal the uninterrupted run's

Resuming mid-epoch: `on_train_begin` sets the generator to the epoch's starting state and
tells `fit` to begin at `model._initial_epoch` (Keras's attribute) and batch
`model._initial_step` (scratchnet's); `fit` draws that epoch's shuffle order -- the same
order as before -- and skips the batches that already ran; just before the first batch that
runs, the generator and the running means are put back to where the backup left them. A
backup that falls due at an epoch's last batch is made at the epoch's end instead (after
validation), so a resume never starts with an empty remainder of an epoch.

Two files, and a kill can come between writing them. So the metadata is the commit: the
weights go first to `pending.weights.h5`, then the metadata (naming the weights' SHA-256),
then `pending.weights.h5` is renamed to `latest.weights.h5`. Each write is atomic (a
temporary file, fsync, rename). Whatever moment the process dies, the next start finds a
weights file whose hash the metadata names (`latest`, or `pending` when the kill came just
before the rename) -- or no metadata, and starts afresh. `double_checkpoint=True` also keeps
the backup before (`previous.weights.h5`, `previous_training_metadata.json`; Keras names
them `*.bkp`) and falls back to it when the latest cannot be loaded.

Not restored (as in Keras): the state of other callbacks (EarlyStopping's patience count,
ReduceLROnPlateau's wait), so a run whose course depends on them may take another course
after a resume; the History of the interrupted run (the new `fit` returns the epochs it
ran). The learning rate is the optimizer's and is restored -- list BackupAndRestore after a
ReduceLROnPlateau, whose change at an epoch's end must happen before the backup.

Differences from Keras 3, all on purpose: Keras restarts an interrupted epoch from its first
batch (with the mid-epoch weights) and restores no random state, so its resumed run differs
from an uninterrupted one; Keras's `delete_checkpoint` deletes `backup_dir` and everything in
it, scratchnet deletes the files it wrote, the temporary files of saves that were killed,
and the directory when that leaves it empty.
"""
import json
import os
import shutil

from scratchnet import backend
from scratchnet.callbacks.callback import Callback, SavesEveryNBatches

_WEIGHTS = "latest.weights.h5"
_PENDING = "pending.weights.h5"
_METADATA = "training_metadata.json"
_PREVIOUS_WEIGHTS = "previous.weights.h5"                 # double_checkpoint=True
_PREVIOUS_METADATA = "previous_training_metadata.json"


def _write_atomically(filepath, write):
    """saving/files.py's atomic write: `write(temp path)`, fsync, rename over `filepath`."""
    from scratchnet.saving.files import write_atomically

    write_atomically(filepath, write)


def _sha256(path):
    from scratchnet.datasets.cache import file_sha256    # (datasets load on first use)

    return file_sha256(path)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _running_mean_count(model):
    """How many running means `fit` keeps in an epoch (model._epoch_metrics): the loss
    trackers and every compiled metric."""
    specs = [spec for spec in model._outputs_spec if spec.loss is not None]
    return len(model._loss_trackers()) + sum(len(spec.metric_ids) for spec in specs)


def _layer_generators(model):
    """[(index, layer)] of the layers (nested models opened) that draw from a generator of
    their own (`Dropout(seed=...)`), indexed in the model's layer order."""
    return [(i, layer) for i, layer in enumerate(model._leaf_layers_list())
            if getattr(layer, "_generator", None) is not None]


class BackupAndRestore(SavesEveryNBatches, Callback):
    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if not isinstance(backup_dir, (str, os.PathLike)):
            raise TypeError(f"BackupAndRestore: backup_dir must be a str or os.PathLike, "
                            f"received {backup_dir!r} of type {type(backup_dir).__name__}")
        if save_freq != "epoch" and (isinstance(save_freq, bool)
                                     or not isinstance(save_freq, int) or save_freq < 1):
            raise ValueError("Invalid value for argument `save_freq`. "
                             f"Received: save_freq={save_freq}. "
                             "Expected either 'epoch' or an integer value >= 1.")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = double_checkpoint
        self.delete_checkpoint = delete_checkpoint
        self._weights_path = os.path.join(self.backup_dir, _WEIGHTS)
        self._pending_weights_path = os.path.join(self.backup_dir, _PENDING)
        self._training_metadata_path = os.path.join(self.backup_dir, _METADATA)
        self._prev_weights_path = os.path.join(self.backup_dir, _PREVIOUS_WEIGHTS)
        self._prev_training_metadata_path = os.path.join(self.backup_dir, _PREVIOUS_METADATA)
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._epoch_rng_state = None
        self._resume_mid_epoch = None   # (batch, rng state, running means) to put back
        self._backup_at_epoch_end = False

    # ---- restoring -----------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        if not self.model.built:
            raise ValueError(
                "To use the BackupAndRestore callback, you model must be built before you "
                f"call `fit()`. Model {self.model.name!r} is unbuilt. You can build it "
                "beforehand by calling it on a batch of data.")
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self._resume_mid_epoch = None
        self._backup_at_epoch_end = False
        try:
            metadata = self._load_backup(self._weights_path, self._training_metadata_path)
        except (ValueError, OSError) as error:
            if not (self.double_checkpoint and os.path.exists(self._prev_training_metadata_path)):
                raise
            # the latest backup cannot be loaded: go back to the one before it (if that
            # fails too, the latest's error is raised and nothing has changed)
            try:
                metadata = self._load_backup(self._prev_weights_path,
                                             self._prev_training_metadata_path)
            except (ValueError, OSError):
                raise error from None
            self._copy(self._prev_weights_path, self._weights_path)
            self._copy(self._prev_training_metadata_path, self._training_metadata_path)
        if metadata is not None:
            self._restore_training_state(metadata)

    def _load_backup(self, weights_path, metadata_path):
        """Load the backup's weights into the model; return its metadata (None: no backup).
        Everything is checked first: a backup that does not fit raises one ValueError and
        changes nothing (load_weights itself is all-or-nothing)."""
        if not os.path.exists(metadata_path):
            return None            # no backup (a weights file alone is an unfinished one)
        metadata = self._checked_metadata(metadata_path)
        expected = metadata.get("weights_sha256")
        if expected is None:       # written by Keras: no hash, no random state
            if os.path.exists(weights_path):
                self.model.load_weights(weights_path)
            return metadata
        if os.path.exists(weights_path) and _sha256(weights_path) == expected:
            self.model.load_weights(weights_path)
            return metadata
        pending = self._pending_weights_path
        if (weights_path == self._weights_path and os.path.exists(pending)
                and _sha256(pending) == expected):
            # the run died just before renaming the new weights: finish that rename
            self.model.load_weights(pending)
            os.replace(pending, weights_path)
            return metadata
        raise ValueError(f"BackupAndRestore: {metadata_path!r} belongs to a weights file with "
                         f"SHA-256 {expected}, but {weights_path!r} is missing or differs. "
                         f"Delete {self.backup_dir!r} to start training afresh.")

    def _checked_metadata(self, path):
        """The metadata in `path`, checked against this model and this fit."""
        def refuse(problem):
            raise ValueError(f"BackupAndRestore: {path!r} {problem}. Delete "
                             f"{self.backup_dir!r} to start training afresh.")

        with open(path, encoding="utf-8") as f:
            try:
                metadata = json.load(f)
            except ValueError as e:
                refuse(f"is not a valid training metadata file (JSON: {e})")
        if not isinstance(metadata, dict) or not _is_count(metadata.get("epoch")):
            refuse(f"holds no training metadata ({{'epoch': int, ...}}), found "
                   f"{metadata!r:.200}")
        if "weights_sha256" not in metadata:
            return metadata                                    # Keras's: epoch and batch
        states = [metadata.get("rng_state")]
        saved = metadata.get("layer_rng_states")
        if not isinstance(saved, list) or not all(
                isinstance(e, list) and len(e) == 2 and _is_count(e[0]) for e in saved):
            refuse("has no valid 'layer_rng_states'")
        mine = [i for i, _ in _layer_generators(self.model)]
        if [i for i, _ in saved] != mine:
            refuse(f"has seeded layers (their own random generator) at positions "
                   f"{[i for i, _ in saved]}, this model at {mine}: it was made for another "
                   f"model")
        states += [state for _, state in saved]
        step = metadata.get("step")
        if not _is_count(step):
            refuse(f"has no valid 'step', found {step!r}")
        if step:
            steps = self.params.get("steps") if self.params else None
            if metadata.get("steps") != steps:
                refuse(f"was made after batch {step} of {metadata.get('steps')} in epoch "
                       f"{metadata['epoch'] + 1}, but this fit has {steps} batches per epoch; "
                       f"resume with the same data and batch_size")
            running = metadata.get("running_metrics")
            if not isinstance(running, list) or not all(
                    isinstance(e, list) and len(e) == 2 and isinstance(e[0], (int, float))
                    and _is_count(e[1]) for e in running):
                refuse("has no valid 'running_metrics'")
            if len(running) != _running_mean_count(self.model):
                refuse(f"has {len(running)} running losses/metrics, this model "
                       f"{_running_mean_count(self.model)}: compile it as before")
            states.append(metadata.get("epoch_rng_state"))
        for state in states:     # each must be a state a generator like ours accepts
            try:
                type(backend.rng().bit_generator)().state = state
            except (TypeError, ValueError, KeyError) as e:
                refuse(f"holds a random generator state that does not fit ({e})")
        return metadata

    def _restore_training_state(self, metadata):
        """Set the random generators and tell `fit` where to start (all checked)."""
        epoch, step = metadata["epoch"], metadata.get("step", 0)
        self._current_epoch = epoch
        self.model._initial_epoch = epoch
        if "weights_sha256" not in metadata:
            return                                   # Keras's backup: the epoch only
        for (_, layer), (_, state) in zip(_layer_generators(self.model),
                                          metadata["layer_rng_states"]):
            layer._generator.bit_generator.state = state
        if step == 0:
            backend.rng().bit_generator.state = metadata["rng_state"]
            return
        # fit draws the epoch's shuffle order from the epoch's starting state again ...
        backend.rng().bit_generator.state = metadata["epoch_rng_state"]
        self.model._initial_step = step
        # ... and on_train_batch_begin(step) puts back the rest
        self._resume_mid_epoch = (step, metadata["rng_state"], metadata["running_metrics"])

    def on_train_batch_begin(self, batch, logs=None):
        """The first batch of a resumed epoch: the generator and the epoch's running means
        as they were after the batch before it."""
        if self._resume_mid_epoch is None:
            return
        step, rng_state, running_metrics = self._resume_mid_epoch
        self._resume_mid_epoch = None
        backend.rng().bit_generator.state = rng_state
        for metric, (total, count) in zip(self.model._epoch_metrics, running_metrics):
            metric.total, metric.count = total, count
        self._last_batch_seen = step - 1    # the batch count goes on as before

    # ---- backing up ----------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        self._epoch_rng_state = backend.rng().bit_generator.state   # before the shuffle

    def on_train_batch_end(self, batch, logs=None):
        if not self._should_save_on_batch(batch):
            return
        if batch + 1 == self.params["steps"]:
            self._backup_at_epoch_end = True   # the epoch's last batch: see the docstring
        else:
            self._save_model(step=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch" or self._backup_at_epoch_end:
            self._backup_at_epoch_end = False
            self._save_model(step=0)

    def _save_model(self, step):
        """Back up now; fit would go on at batch `step` of epoch `self._current_epoch`."""
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._training_metadata_path):
            self._copy(self._weights_path, self._prev_weights_path)
            self._copy(self._training_metadata_path, self._prev_training_metadata_path)
        self.model.save_weights(self._pending_weights_path, overwrite=True)
        metadata = {
            "epoch": self._current_epoch,
            "batch": self._last_batch_seen,
            "step": step,
            "weights_sha256": _sha256(self._pending_weights_path),
            "rng_state": backend.rng().bit_generator.state,
            "layer_rng_states": [[i, layer._generator.bit_generator.state]
                                 for i, layer in _layer_generators(self.model)],
        }
        if step:
            metadata["steps"] = self.params["steps"]
            metadata["epoch_rng_state"] = self._epoch_rng_state
            metadata["running_metrics"] = [[float(m.total), int(m.count)]
                                           for m in self.model._epoch_metrics]
        text = json.dumps(metadata)

        def write(path):
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)

        _write_atomically(self._training_metadata_path, write)   # the commit
        os.replace(self._pending_weights_path, self._weights_path)

    @staticmethod
    def _copy(source, target):
        _write_atomically(target, lambda path: shutil.copyfile(source, path))

    # ---- the end -------------------------------------------------------------------------
    def on_train_end(self, logs=None):
        if not self.delete_checkpoint or not os.path.isdir(self.backup_dir):
            return
        # the metadata first: without it, what is left is no backup
        ours = [_METADATA, _WEIGHTS, _PENDING, _PREVIOUS_METADATA, _PREVIOUS_WEIGHTS]
        # and the temporary files of saves that were killed ('.<name>.tmp-...', files.py)
        ours += sorted(name for name in os.listdir(self.backup_dir)
                       if any(name.startswith(f".{own}.tmp-") for own in ours))
        for name in ours:
            path = os.path.join(self.backup_dir, name)
            if os.path.exists(path):
                os.remove(path)
        if not os.listdir(self.backup_dir):
            os.rmdir(self.backup_dir)

"""`ModelCheckpoint`: save the model (or its weights) during training -- after every epoch,
every N batches, or only when the monitored metric improved.

Lecture: Python ML ch. 14 keeps the best model of a run,

    ModelCheckpoint(filepath='my_model.h5', monitor='val_loss', save_best_only=True)

and ch. 15 does the same for its CNN (`filepath='cnn_checkpoint.h5'`).

    ModelCheckpoint(filepath, monitor='val_loss', verbose=0, save_best_only=False,
                    save_weights_only=False, mode='auto', save_freq='epoch',
                    initial_value_threshold=None)

When does it save?

* `save_freq='epoch'`: at every epoch's end (after validation, so 'val_loss' is known).
  `save_freq=N` (an int): after every N training batches, counted across epochs (the epoch's
  end then saves nothing); the logs it sees are the running averages of the epoch so far.
* `save_best_only=True`: only when `logs[monitor]` improved on the best value seen so far
  (monitor.py says what "improved" means; `mode='auto'` knows that losses and errors go
  down and accuracies go up). The first value always counts -- unless
  `initial_value_threshold` gave a starting best it must beat. The best value is kept
  across `fit` calls with the same callback, as in Keras. If `monitor` is not in the logs it
  warns and saves anyway.

What does it save? `model.save(filepath)` (the whole model: '.keras' is Keras 3's zip,
'.h5' the legacy HDF5 model file of tf.keras 2 that the lectures write), or with
`save_weights_only=True` `model.save_weights(filepath)` ('.weights.h5'; scratchnet also
takes a plain '.h5', tf.keras 2's weights file, which Keras 3 refuses). Both write
atomically: a crash mid-save leaves the previous checkpoint whole.

The file name is a format string filled with the epoch (counted from 1, as printed) and the
logs, so `'ckpt-{epoch:02d}-{val_loss:.2f}.keras'` becomes 'ckpt-03-0.41.keras' after the
third epoch; with an int `save_freq`, `{batch}` is the batch in the epoch, also from 1.
Missing directories are created.

verbose=1 prints Keras 3's messages (each starts with an empty line, to leave the
progress bar's line):

    Epoch 3: val_loss improved from 0.52341 to 0.41234, saving model to ckpt.keras
    Epoch 4: val_loss did not improve from 0.41234
    Epoch 5: saving model to ckpt.keras                   (save_best_only=False)
    Epoch 5: finished saving model to ckpt.keras          (after every save)
"""
import os
import warnings

import numpy as np

from scratchnet.callbacks.callback import SavesEveryNBatches
from scratchnet.callbacks.monitor import MonitorCallback
from scratchnet.callbacks.progbar import print_msg


class ModelCheckpoint(SavesEveryNBatches, MonitorCallback):
    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        self.verbose = verbose
        if not isinstance(filepath, (str, os.PathLike)):
            raise TypeError(f"ModelCheckpoint: filepath must be a str or os.PathLike, "
                            f"received {filepath!r} of type {type(filepath).__name__}")
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = None
        self._current_epoch = 0

        if self.save_freq != "epoch" and (isinstance(save_freq, bool)
                                          or not isinstance(save_freq, int)):
            raise ValueError(f"Unrecognized save_freq: {self.save_freq}. "
                             "Expected save_freq are 'epoch' or integer values")
        if self.save_freq != "epoch" and self.save_freq < 1:   # (Keras: then every batch)
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a number of "
                             f"batches >= 1, received save_freq={save_freq}")
        if save_weights_only:
            if not self.filepath.endswith(".h5"):   # '.weights.h5', or scratchnet's '.h5'
                raise ValueError(
                    "When using `save_weights_only=True` in `ModelCheckpoint`, the filepath "
                    "provided must end in `.weights.h5` (Keras weights format) or `.h5` "
                    f"(the legacy HDF5 weights file). Received: filepath={self.filepath}")
        elif not self.filepath.endswith((".keras", ".h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format) "
                             f"or `.h5` (the legacy HDF5 format). Received: "
                             f"filepath={self.filepath}")

    # ---- when ----------------------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()   # now the model's metrics are known
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _should_save_model(self, epoch, batch, logs, filepath):
        """Save now? Always, unless save_best_only and `monitor` did not improve."""
        logs = logs or {}
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.",
                          stacklevel=2)
            return True
        if isinstance(current, np.ndarray) and current.ndim > 0:
            warnings.warn("Can save best model only when `monitor` is a scalar value. "
                          f"Received: {current}. Falling back to `save_best_only=False`.",
                          stacklevel=2)
            return True
        if self.monitor_op is None:
            # (a batch save before the first epoch's end; Keras fails here with a TypeError
            # once a best value exists)
            self._set_monitor_op()
        best_str = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best_str} to "
                          f"{current:.5f}, saving model to {filepath}")
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best_str}")
        return False

    # ---- what and where ------------------------------------------------------------------
    def _save_model(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        if not self._should_save_model(epoch, batch, logs, filepath):
            return
        if os.path.isdir(filepath):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {filepath}")
        dirname = os.path.dirname(filepath)
        if dirname and not os.path.exists(dirname):
            os.makedirs(dirname)
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: finished saving model to {filepath}")

    def _get_file_path(self, epoch, batch, logs):
        """The file name for this save: `filepath` formatted with the epoch (from 1), the
        batch (from 1, batch saves only) and the logs."""
        logs = logs or {}
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". '
                           f"Reason: {e}") from None

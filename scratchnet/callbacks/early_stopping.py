"""`EarlyStopping`: stop training when the monitored metric has stopped improving.

    EarlyStopping(monitor='val_loss', min_delta=0, patience=0, verbose=0, mode='auto',
                  baseline=None, restore_best_weights=False, start_from_epoch=0)

At each epoch's end (from epoch `start_from_epoch` on) `wait` counts the epochs since the last
improvement (monitor.py says what improves); when `wait >= patience` (and it is not the first
epoch) `model.stop_training = True` ends training after this epoch. With a `baseline`, `wait`
is only reset by values that beat the baseline too. `restore_best_weights=True` puts back
the weights of the best epoch when training ends (even when it ran all its epochs).
verbose=1 prints "Epoch 7: early stopping" and "Restoring model weights from the end of the
best epoch: 4." -- epochs counted from 1.
"""
import warnings

from scratchnet.callbacks.monitor import MonitorCallback
from scratchnet.callbacks.progbar import print_msg


class EarlyStopping(MonitorCallback):
    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience = patience
        self.verbose = verbose
        self.baseline = baseline
        self.wait = 0
        self.stopped_epoch = 0
        self.restore_best_weights = restore_best_weights
        self.best_weights = None
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        # The same instance may be used by several fit calls.
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()  # now the model's metrics are known
        current = self.get_monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # so far the only candidate
            self.best_epoch = epoch

        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # patience restarts only when we beat both the baseline and the best so far
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return

        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg("Restoring model weights from the end of the best epoch: "
                          f"{self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        logs = logs or {}
        monitor_value = logs.get(self.monitor)
        if monitor_value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(list(logs.keys()))}",
                stacklevel=2,
            )
        return monitor_value

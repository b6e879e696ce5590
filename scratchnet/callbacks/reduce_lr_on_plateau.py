"""`ReduceLROnPlateau`: multiply the learning rate by `factor` when the monitored metric has
not improved for `patience` epochs.

    ReduceLROnPlateau(monitor='val_loss', factor=0.1, patience=10, verbose=0, mode='auto',
                      min_delta=1e-4, cooldown=0, min_lr=0.0)

At each epoch's end: it adds the current learning rate to the logs (`logs['learning_rate']`,
so History and the progress line show it); then, if the monitored value improved (by more
than `min_delta`, see monitor.py) `wait` restarts, else `wait += 1`, and once
`wait >= patience` the rate becomes max(lr * factor, min_lr) (if lr > min_lr), followed by
`cooldown` epochs in which `wait` stays 0. verbose=1 prints
"Epoch 5: ReduceLROnPlateau reducing learning rate to 0.010000000000000002.".
"""
import warnings

import numpy as np

from scratchnet.callbacks.learning_rate_scheduler import read_learning_rate
from scratchnet.callbacks.monitor import MonitorCallback
from scratchnet.callbacks.progbar import print_msg


class ReduceLROnPlateau(MonitorCallback):
    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0, **kwargs):
        # (Keras accepts and ignores other keyword arguments, e.g. the old `epsilon`)
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError("ReduceLROnPlateau does not support a factor >= 1.0. "
                             f"Received factor={factor}")
        self.factor = factor
        self.min_lr = min_lr
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def _reset(self):
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def _reduce_optimizer_lr(self, optimizer, epoch):
        old_lr = read_learning_rate(optimizer)
        if old_lr > np.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                print_msg(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to "
                          f"{new_lr}.")
            return True
        return False

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs or {}  # (as Keras: an empty dict is replaced, not filled)
        logs["learning_rate"] = read_learning_rate(self.model.optimizer)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is "
                f"not available. Available metrics are: {','.join(list(logs.keys()))}.",
                stacklevel=2,
            )
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                if self._reduce_optimizer_lr(self.model.optimizer, epoch):
                    self.cooldown_counter = self.cooldown
                    self.wait = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

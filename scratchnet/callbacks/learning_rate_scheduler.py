"""`LearningRateScheduler(schedule, verbose=0)`: at each epoch's start the learning rate
becomes `schedule(epoch, lr)` (epochs counted from 0; a `schedule(epoch)` of one argument
works too), e.g.

    def scheduler(epoch, lr):
        return lr if epoch < 10 else lr * math.exp(-0.1)

The schedule must return a float (Python or NumPy). At each epoch's end the rate in use is
added to the logs as 'learning_rate' (so History records it). verbose=1 prints
"Epoch 3: LearningRateScheduler setting learning rate to 0.05.".
"""
import numpy as np

from scratchnet import backend
from scratchnet.callbacks.callback import Callback
from scratchnet.callbacks.progbar import print_msg


def read_learning_rate(optimizer):
    """The optimizer's current learning rate as Keras callbacks read it: a Python float of
    the value held in floatx (Keras keeps it in a floatx variable, so under float32 0.1 reads
    back as 0.10000000149011612)."""
    return float(np.asarray(float(optimizer.learning_rate), dtype=backend.floatx()))


class LearningRateScheduler(Callback):
    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def _update_optimizer_lr(self, optimizer, epoch):
        if not hasattr(optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        try:  # schedule(epoch, lr)
            learning_rate = self.schedule(epoch, read_learning_rate(optimizer))
        except TypeError:  # the older schedule(epoch) (Keras catches any TypeError here)
            learning_rate = self.schedule(epoch)
        if not isinstance(learning_rate, (float, np.float32, np.float64)):
            raise ValueError("The output of the `schedule` function should be a float. "
                             f"Got: {learning_rate}")
        optimizer.learning_rate = learning_rate
        return learning_rate

    def on_epoch_begin(self, epoch, logs=None):
        learning_rate = self._update_optimizer_lr(self.model.optimizer, epoch)
        if self.verbose > 0:
            print_msg(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                      f"{learning_rate}.")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}  # (as Keras: an empty dict is replaced, not filled)
        logs["learning_rate"] = read_learning_rate(self.model.optimizer)

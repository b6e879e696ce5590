"""`TerminateOnNaN(raise_error=False)`: stop training at the first batch whose loss is NaN or
infinite. It prints "Batch 12: Invalid loss, terminating training" and sets
`model.stop_training = True` (so callbacks still get on_train_end); with raise_error=True it
raises a RuntimeError at once instead.
"""
import numpy as np

from scratchnet.callbacks.callback import Callback
from scratchnet.callbacks.progbar import print_msg


class TerminateOnNaN(Callback):
    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        logs = logs or {}
        loss = logs.get("loss")
        if loss is not None and (np.isnan(loss) or np.isinf(loss)):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. "
                                   f"Loss value: {loss}. Terminating training immediately.")
            print_msg(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True

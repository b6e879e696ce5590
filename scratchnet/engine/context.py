"""The call context: whether the model is training, for layers called without `training=`.

Keras passes `training` down through every call: `fit` runs the model with training=True, so
a Dropout inside a subclassed model's `call` that writes `self.dropout(x)` (no `training`
argument) still knows it is training. `Layer.__call__` reads `training()` when its own
argument is None; the engine sets it around a model's forward pass with `training_scope`.
"""
import contextlib

_training = [False]


def training():
    """The training flag of the innermost model call running now (False outside models)."""
    return _training[-1]


@contextlib.contextmanager
def training_scope(value):
    _training.append(bool(value))
    try:
        yield
    finally:
        _training.pop()


# The extra losses of the model call running now (activity regularizers: engine/graph.py and
# engine/tape.py add one per regularized layer call), collected by `Model` for the step.
_collectors = []


@contextlib.contextmanager
def collecting_losses():
    """Collect the extra losses added during this block into the yielded list."""
    found = []
    _collectors.append(found)
    try:
        yield found
    finally:
        _collectors.pop()


def add_loss(value):
    if _collectors:
        _collectors[-1].append(value)

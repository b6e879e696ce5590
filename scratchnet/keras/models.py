"""`keras.models` -- `Model`, `Sequential` (the code: scratchnet/models/)."""
from scratchnet.models import Functional, Model, Sequential

__all__ = ["Functional", "Model", "Sequential"]

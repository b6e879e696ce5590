"""Models: `Sequential` (a stack of layers) on top of `Model` (compile / fit / evaluate / predict)."""
from scratchnet.models.model import Model
from scratchnet.models.sequential import Sequential

__all__ = ["Model", "Sequential"]

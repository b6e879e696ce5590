"""Models: `Model` (compile / fit / evaluate / predict, and subclassing), `Functional`
(`Model(inputs, outputs)`, a graph of layer calls) and `Sequential` (a stack of layers)."""
from scratchnet.models.model import Model
from scratchnet.models.functional import Functional
from scratchnet.models.sequential import Sequential

__all__ = ["Functional", "Model", "Sequential"]

"""Weight constraints: a projection applied to a weight after every optimizer update, as in
`keras.constraints` (Keras applies it right after the optimizer writes the new value).

Lecture: Hands-On CV ch. 3; the Dropout paper's max-norm (`kernel_constraint=max_norm(3)`).

    MaxNorm(max_value=2, axis=0):   w * clip(|w|, 0, max) / (eps + |w|)
    MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0):
                                    w * (rate * clip(|w|, min, max) + (1 - rate) |w|) / (eps + |w|)
    UnitNorm(axis=0):               w / (eps + |w|)
    NonNeg():                       max(w, 0)

|w| is the L2 norm over `axis` (for a Dense kernel (inputs, units), axis=0: each unit's
incoming weights; for a Conv2D kernel use axis=[0, 1, 2]); eps is Keras's 1e-7. Every number
is taken in the weight's dtype (Keras's Python floats meet the tensor directly there).
"""
import numpy as np

from scratchnet import backend


class Constraint:
    """Base class: `__call__(w)` returns the projected weight (default: w unchanged)."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        from scratchnet.saving.serialization import from_config_default

        return from_config_default(cls, config)


def _norms(w, axis):
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    return np.sqrt(np.square(w).sum(axis=axis, keepdims=True))


class MaxNorm(Constraint):
    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = np.clip(norms, 0, w.dtype.type(self.max_value))
        return w * (desired / (w.dtype.type(backend.epsilon()) + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        c = w.dtype.type
        desired = (c(self.rate) * np.clip(norms, c(self.min_value), c(self.max_value))
                   + (c(1) - c(self.rate)) * norms)
        return w * (desired / (c(backend.epsilon()) + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class UnitNorm(Constraint):
    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (w.dtype.type(backend.epsilon()) + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w):
        return np.maximum(w, 0)


max_norm, min_max_norm, unit_norm, non_neg = MaxNorm, MinMaxNorm, UnitNorm, NonNeg

_BY_NAME = {"MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "UnitNorm": UnitNorm,
            "NonNeg": NonNeg, "max_norm": MaxNorm, "min_max_norm": MinMaxNorm,
            "unit_norm": UnitNorm, "non_neg": NonNeg}


def get(identifier, what="constraint"):
    """A Constraint from None, a name ('max_norm', 'non_neg', ...), a config dict, an instance
    or any callable taking and returning an array."""
    if identifier is None:
        return None
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"{what}: unknown constraint {identifier!r}; expected one of "
                             f"{sorted(k for k in _BY_NAME if '_' in k or k == 'non_neg')}")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):        # a saved config (Keras's form)
        from scratchnet.saving.serialization import deserialize_keras_object

        return deserialize_keras_object(identifier, "constraints", where=what)
    if isinstance(identifier, type) and issubclass(identifier, Constraint):
        return identifier()
    if callable(identifier):
        return identifier
    raise TypeError(f"{what}: expected None, a constraint name or a callable, received "
                    f"{identifier!r}")


def serialize(constraint):
    """Keras's saved form: {'module': 'keras.constraints', 'class_name': ..., 'config': ...}."""
    from scratchnet.saving.serialization import serialize_keras_object

    return serialize_keras_object(constraint)


__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "UnitNorm", "NonNeg", "max_norm",
           "min_max_norm", "unit_norm", "non_neg", "get", "serialize"]

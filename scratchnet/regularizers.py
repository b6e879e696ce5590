"""Weight regularizers: a penalty added to the loss, as in `keras.regularizers`.

Lecture: Hands-On CV ch. 3 (L1/L2 on LeNet-5's kernels), Coursera's overfitting weeks.

A regularizer R turns a weight array w into a number that `fit` adds to the loss, and its
gradient dR/dw is added to the weight's gradient:

    L1(l1):       R(w) = l1 * sum |w|                 dR/dw = l1 * sign(w)   (0 at w = 0, as TF)
    L2(l2):       R(w) = l2 * sum w^2                 dR/dw = l2 * 2 w
    L1L2(l1, l2): R(w) = l1 * sum |w| + l2 * sum w^2  the sum of the two

    Dense(64, kernel_regularizer=regularizers.l2(0.01))      # or kernel_regularizer='l2'

Keras's defaults: `L1()` and `L2()` use 0.01, `L1L2()` uses 0.0 for both; `l1_l2()` and the
string 'l1_l2' keep tf.keras 2's 0.01 for both (Keras 3 dropped that string). The coefficients are cast to the weight's dtype the way Keras casts a Python
float (through float32, see optimizers/optimizer.py's `keras_cast`), so float64 runs match.

On an *activation* (`activity_regularizer=`), Keras 3 divides the penalty of a call's output
by that output's batch size; the layers/engine code does that, the regularizer does not.
A user's own regularizer subclasses `Regularizer` and defines `__call__` and `gradient`.
"""
import numbers

import numpy as np

from scratchnet.optimizers.optimizer import keras_cast


class Regularizer:
    """Base class: `__call__(w)` is the penalty, `gradient(w)` its derivative dR/dw (both
    required of a subclass)."""

    def __call__(self, x):
        return np.zeros((), x.dtype)

    def gradient(self, x):
        raise NotImplementedError(
            f"{type(self).__name__}: a scratchnet regularizer must define gradient(w), the "
            "derivative dR/dw of its penalty (scratchnet has no automatic differentiation of "
            "__call__)")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        from scratchnet.saving.serialization import from_config_default

        return from_config_default(cls, config)


def _coefficient(owner, name, value, default):
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) \
            or value < 0:
        raise ValueError(f"{owner}: `{name}` must be a non-negative finite number, received "
                         f"{value!r}")
    return float(value)


class L1L2(Regularizer):
    """R(w) = l1 * sum|w| + l2 * sum w^2 (either term skipped when its coefficient is 0)."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _coefficient("L1L2", "l1", l1, 0.0)
        self.l2 = _coefficient("L1L2", "l2", l2, 0.0)

    def __call__(self, x):
        penalty = np.zeros((), x.dtype)
        if self.l1 != 0.0:
            penalty = penalty + keras_cast(self.l1, x.dtype) * np.abs(x).sum()
        if self.l2 != 0.0:
            penalty = penalty + keras_cast(self.l2, x.dtype) * np.square(x).sum()
        return penalty

    def gradient(self, x):
        grad = np.zeros_like(x)
        if self.l1 != 0.0:
            grad += keras_cast(self.l1, x.dtype) * np.sign(x)
        if self.l2 != 0.0:
            grad += keras_cast(self.l2, x.dtype) * (x + x)
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """R(w) = l1 * sum |w|."""

    def __init__(self, l1=0.01):
        super().__init__(l1=_coefficient("L1", "l1", l1, 0.01))

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """R(w) = l2 * sum w^2."""

    def __init__(self, l2=0.01):
        super().__init__(l2=_coefficient("L2", "l2", l2, 0.01))

    def get_config(self):
        return {"l2": self.l2}


# Keras's lower-case spellings are the classes themselves (`regularizers.l2(0.001)`)
l1, l2 = L1, L2


def l1_l2(l1=0.01, l2=0.01):  # noqa: F811  (the argument names are Keras's)
    """tf.keras 2's `l1_l2`: both coefficients default to 0.01. (Keras 3 made `l1_l2` an
    alias of `L1L2`, whose defaults are 0.0, and dropped the string 'l1_l2'; lecture code
    written for tf.keras 2 keeps its meaning here. With explicit arguments both agree.)"""
    return L1L2(l1=l1, l2=l2)


_BY_NAME = {"L1": L1, "L2": L2, "L1L2": L1L2, "l1": L1, "l2": L2, "l1_l2": l1_l2,
            "l1l2": L1L2}


def get(identifier, what="regularizer"):
    """A Regularizer from None, a name ('l1', 'l2', 'l1_l2'), a config dict or an instance."""
    if identifier is None:
        return None
    if isinstance(identifier, Regularizer):
        if type(identifier).gradient is Regularizer.gradient:
            raise TypeError(f"{what}: {type(identifier).__name__} defines no gradient(w); a "
                            "scratchnet regularizer must define both __call__(w) (the penalty) "
                            "and gradient(w) (dR/dw), or training would silently ignore it")
        return identifier
    if identifier is l1_l2 or (isinstance(identifier, type) and issubclass(identifier,
                                                                             Regularizer)):
        return identifier()
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(f"{what}: unknown regularizer {identifier!r}; expected one of "
                             "'l1', 'l2', 'l1_l2' or a scratchnet.regularizers.Regularizer")
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):        # a saved config (Keras's form)
        from scratchnet.saving.serialization import deserialize_keras_object

        return get(deserialize_keras_object(identifier, "regularizers", where=what), what)
    raise TypeError(f"{what}: expected None, 'l1', 'l2', 'l1_l2' or a "
                    f"scratchnet.regularizers.Regularizer (which knows its gradient), received "
                    f"{identifier!r}")


def serialize(regularizer):
    """Keras's saved form: {'module': 'keras.regularizers', 'class_name': ..., 'config': ...}."""
    from scratchnet.saving.serialization import serialize_keras_object

    return serialize_keras_object(regularizer)


__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize"]

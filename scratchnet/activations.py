"""Activation functions: each one a forward `f(x)` and the backward rule for dL/dx.

Lectures: ML Zero to Hero 2 (relu, softmax), the university course (sigmoid neurons),
Python ML ch. 13 (tanh).

An activation here is an object you can call like a function (`relu(x)`, as a student would
call `tf.nn.relu(x)`), which also knows its derivative. `backward(x, y, dy)` gets the input
`x`, the output `y = f(x)` and the upstream gradient `dy = dL/dy`, and returns `dL/dx`
(shapes all equal). Using `y` is what makes sigmoid, tanh and softmax cheap to differentiate.

    linear   f(x) = x                      f'(x) = 1
    relu     f(x) = max(x, 0)              f'(x) = 1 if x > 0 else 0   (TF's choice at 0)
    sigmoid  f(x) = 1 / (1 + e^-x)         f'(x) = y (1 - y)
    tanh     f(x) = tanh(x)                f'(x) = 1 - y^2
    softmax  y_i = e^{x_i} / sum_j e^{x_j} dL/dx_i = y_i (dy_i - sum_j dy_j y_j)   (last axis)

Softmax and sigmoid are the two activations a crossentropy loss can "see through": Keras
computes the loss from the logits x instead of the probabilities y when the model ends in
them (see `losses.py`), so they carry `logits_loss_kind`.
"""
import numpy as np


class ActivationFunction:
    """A named, differentiable element-wise (or last-axis) function."""

    name = "base"
    logits_loss_kind = None  # 'softmax' / 'sigmoid': which crossentropies fuse with it

    def __call__(self, x, axis=-1):
        """f(x). On a plain array this is the layers' fast path; on anything else (a Tensor,
        a list, a number: `tf.nn.relu(z)` in user code) it is the tf operation, a Tensor
        that an open GradientTape records (ops/nn_ops.py)."""
        if type(x) is np.ndarray and axis == -1:
            return self.f(x)
        from scratchnet.ops import nn_ops

        return nn_ops.activation(self, x, axis)

    def f(self, x):
        """The function on a plain array (subclasses define it)."""
        raise NotImplementedError

    def backward(self, x, y, dy):
        raise NotImplementedError

    def __repr__(self):
        return f"<activation {self.name}>"


class Linear(ActivationFunction):
    name = "linear"

    def f(self, x):
        return x

    def backward(self, x, y, dy):
        return dy


class Relu(ActivationFunction):
    name = "relu"

    def f(self, x):
        return np.maximum(x, 0, dtype=x.dtype)

    def backward(self, x, y, dy):
        return dy * (x > 0)


class Sigmoid(ActivationFunction):
    name = "sigmoid"
    logits_loss_kind = "sigmoid"

    def f(self, x):
        # Two branches so that exp never overflows: e^-x for x >= 0, e^x for x < 0.
        e = np.exp(-np.abs(x))
        return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, x, y, dy):
        return dy * y * (1 - y)


class Tanh(ActivationFunction):
    name = "tanh"

    def f(self, x):
        return np.tanh(x)

    def backward(self, x, y, dy):
        return dy * (1 - y * y)


class Softmax(ActivationFunction):
    name = "softmax"
    logits_loss_kind = "softmax"

    def f(self, x):
        # Subtracting the row max changes nothing mathematically and keeps exp finite.
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    def backward(self, x, y, dy):
        return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


linear = Linear()
relu = Relu()
sigmoid = Sigmoid()
tanh = Tanh()
softmax = Softmax()

_BY_NAME = {f.name: f for f in (linear, relu, sigmoid, tanh, softmax)}
# TensorFlow functions whose __name__ is not the activation's name (tf.nn.softmax is softmax_v2).
_TF_FUNCTION_NAMES = {"softmax_v2": "softmax"}


def get(identifier):
    """Resolve what Keras accepts as `activation=`: None, a name, or an activation object."""
    if identifier is None:
        return linear
    if isinstance(identifier, ActivationFunction):
        return identifier
    if isinstance(identifier, str):
        found = _BY_NAME.get(identifier.lower())
        if found is None:
            raise ValueError(
                f"Unknown activation {identifier!r}; expected one of {sorted(_BY_NAME)}"
            )
        return found
    name = getattr(identifier, "__name__", None)
    name = _TF_FUNCTION_NAMES.get(name, name)
    if callable(identifier) and name in _BY_NAME:
        # e.g. a real `tf.nn.relu` pasted from a lecture: same math, same name.
        return _BY_NAME[name]
    raise TypeError(
        f"activation must be None, a name from {sorted(_BY_NAME)} or a scratchnet activation "
        f"(e.g. scratchnet.nn.relu); received {identifier!r}. scratchnet needs to know the "
        "derivative of every activation, so arbitrary Python callables are not accepted."
    )


def serialize(activation):
    return activation.name

__all__ = ["ActivationFunction", "Linear", "Relu", "Sigmoid", "Tanh", "Softmax", "linear",
           "relu", "sigmoid", "tanh", "softmax", "get", "serialize"]

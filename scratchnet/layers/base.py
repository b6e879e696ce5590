"""`Layer`: the contract every scratchnet layer follows.

A layer is two functions and the state they share:

    y  = layer.forward(x, training)     remembers what backward will need
    dx = layer.backward(dy)             dy = dL/dy in, dL/dx out; fills layer.grads

`layer.grads[i]` is dL/d`layer.trainable_weights[i]` (same shape), which the optimizer reads.
Shapes follow Keras: the first axis is the batch, and `build(input_shape)` receives the full
shape with `None` for the batch (e.g. (None, 28, 28)), creating the weights in `floatx()`.
Calling a layer on an array (`layer(x)`) builds it if needed and runs `forward`.
"""
import re

import numpy as np

from scratchnet import backend

_name_counts = {}


def unique_name(prefix):
    """Keras-style auto names: 'dense', 'dense_1', 'dense_2', ... per session."""
    count = _name_counts.get(prefix, 0)
    _name_counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def snake_case(class_name):
    # Keras's to_snake_case: a digit does not start a new word (MaxPooling2D -> max_pooling2d)
    return re.sub(r"(?<!^)(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])", "_", class_name).lower()


def normalize_shape(shape, what):
    """A per-sample shape as a tuple of positive ints (None allowed), or a clear error."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a tuple of ints, received {shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{what} must contain positive sizes, received {shape}")
    return shape


class Layer:
    # True only while a Sequential model hands this layer's result straight to the next layer
    # (forward) or to the previous one (backward): see `_result_array`.
    _scratch_results = False

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, **unknown):
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unknown keyword argument(s) {sorted(unknown)}"
            )
        self.name = name or unique_name(snake_case(type(self).__name__))
        self.trainable = trainable
        self.dtype = np.dtype(dtype).name if dtype is not None else None
        # What the user declared about the input (Keras's input_shape / input_dim).
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self.declared_input_shape = (
            normalize_shape(input_shape, f"{self.name}: input_shape")
            if input_shape is not None else None
        )
        self.built = False
        self.input_shape = None   # full shapes, batch as None, set by build
        self.output_shape = None
        self._trainable_weights = []
        self._non_trainable_weights = []
        self.grads = []

    # ---- building -------------------------------------------------------------------
    def build(self, input_shape):
        """Create weights for inputs of `input_shape` (batch dim None). Default: none."""

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def ensure_built(self, input_shape):
        input_shape = (None,) + tuple(input_shape[1:])
        if not self.built:
            if self.dtype is None:
                self.dtype = backend.floatx()
            self.build(input_shape)
            self.input_shape = input_shape
            self.output_shape = tuple(self.compute_output_shape(input_shape))
            self.built = True
            self.grads = [np.zeros_like(w) for w in self._trainable_weights]
        return self.output_shape

    def add_weight(self, shape, initializer, trainable=True):
        value = np.ascontiguousarray(initializer(tuple(shape), self.dtype), dtype=self.dtype)
        if value.shape != tuple(shape):
            raise ValueError(
                f"{self.name}: initializer returned shape {value.shape}, expected {tuple(shape)}"
            )
        (self._trainable_weights if trainable else self._non_trainable_weights).append(value)
        return value

    # ---- weights --------------------------------------------------------------------
    @property
    def trainable_weights(self):
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self._non_trainable_weights)
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    @property
    def weights(self):
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy values into the existing arrays (the optimizer keeps references to them)."""
        weights = list(weights)
        current = self.weights
        if len(weights) != len(current):
            raise ValueError(
                f"Layer {self.name!r}: set_weights expected a list of {len(current)} arrays "
                f"with shapes {[w.shape for w in current]}, received {len(weights)}"
            )
        for i, (target, value) in enumerate(zip(current, weights)):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"Layer {self.name!r}: weight {i} has shape {target.shape}, "
                    f"received an array of shape {value.shape}"
                )
            target[...] = value

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # ---- computing ------------------------------------------------------------------
    def _require_built(self):
        """A clear error for forward() on a layer whose weights do not exist yet."""
        if not self.built:
            raise RuntimeError(
                f"Layer {self.name!r} ({type(self).__name__}) is not built yet, so it has no "
                f"weights: call it on an input first (layer(x)), or build(input_shape), or "
                f"put it in a model")

    def check_input_shape(self, shape):
        """Raise a clear ValueError if a built layer cannot take inputs of `shape`."""
        expected = self.input_shape
        if expected is None:
            return
        if len(shape) != len(expected) or any(
            e is not None and e != s for e, s in zip(expected[1:], shape[1:])
        ):
            raise ValueError(
                f"Input of layer {self.name!r} ({type(self).__name__}) is incompatible: "
                f"expected shape {expected}, received {tuple(shape)}"
            )

    def forward(self, x, training=False):
        raise NotImplementedError

    def _result_array(self, slot, shape, dtype):
        """An array for a result (y or dx) of this shape: a fresh one, except while a Sequential
        model passes the result straight on to the next layer (`_scratch_results`): then a
        buffer kept in this layer for `slot` and reused call after call (the first rows of it
        for a smaller last batch).

        Why: at batch 256 the Coursera CNN's first Conv2D output is 44 MB, above glibc's
        largest mmap threshold (32 MB), so every fresh array is new pages that the kernel
        must fault in and zero: np.empty + fill of 44 MB took 5.8 ms, refilling a reused one
        1.5 ms (2-core dev machine), paid for y, and again for max pooling's dx, every step."""
        shape = tuple(shape)
        if not self._scratch_results:
            return np.empty(shape, dtype)
        buffers = self.__dict__.setdefault("_result_buffers", {})
        buf = buffers.get(slot)
        if (buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:]
                or buf.shape[0] < shape[0]):
            buf = buffers[slot] = np.empty(shape, dtype)
        return buf[:shape[0]]

    def backward(self, dy, need_input_grad=True):
        raise NotImplementedError

    def fuses_with(self, layer, training=False):
        """True when this layer can run `layer`, the next one in a Sequential model, inside
        its own forward pass: then the model calls `forward_fused(x, layer, training)`
        instead of the two forwards, and the two backward calls as usual (Conv2D +
        MaxPooling2D does)."""
        return False

    def forward_fused(self, x, layer, training=False):
        """layer.forward(self.forward(x)) in one pass (see `fuses_with`)."""
        raise NotImplementedError(f"{type(self).__name__} fuses with no layer")

    def __call__(self, x, training=False):
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating) or (self.dtype and x.dtype != self.dtype):
            x = x.astype(self.dtype or backend.floatx())
        self.ensure_built(x.shape)
        self.check_input_shape(x.shape)
        return self.forward(x, training=training)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"

"""Global settings, as in `keras.backend`: the default float dtype, epsilon, and the seed.

Keras computes in float32 unless told otherwise (`keras.backend.set_floatx('float64')`);
so does scratchnet. Every layer creates its weights in `floatx()` when it is built, and `fit`,
`evaluate` and `predict` cast their inputs to it once, up front (not per batch).

The random generator behind initializers and shuffling is one `numpy.random.Generator`;
`set_random_seed(seed)` (like `keras.utils.set_random_seed`) makes runs reproducible.
"""
import numpy as np

_FLOATX = "float32"
_EPSILON = 1e-7  # Keras's fuzz factor: crossentropy clipping, optimizer epsilons
_VALID_FLOATX = ("float32", "float64")
_rng = np.random.default_rng()


def floatx():
    """The default float dtype name: 'float32' (Keras's default) or 'float64'."""
    return _FLOATX


def set_floatx(value):
    """Set the default float dtype for layers built afterwards ('float32' or 'float64')."""
    global _FLOATX
    name = np.dtype(value).name if not isinstance(value, str) else value
    if name not in _VALID_FLOATX:
        raise ValueError(
            f"set_floatx: unknown float type {value!r}; expected one of {_VALID_FLOATX}"
        )
    _FLOATX = name


def epsilon():
    """The fuzz factor 1e-7 that Keras uses to keep logs and divisions finite."""
    return _EPSILON


def set_random_seed(seed):
    """Seed scratchnet's generator (initializers, shuffling, validation split)."""
    global _rng
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"set_random_seed: seed must be a non-negative int, got {seed!r}")
    _rng = np.random.default_rng(int(seed))


def rng():
    """The generator all of scratchnet draws from."""
    return _rng

def get_value(x):
    """Keras's `backend.get_value`: the NumPy value of x (e.g. `optimizer.learning_rate`)."""
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def set_value(x, value):
    """Keras's `backend.set_value(x, value)`: x.assign(value), e.g. for the learning rate
    (`K.set_value(model.optimizer.lr, 0.001)`, as tf.keras 2 code writes it)."""
    if not hasattr(x, "assign"):
        raise TypeError(f"set_value: {x!r} cannot be assigned to; expected a value with "
                        "`assign`, such as optimizer.learning_rate")
    x.assign(value)


def clear_session(free_memory=True):
    """Keras's `clear_session()`: forget the names handed out so far, so the next Dense is
    'dense' again (lecture notebooks call it before building a new model). scratchnet keeps
    no graph or other global state to free; the random generator is left as it is."""
    from scratchnet.layers.base import _name_counts

    _name_counts.clear()


__all__ = ["floatx", "set_floatx", "epsilon", "set_random_seed", "rng", "get_value",
           "set_value", "clear_session"]

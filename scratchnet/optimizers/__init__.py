"""Optimizers, as in `keras.optimizers`: SGD, RMSprop, Adagrad, Adadelta, Adam, `get`, and the
learning-rate `schedules`.

    from scratchnet import optimizers
    opt = optimizers.get("adam")                       # Keras defaults
    opt = optimizers.SGD(lr=0.01, decay=1e-7, momentum=.9)   # tf.keras 2 lecture spelling
    opt = optimizers.Adam(optimizers.schedules.ExponentialDecay(1e-3, 1000, 0.9),
                          clipnorm=1.0)                # a schedule, gradient clipping
    opt.apply(grads, weights)                          # updates `weights` in place
"""
from scratchnet.optimizers import schedules
from scratchnet.optimizers.adadelta import Adadelta
from scratchnet.optimizers.adagrad import Adagrad
from scratchnet.optimizers.adam import Adam
from scratchnet.optimizers.optimizer import Optimizer
from scratchnet.optimizers.rmsprop import RMSprop
from scratchnet.optimizers.sgd import SGD

__all__ = ["Optimizer", "SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "get",
           "serialize", "deserialize", "schedules"]

_CLASSES = {cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adagrad, Adadelta, Adam)}


def _known_names():
    return ", ".join(repr(n) for n in _CLASSES)


def serialize(optimizer):
    """{'class_name': ..., 'config': ...}, the shape of Keras's serialized optimizers."""
    from scratchnet.saving.serialization import serialize_keras_object

    if not isinstance(optimizer, Optimizer):
        raise ValueError(f"serialize: expected a scratchnet Optimizer, got {optimizer!r}")
    return serialize_keras_object(optimizer)


def deserialize(config):
    """Build an optimizer from {'class_name': ..., 'config': {...}} (class name case-insensitive)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "Could not interpret optimizer identifier: expected a dict with 'class_name' (and "
            f"optionally 'config'), got {config!r}"
        )
    from scratchnet.saving.serialization import get_registered_object

    class_name = config["class_name"]
    cls = get_registered_object(config.get("registered_name") or class_name)
    if cls is None and isinstance(class_name, str):
        cls = _CLASSES.get(class_name.lower())
    if cls is None:
        raise ValueError(
            f"Could not interpret optimizer identifier: unknown class_name {class_name!r}; "
            f"known optimizers: {_known_names()}"
        )
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier):
    """An Optimizer from an instance (returned as is), a name, or a serialized dict.

    Names are case-insensitive, as in Keras: 'sgd', 'rmsprop', 'adagrad', 'adadelta', 'adam'
    give a new optimizer with Keras's default hyper-parameters.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier.lower())
        if cls is not None:
            return cls()
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r}; known optimizers: "
        f"{_known_names()} (or pass an Optimizer instance)"
    )

"""Weight initializers, with Keras's names, formulas and defaults.

Lecture: Python ML ch. 13 (`kernel_initializer='glorot_uniform', bias_initializer='zeros'`).

For a Dense kernel of shape (fan_in, fan_out):

    glorot_uniform  U(-l, l),  l = sqrt(6 / (fan_in + fan_out))         (Keras's default)
    glorot_normal   truncated N(0, s),  s = sqrt(2 / (fan_in + fan_out)) / .87962566
    he_uniform      U(-l, l),  l = sqrt(6 / fan_in)
    he_normal       truncated N(0, s),  s = sqrt(2 / fan_in) / .87962566
    lecun_uniform   U(-l, l),  l = sqrt(3 / fan_in)
    lecun_normal    truncated N(0, s),  s = sqrt(1 / fan_in) / .87962566
    random_normal   N(0, 0.05);   random_uniform U(-0.05, 0.05);   zeros;   ones
    truncated_normal  N(0, 0.05) truncated at 2 std-devs;   constant(value)

"Truncated" redraws values further than 2 s from the mean; dividing by .87962566 (the
std-dev of a unit normal truncated at +-2) keeps the variance at s^2. For convolution kernels
(kh, kw, in, out) the fans are kh*kw*in and kh*kw*out.
Draws come from `scratchnet.backend.rng()`, so `set_random_seed` makes them repeatable
(they are not the same numbers TensorFlow would draw; parity tests copy weights instead).
"""
import numpy as np

from scratchnet import backend

_TRUNCATED_STD = 0.87962566103423978


def compute_fans(shape):
    """(fan_in, fan_out) the way Keras computes them."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive_field = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Callable: `init(shape, dtype) -> np.ndarray`."""

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        return np.random.default_rng(self.seed) if self.seed is not None else backend.rng()

    def __call__(self, shape, dtype=None):
        dtype = np.dtype(dtype or backend.floatx())
        return np.asarray(self.draw(tuple(shape), self._rng()), dtype=dtype)

    def draw(self, shape, rng):
        raise NotImplementedError

    def get_config(self):
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        from scratchnet.saving.serialization import from_config_default

        return from_config_default(cls, config)


class Zeros(Initializer):
    def get_config(self):
        return {}

    def draw(self, shape, rng):
        return np.zeros(shape)


class Ones(Initializer):
    def get_config(self):
        return {}

    def draw(self, shape, rng):
        return np.ones(shape)


class Constant(Initializer):
    def __init__(self, value=0.0):
        super().__init__(None)
        self.value = value

    def draw(self, shape, rng):
        return np.full(shape, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomUniform(Initializer):
    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}

    def draw(self, shape, rng):
        return rng.uniform(self.minval, self.maxval, size=shape)


class RandomNormal(Initializer):
    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}

    def draw(self, shape, rng):
        return rng.normal(self.mean, self.stddev, size=shape)


def _truncated_normal(rng, shape, stddev):
    """N(0, stddev) with every value beyond 2 stddev redrawn."""
    values = rng.normal(0.0, stddev, size=shape)
    outside = np.abs(values) > 2 * stddev
    while outside.any():
        values[outside] = rng.normal(0.0, stddev, size=int(outside.sum()))
        outside = np.abs(values) > 2 * stddev
    return values


class TruncatedNormal(Initializer):
    """N(mean, stddev) with every value beyond 2 stddev from the mean redrawn."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def draw(self, shape, rng):
        return self.mean + _truncated_normal(rng, shape, self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """The family behind glorot and he: variance = scale / n, n = fan_in | fan_out | average."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def get_config(self):
        if type(self) is not VarianceScaling:         # GlorotUniform & co.: only the seed
            return {"seed": self.seed}
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}

    def draw(self, shape, rng):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = np.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, size=shape)
        return _truncated_normal(rng, shape, np.sqrt(variance) / _TRUNCATED_STD)


class GlorotUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "uniform", seed)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)


class HeUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "uniform", seed)


class HeNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(2.0, "fan_in", "truncated_normal", seed)


class LecunUniform(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "uniform", seed)


class LecunNormal(VarianceScaling):
    def __init__(self, seed=None):
        super().__init__(1.0, "fan_in", "truncated_normal", seed)


_BY_NAME = {
    "zeros": Zeros, "ones": Ones,
    "random_uniform": RandomUniform, "random_normal": RandomNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "constant": Constant, "truncated_normal": TruncatedNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
}


def get(identifier):
    """A name ('glorot_uniform', 'GlorotUniform', ...), an Initializer, or a callable."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = identifier if identifier in _BY_NAME else _snake(identifier)
        if key not in _BY_NAME:
            raise ValueError(
                f"Unknown initializer {identifier!r}; expected one of {sorted(_BY_NAME)}"
            )
        return _BY_NAME[key]()
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if isinstance(identifier, dict):        # a saved config (Keras's form)
        from scratchnet.saving.serialization import deserialize_keras_object

        return deserialize_keras_object(identifier, "initializers", where="initializer")
    if callable(identifier):
        return identifier  # any f(shape, dtype) -> array, as Keras allows
    raise TypeError(f"initializer must be a name, an Initializer or a callable; got {identifier!r}")


def name_of(initializer):
    """The Keras name of a built-in initializer (used to build the tf.keras twin)."""
    for name, cls in _BY_NAME.items():
        if type(initializer) is cls:
            return name
    return None


def serialize(initializer):
    """Keras's saved form: {'module': 'keras.initializers', 'class_name': ..., 'config': ...}."""
    from scratchnet.saving.serialization import serialize_keras_object

    return serialize_keras_object(initializer)


def _snake(name):
    out = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    return out

__all__ = ["Initializer", "Zeros", "Ones", "RandomUniform", "RandomNormal", "VarianceScaling",
           "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Constant",
           "TruncatedNormal", "LecunUniform", "LecunNormal", "get", "serialize"]

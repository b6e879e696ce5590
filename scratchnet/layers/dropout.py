"""`Dropout`: inverted dropout, y = x * m with a fresh random mask m at every training step.

Lectures: Hands-On CV ch. 3 (regularization: "Dropout randomly cuts connections of the
target layer at every training iteration"; off at test time; `trainable=False` changes
nothing, there are no weights); Python ML ch. 15 (`Dense(1024) -> Dropout(0.5) ->
Dense(10)`).

Training (`fit`, or `layer(x, training=True)`), with rate p (the fraction DROPPED):

    u ~ Uniform[0, 1)                  one number per entry of the noise shape
    keep = u >= p                      each entry kept with probability 1 - p
    m = keep / (1 - p)                 0 or 1/(1 - p): the kept values are scaled up ...
    y = x * m                          ... so E[y] = x: inference needs no rescaling

Inference (evaluate, predict, `layer(x)`): y = x, nothing drawn. rate 0: y = x; rate 1: y = 0.

Backward: y = x * m is linear in x, so dL/dx = dL/dy * m -- the same mask, kept in the
call's cache (the units dropped in forward pass no gradient back).

Shapes: y and dL/dx have the shape of x. `noise_shape` (Keras's) is the mask's shape, which
broadcasts over x: for x of shape (batch, steps, features), noise_shape=(None, 1, None)
drops the same features at every step (None: the input's size on that axis).

Randomness: the uniforms come from scratchnet's generator (`backend.rng()`, reseeded by
`set_random_seed`), or, with `seed=`, from a generator the layer owns, seeded once: then
the same seed gives the same masks, step after step, run after run. (TensorFlow's own
generator gives other masks; the tests replay scratchnet's draws in TensorFlow's dropout.)
"""
import numbers

import numpy as np

from scratchnet import backend
from scratchnet.engine import workspace
from scratchnet.layers.base import Layer


class Dropout(Layer):
    """Keras's `Dropout(rate, noise_shape=None, seed=None)`."""

    _keras_builds_at_init = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise TypeError(f"Dropout: rate must be a float between 0 and 1, received "
                            f"rate={rate!r} of type {type(rate).__name__}")
        if not 0 <= rate <= 1:
            raise ValueError("Invalid value received for argument `rate`. Expected a float "
                             f"value between 0 and 1. Received: rate={rate}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                                 or seed < 0):
            raise ValueError(f"Dropout: seed must be None or a non-negative int, "
                             f"received seed={seed!r}")
        self.rate = rate
        self.seed = seed
        self.noise_shape = _validate_noise_shape(noise_shape)
        # with a seed, the layer's own generator (Keras: a SeedGenerator(seed) per layer)
        self._generator = np.random.default_rng(int(seed)) if seed is not None else None

    def _rng(self):
        return self._generator if self._generator is not None else backend.rng()

    def mask_shape(self, shape):
        """The shape of the mask for inputs of `shape`: noise_shape with None -> input size."""
        if self.noise_shape is None:
            return tuple(shape)
        if len(self.noise_shape) != len(shape):
            raise ValueError(
                f"Dropout {self.name!r}: noise_shape={self.noise_shape} has {len(self.noise_shape)} "
                f"axes, but the input of shape {tuple(shape)} has {len(shape)}")
        out = tuple(n if d is None else d for d, n in zip(self.noise_shape, shape))
        if any(d not in (1, n) for d, n in zip(out, shape)):
            raise ValueError(
                f"Dropout {self.name!r}: noise_shape={self.noise_shape} does not broadcast to "
                f"the input shape {tuple(shape)}: each axis must be None, 1 or the input's size")
        return out

    def draw_mask(self, shape, dtype):
        """m = (u >= rate) / (1 - rate) for fresh uniforms u of the mask's shape, in `dtype`."""
        u = workspace.array("mask", self.mask_shape(shape), dtype)
        self._rng().random(dtype=dtype, out=u)              # u ~ Uniform[0, 1), drawn into u
        keep = u >= self.rate
        scale = np.asarray(1.0 / (1.0 - self.rate), dtype)   # TF: 1 / (1 - rate), cast to x's dtype
        return np.multiply(keep, scale, out=u)              # (u's memory, now the mask)

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            return x, None                       # identity: no mask, nothing drawn
        if self.rate == 1:
            return np.zeros_like(x), "zeros"     # every unit dropped (Keras: zeros_like)
        m = self.draw_mask(x.shape, x.dtype)
        y = np.multiply(x, m, out=workspace.array("y", x.shape, x.dtype))
        return y, m

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        if cache is None:
            return dy
        if isinstance(cache, str):               # rate 1: y = 0, no gradient flows
            return np.zeros_like(dy)
        return np.multiply(dy, cache, out=workspace.array("dx", dy.shape, dy.dtype))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": self.noise_shape}


def _validate_noise_shape(noise_shape):
    """Keras's checks (and messages): None, or a tuple of positive ints / None."""
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str):
        raise ValueError("Invalid value received for argument `noise_shape`. Expected a tuple "
                         f"or list of integers. Received: noise_shape={noise_shape}")
    if not isinstance(noise_shape, tuple):
        try:
            noise_shape = tuple(noise_shape)
        except TypeError:
            raise ValueError("Invalid value received for argument `noise_shape`. Expected an "
                             "iterable of integers (e.g., a tuple or list). Received: "
                             f"noise_shape={noise_shape}") from None
    for i, dim in enumerate(noise_shape):
        if dim is None:
            continue
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise ValueError("Invalid value received for argument `noise_shape`. Expected all "
                             "elements to be integers or None. Received element at index "
                             f"{i}: {dim} (type: {type(dim).__name__})")
        if dim <= 0:
            raise ValueError("Invalid value received for argument `noise_shape`. Expected all "
                             "dimensions to be positive integers or None. Received negative or "
                             f"zero value at index {i}: {dim}")
    return tuple(None if d is None else int(d) for d in noise_shape)

r"""`BatchNormalization`: normalize each channel by the batch's mean and variance, then scale
and shift it by learned gamma and beta (Ioffe & Szegedy, 2015).

Lecture: Hands-On CV ch. 3 (regularization of LeNet-5: "batch normalization takes the
previous layer's batch output and normalizes it: subtract the batch mean, divide by the
batch standard deviation"; the training/validation curves of LeNet-5 with each method).

Shapes: y has the shape of x. The normalized axis is `axis` (default -1, the channels):
after Dense, x: (n, C) and each of the C features gets its own statistics over the n
samples; after Conv2D, x: (n, H, W, C) and each channel's statistics run over n, H and W
(every position of every image). gamma, beta, moving_mean, moving_variance: (C,).
Below, sums and means run over those reduction axes, N numbers per channel.

Training (`fit`, or `layer(x, training=True)`, and only while `layer.trainable`):

    mean = (1/N) sum x                          the batch's per-channel mean
    var  = (1/N) sum (x - mean)^2               its BIASED variance (divides by N)
    a    = gamma / sqrt(var + epsilon)          per channel
    y    = x * a + (beta - mean * a)            = gamma * (x - mean) / sqrt(var + eps) + beta

and, in the same forward pass (Keras's formula and order):

    moving_mean     = moving_mean * momentum     + mean * (1 - momentum)
    moving_variance = moving_variance * momentum + var  * (1 - momentum)

Inference (evaluate, predict, `layer(x)`, and whenever `trainable=False`: Keras's rule is
"batch statistics only when training AND trainable") uses the moving statistics instead of
mean and var: a fixed affine map per channel.

Backward, given dy = dL/dy, with xhat = (x - mean) / sqrt(var + eps) and inv = 1/sqrt(var+eps):

    dL/dbeta  = sum dy                          dL/dgamma = sum dy * xhat
    training:  dL/dx = a * (dy - dL/dbeta / N - xhat * dL/dgamma / N)
    inference: dL/dx = a * dy                   (mean and var are constants there)

The training dL/dx is the chain rule through the batch statistics, collected: x moves y
directly (a * dy), through the mean (every y of the channel shifts: -a * mean(dy)) and
through the variance (the spread rescales: -a * xhat * mean(dy * xhat)). Two sums per
channel, then one pass over the elements.

Numerics as Keras with TensorFlow (`keras/src/layers/normalization/batch_normalization.py`,
`tf.nn.moments`, `tf.nn.batch_normalization`): the moments in the layer's dtype (Keras
upcasts only float16 and bfloat16, to float32), a = rsqrt(var + eps) * gamma and
y = x * a + (beta - mean * a); momentum and epsilon meet the arrays as Python floats, i.e.
rounded to the dtype, as in TensorFlow. The per-channel sums are accumulated in float64
here and rounded once to the layer's dtype (TensorFlow sums float32 data in float32), so
float32 results differ from TensorFlow's in the last bits, float64 ones far below 1e-9
(relative 1e-13 at worst in tests/test_dropout_batchnorm_parity.py).

Two implementations of the same arithmetic: the NumPy functions below (the lesson) and
Numba kernels (`scratchnet/kernels/batchnorm_fast.py`: one pass per sum over the (N, C)
layout, no temporaries), which the layer uses (for another axis than the last, x is first
copied to that layout); `layer.implementation = "numpy"` switches to the NumPy version (tests compare the two).
"""
import numpy as np

from scratchnet import initializers
from scratchnet.engine import workspace
from scratchnet.kernels import batchnorm_fast, implementation_switch
from scratchnet.layers.base import Layer

_IMPLEMENTATIONS = ("fast", "numpy")


# ---- the math in NumPy, on x laid out as (N, C): one row per normalized position ---------
def moments(x2):
    """(mean, biased variance) per column of x2 (N, C), in x2's dtype; float64 sums."""
    n = x2.shape[0]
    mean = (x2.sum(axis=0, dtype=np.float64) / n).astype(x2.dtype)
    var = (np.square(x2 - mean).sum(axis=0, dtype=np.float64) / n).astype(x2.dtype)
    return mean, var


def normalize(x2, a, b):
    """y = x * a + b per column."""
    return x2 * a + b


def backward_sums(dy2, x2, mean):
    """(sum dy, sum dy * (x - mean)) per column, in x2's dtype; float64 sums."""
    dbeta = dy2.sum(axis=0, dtype=np.float64).astype(x2.dtype)
    dcentered = (dy2 * (x2 - mean)).sum(axis=0, dtype=np.float64).astype(x2.dtype)
    return dbeta, dcentered


def input_gradient(dy2, x2, mean, inv, a, dbeta_n, dgamma_n):
    """dL/dx = a * (dy - sum(dy)/N - xhat * sum(dy xhat)/N), xhat = (x - mean) * inv."""
    xhat = (x2 - mean) * inv
    return a * (dy2 - dbeta_n - xhat * dgamma_n)


# ---- the layer ---------------------------------------------------------------------------
class BatchNormalization(Layer):
    """Keras's `BatchNormalization(axis=-1, momentum=0.99, epsilon=0.001, center=True,
    scale=True, ...)`; weights gamma, beta (trainable), moving_mean, moving_variance
    (non-trainable), in that order, as Keras."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise TypeError(f"BatchNormalization {self.name!r}: axis must be an int, "
                            f"received axis={axis!r}")
        for what, value in (("momentum", momentum), ("epsilon", epsilon)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)):
                raise TypeError(f"BatchNormalization {self.name!r}: {what} must be a float, "
                                f"received {what}={value!r}")
        if renorm:
            raise ValueError(f"BatchNormalization {self.name!r}: renorm=True (batch "
                             "renormalization) is not supported")
        if synchronized:
            raise ValueError(f"BatchNormalization {self.name!r}: synchronized=True (statistics "
                             "across devices) is not supported: scratchnet runs on one device")
        self.axis = int(axis)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        self.center = bool(center)
        self.scale = bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        from scratchnet import constraints, regularizers

        where = f"BatchNormalization {self.name!r}"
        self.beta_regularizer = regularizers.get(beta_regularizer, f"{where}: beta_regularizer")
        self.gamma_regularizer = regularizers.get(gamma_regularizer,
                                                  f"{where}: gamma_regularizer")
        self.beta_constraint = constraints.get(beta_constraint, f"{where}: beta_constraint")
        self.gamma_constraint = constraints.get(gamma_constraint, f"{where}: gamma_constraint")
        self.renorm, self.renorm_clipping, self.renorm_momentum = False, None, renorm_momentum
        self.synchronized = False
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None
        self.implementation = "fast"

    implementation = implementation_switch(
        _IMPLEMENTATIONS, "'fast' (Numba kernels, the default)"
        " or 'numpy' (the readable functions above).")

    # ---- building -------------------------------------------------------------------
    def _axis_of(self, ndim, shape):
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"Axis {self.axis} is out of bounds for input shape {shape}. "
                             f"Received: axis={self.axis}")
        return self.axis % ndim

    def build(self, input_shape):
        axis = self._axis_of(len(input_shape), tuple(input_shape))
        size = input_shape[axis]
        if axis == 0 or size is None:
            raise ValueError(
                f"BatchNormalization {self.name!r}: the normalized axis ({self.axis}) must have "
                f"a known size and must not be the batch axis; received input shape "
                f"{tuple(input_shape)}")
        shape = (size,)
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, name="gamma",
                                         regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint)
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, name="beta",
                                        regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer,
                                           trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer,
                                               trainable=False, name="moving_variance")

    def compute_output_shape(self, input_shape):
        self._axis_of(len(input_shape), tuple(input_shape))
        return tuple(input_shape)

    def _input_spec(self):
        ndim = len(self._build_input_shape)
        return ndim, {self.axis % ndim: self.moving_mean.shape[0]}

    # ---- layout: every tensor as (N, C), C the normalized axis -------------------------
    def _rows(self, x):
        """x as a 2-D (N, C) array: a view for the channels-last case."""
        if self.axis % x.ndim == x.ndim - 1:
            return x.reshape(-1, x.shape[-1])
        return np.ascontiguousarray(np.moveaxis(x, self.axis, -1)).reshape(-1, x.shape[self.axis])

    def _unrows(self, y2, shape):
        """The inverse of `_rows`: y2 (N, C) back to `shape` (contiguous)."""
        axis = self.axis % len(shape)
        if axis == len(shape) - 1:
            return y2.reshape(shape)
        moved = shape[:axis] + shape[axis + 1:] + (shape[axis],)
        return np.ascontiguousarray(np.moveaxis(y2.reshape(moved), -1, axis))

    def _fast(self, x2):
        return (self._implementation == "fast" and x2.flags.c_contiguous
                and x2.dtype in batchnorm_fast.FLOATS)

    # ---- computing ------------------------------------------------------------------
    def forward(self, x, training=False):
        self._require_built()
        x2 = self._rows(x)
        fast = self._fast(x2)
        batch_stats = bool(training) and self.trainable     # Keras: training and trainable
        if batch_stats:
            mean, var = batchnorm_fast.moments(x2) if fast else moments(x2)
            # the moving statistics move in the forward pass, as Keras's call assigns them
            self.moving_mean[...] = self.moving_mean * self.momentum + mean * (1.0 - self.momentum)
            self.moving_variance[...] = (self.moving_variance * self.momentum
                                         + var * (1.0 - self.momentum))
        else:
            mean, var = self.moving_mean.copy(), self.moving_variance.copy()
        inv = 1.0 / np.sqrt(var + self.epsilon)             # rsqrt(var + eps)
        a = inv * self.gamma if self.scale else inv
        b = self.beta - mean * a if self.center else -mean * a
        if fast:
            y2 = batchnorm_fast.normalize(x2, a, b, workspace.array("y", x2.shape, x2.dtype))
        else:
            y2 = normalize(x2, a, b)
        return self._unrows(y2, x.shape), (x2, x.shape, mean, inv, a, batch_stats)

    def backward(self, dy, cache, need_input_grad=True):
        x2, shape, mean, inv, a, batch_stats = cache
        dy2 = self._rows(dy)
        if dy2.dtype != x2.dtype:
            dy2 = dy2.astype(x2.dtype)
        fast = self._fast(x2) and self._fast(dy2)
        need_sums = self.trainable or batch_stats
        if need_sums:
            dbeta, dcentered = (batchnorm_fast.backward_sums(dy2, x2, mean) if fast
                                else backward_sums(dy2, x2, mean))
            dgamma = dcentered * inv                        # sum dy * xhat
        if self.trainable:
            if self.scale:
                self.add_grad(0, dgamma)
            if self.center:
                self.add_grad(1 if self.scale else 0, dbeta)
        if not need_input_grad:
            return None
        if not batch_stats:                                 # inference: the affine map
            dx2 = np.multiply(dy2, a, out=workspace.array("dx", dy2.shape, dy2.dtype))
            return self._unrows(dx2, shape)
        n = x2.shape[0]
        dbeta_n, dgamma_n = dbeta / n, dgamma / n
        if fast:
            dx2 = batchnorm_fast.input_gradient(dy2, x2, mean, inv, a, dbeta_n, dgamma_n,
                                                workspace.array("dx", dy2.shape, dy2.dtype))
        else:
            dx2 = input_gradient(dy2, x2, mean, inv, a, dbeta_n, dgamma_n)
        return self._unrows(dx2, shape)

    def get_config(self):
        from scratchnet import constraints, regularizers

        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer":
                    initializers.serialize(self.moving_variance_initializer),
                "beta_regularizer": regularizers.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers.serialize(self.gamma_regularizer),
                "beta_constraint": constraints.serialize(self.beta_constraint),
                "gamma_constraint": constraints.serialize(self.gamma_constraint),
                "synchronized": False, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": self.renorm_momentum}

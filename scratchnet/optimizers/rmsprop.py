r"""RMSprop (Hinton, 2012), optionally centered and with momentum: `keras.optimizers.RMSprop`.

RMSprop divides each gradient by a running root-mean-square of its recent values. With decay
rate :math:`\rho`, step size :math:`\eta`, fuzz :math:`\epsilon` and the running average of
squared gradients :math:`v` (starting at 0):

.. math::

    v \leftarrow \rho\, v + (1 - \rho)\, g^2

    \Delta = \frac{\eta\, g}{\sqrt{v + \epsilon}}

Centered (`centered=True`): also keep the running mean gradient :math:`a` (from 0) and divide
by an estimate of the gradient's standard deviation instead:

.. math::

    a \leftarrow \rho\, a + (1 - \rho)\, g, \qquad
    \Delta = \frac{\eta\, g}{\sqrt{v - a^2 + \epsilon}}

Then, without momentum, :math:`w \leftarrow w - \Delta`; with momentum :math:`\mu > 0`, a
buffer :math:`m` (from 0) accumulates the steps:

.. math::  m \leftarrow \mu\, m + \Delta, \qquad w \leftarrow w - m

Note that :math:`\epsilon` sits *inside* the square root, as in Keras 3
(`keras/src/optimizers/rmsprop.py`), whose operations this module repeats one for one.

Used in the lectures: *Hands-On Computer Vision*, ch. 3 compares RMSprop with SGD, Adagrad,
Adadelta and Adam on the same network.
"""
import numpy as np
from numba import njit

from scratchnet.optimizers.optimizer import Optimizer, _check_number


def rmsprop_update_numpy(var, grad, v, a, m, lr, rho, one_minus_rho, epsilon, momentum,
                         centered):
    """The RMSprop step in plain NumPy, in place on `var`, `v` and (when used) `a` and `m`.

    `a` is used only when `centered`, `m` only when momentum > 0 (otherwise they may be
    empty). Scalars are of the arrays' dtype; `one_minus_rho` is 1 - rho rounded once, as Keras
    computes it in Python before casting.
    """
    v[...] = rho * v + one_minus_rho * (grad * grad)         # v <- rho v + (1 - rho) g^2
    if centered:
        a[...] = rho * a + one_minus_rho * grad              # a <- rho a + (1 - rho) g
        denominator = v - a * a + epsilon                    # v - a^2 + eps
    else:
        denominator = v + epsilon                            # v + eps
    increment = (lr * grad) / np.sqrt(denominator)           # lr g / sqrt(...)
    if momentum > 0:
        m[...] = momentum * m + increment                    # m <- mu m + increment
        var -= m                                             # w <- w - m
    else:
        var -= increment                                     # w <- w - increment


@njit(cache=True, error_model="numpy")
def rmsprop_update_numba(var, grad, v, a, m, lr, rho, one_minus_rho, epsilon, momentum,
                         centered):
    """`rmsprop_update_numpy` as one fused loop over flat contiguous arrays."""
    n = var.size
    use_momentum = momentum > 0
    for i in range(n):
        g = grad[i]
        vi = rho * v[i] + one_minus_rho * (g * g)
        v[i] = vi
        if centered:
            ai = rho * a[i] + one_minus_rho * g
            a[i] = ai
            denominator = vi - ai * ai + epsilon
        else:
            denominator = vi + epsilon
        increment = (lr * g) / np.sqrt(denominator)
        if use_momentum:
            mi = momentum * m[i] + increment
            m[i] = mi
            var[i] -= mi
        else:
            var[i] -= increment


class RMSprop(Optimizer):
    """RMSprop with Keras defaults.

    Args:
        learning_rate: step size, default 0.001 (alias `lr`), or a schedule (schedules.py).
        rho: decay rate of the running averages, default 0.9.
        momentum: default 0.0 (no momentum buffer).
        epsilon: fuzz added under the square root, default 1e-7.
        centered: divide by the estimated variance instead of the second moment, default False.
        name: optional name; `decay` (tf.keras 2 time decay) is accepted as a keyword.
        clipnorm, clipvalue, global_clipnorm: gradient clipping, as in Keras (at most one;
            see scratchnet/optimizers/optimizer.py).
    """

    DEFAULT_LEARNING_RATE = 0.001

    def __init__(self, learning_rate=None, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = _check_number("RMSprop", "rho", rho, 0.0, 1.0)
        self.momentum = _check_number("RMSprop", "momentum", momentum, 0.0)
        self.epsilon = _check_number("RMSprop", "epsilon", epsilon, 0.0)
        self.centered = bool(centered)

    def _slot_names(self):
        names = ["velocity"]
        if self.momentum > 0:
            names.append("momentum")
        if self.centered:
            names.append("average_gradient")
        return tuple(names)

    _numba_update = staticmethod(rmsprop_update_numba)
    _numpy_update = staticmethod(rmsprop_update_numpy)

    def _kernel_slots(self, var, slots):
        return (self._slot(slots, "velocity", var),
                self._slot(slots, "average_gradient", var, needed=self.centered),
                self._slot(slots, "momentum", var, needed=self.momentum > 0))

    def _scalars(self, dtype, lr):
        f = dtype.type
        return (lr, f(self.rho), f(1 - self.rho), f(self.epsilon), f(self.momentum),
                self.centered)

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, momentum=self.momentum, epsilon=self.epsilon,
                      centered=self.centered)
        return config

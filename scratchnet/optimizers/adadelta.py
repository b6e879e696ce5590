r"""Adadelta (Zeiler, 2012): `keras.optimizers.Adadelta`.

Adadelta keeps two running averages with decay rate :math:`\rho`, both starting at 0: one of
squared gradients, :math:`E[g^2]`, and one of squared updates, :math:`E[\Delta^2]`. Each step
scales the gradient by the ratio of their root-mean-squares, so the units of the update match
those of the weight:

.. math::

    E[g^2] \leftarrow \rho\, E[g^2] + (1 - \rho)\, g^2

    \Delta = -\frac{\sqrt{E[\Delta^2] + \epsilon}\; g}{\sqrt{E[g^2] + \epsilon}}

    E[\Delta^2] \leftarrow \rho\, E[\Delta^2] + (1 - \rho)\, \Delta^2

    w \leftarrow w + \eta\, \Delta

The paper has no learning rate (:math:`\eta = 1`); Keras 3 keeps one, defaulting to 0.001
(`keras/src/optimizers/adadelta.py`, whose operations this module repeats one for one).

Used in the lectures: *Hands-On Computer Vision*, ch. 3 compares Adadelta with SGD, RMSprop,
Adagrad and Adam on the same network.
"""
import numpy as np
from numba import njit

from scratchnet.optimizers.optimizer import Optimizer, _check_number


def adadelta_update_numpy(var, grad, accumulated_grad, accumulated_delta, lr, rho,
                          one_minus_rho, epsilon):
    """The Adadelta step in plain NumPy, in place on `var` and both accumulators.

    `one_minus_rho` is 1 - rho rounded once, as Keras computes it in Python before casting.
    """
    accumulated_grad[...] = rho * accumulated_grad + one_minus_rho * (grad * grad)
    delta = -((np.sqrt(accumulated_delta + epsilon) * grad)
              / np.sqrt(accumulated_grad + epsilon))
    accumulated_delta[...] = rho * accumulated_delta + one_minus_rho * (delta * delta)
    var += lr * delta


@njit(cache=True, error_model="numpy")
def adadelta_update_numba(var, grad, accumulated_grad, accumulated_delta, lr, rho,
                          one_minus_rho, epsilon):
    """`adadelta_update_numpy` as one fused loop over flat contiguous arrays."""
    for i in range(var.size):
        g = grad[i]
        eg = rho * accumulated_grad[i] + one_minus_rho * (g * g)
        accumulated_grad[i] = eg
        ed = accumulated_delta[i]
        delta = -((np.sqrt(ed + epsilon) * g) / np.sqrt(eg + epsilon))
        accumulated_delta[i] = rho * ed + one_minus_rho * (delta * delta)
        var[i] += lr * delta


class Adadelta(Optimizer):
    """Adadelta with Keras defaults.

    Args:
        learning_rate: step size, default 0.001 (alias `lr`), or a schedule (schedules.py);
            1.0 gives the paper's method.
        rho: decay rate of both running averages, default 0.95.
        epsilon: fuzz added under the square roots, default 1e-7.
        name: optional name; `decay` (tf.keras 2 time decay) is accepted as a keyword.
        clipnorm, clipvalue, global_clipnorm: gradient clipping, as in Keras (at most one;
            see scratchnet/optimizers/optimizer.py).
    """

    DEFAULT_LEARNING_RATE = 0.001

    def __init__(self, learning_rate=None, rho=0.95, epsilon=1e-7, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.rho = _check_number("Adadelta", "rho", rho, 0.0, 1.0)
        self.epsilon = _check_number("Adadelta", "epsilon", epsilon, 0.0)

    def _slot_names(self):
        return ("accumulated_grad", "accumulated_delta_var")

    def _keras_slot_groups(self):     # Keras creates both per variable, interleaved
        return (self._slot_names(),)

    _numba_update = staticmethod(adadelta_update_numba)
    _numpy_update = staticmethod(adadelta_update_numpy)

    def _scalars(self, dtype, lr):
        f = dtype.type
        return lr, f(self.rho), f(1 - self.rho), f(self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(rho=self.rho, epsilon=self.epsilon)
        return config

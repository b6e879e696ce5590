r"""Adagrad (Duchi et al., 2011): `keras.optimizers.Adagrad`.

Adagrad gives every weight its own step size, shrinking as the squared gradients that weight
has seen pile up. With step size :math:`\eta`, fuzz :math:`\epsilon` and an accumulator
:math:`s` that starts at `initial_accumulator_value` (0.1 by default):

.. math::

    s \leftarrow s + g^2

    w \leftarrow w - \frac{\eta\, g}{\sqrt{s + \epsilon}}

(:math:`\epsilon` inside the square root, as in Keras 3, `keras/src/optimizers/adagrad.py`,
whose operations this module repeats one for one.)

Used in the lectures: *Hands-On Computer Vision*, ch. 3 compares Adagrad with SGD, RMSprop,
Adadelta and Adam on the same network.
"""
import numpy as np
from numba import njit

from scratchnet.optimizers.optimizer import Optimizer, _check_number, keras_cast


def adagrad_update_numpy(var, grad, accumulator, lr, epsilon):
    """The Adagrad step in plain NumPy, in place on `var` and `accumulator`."""
    accumulator += grad * grad                                 # s <- s + g^2
    var -= (lr * grad) / np.sqrt(accumulator + epsilon)        # w <- w - lr g / sqrt(s + eps)


@njit(cache=True, error_model="numpy")
def adagrad_update_numba(var, grad, accumulator, lr, epsilon):
    """`adagrad_update_numpy` as one fused loop over flat contiguous arrays."""
    for i in range(var.size):
        g = grad[i]
        s = accumulator[i] + g * g
        accumulator[i] = s
        var[i] -= (lr * g) / np.sqrt(s + epsilon)


class Adagrad(Optimizer):
    """Adagrad with Keras defaults.

    Args:
        learning_rate: step size, default 0.001 (alias `lr`), or a schedule (schedules.py).
        initial_accumulator_value: starting value of the accumulators, >= 0, default 0.1.
        epsilon: fuzz added under the square root, default 1e-7.
        name: optional name; `decay` (tf.keras 2 time decay) is accepted as a keyword.
        clipnorm, clipvalue, global_clipnorm: gradient clipping, as in Keras (at most one;
            see scratchnet/optimizers/optimizer.py).
    """

    DEFAULT_LEARNING_RATE = 0.001

    def __init__(self, learning_rate=None, initial_accumulator_value=0.1, epsilon=1e-7,
                 name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.initial_accumulator_value = _check_number(
            "Adagrad", "initial_accumulator_value", initial_accumulator_value, 0.0)
        self.epsilon = _check_number("Adagrad", "epsilon", epsilon, 0.0)

    def _slot_names(self):
        return ("accumulator",)

    def _slot_initial_value(self, name):
        # Keras's Constant initializer goes through ops.cast: float32-rounded (keras_cast).
        return keras_cast(self.initial_accumulator_value, np.float32)

    _numba_update = staticmethod(adagrad_update_numba)
    _numpy_update = staticmethod(adagrad_update_numpy)

    def _scalars(self, dtype, lr):
        return lr, dtype.type(self.epsilon)

    def get_config(self):
        config = super().get_config()
        config.update(initial_accumulator_value=self.initial_accumulator_value,
                      epsilon=self.epsilon)
        return config

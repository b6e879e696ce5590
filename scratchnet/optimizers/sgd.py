r"""Stochastic gradient descent, with optional (Nesterov) momentum: `keras.optimizers.SGD`.

For a weight :math:`w` with gradient :math:`g` and step size :math:`\eta` (the learning
rate, after the legacy `decay` if one was given):

* momentum :math:`\mu = 0` (plain gradient descent):

  .. math::  w \leftarrow w - \eta\, g

* momentum :math:`\mu > 0`, with a velocity :math:`m` starting at 0:

  .. math::  m \leftarrow \mu\, m - \eta\, g, \qquad w \leftarrow w + m

* Nesterov momentum (`nesterov=True`): the same velocity, but the weight steps to where the
  velocity is about to take it:

  .. math::  m \leftarrow \mu\, m - \eta\, g, \qquad w \leftarrow w + \mu\, m - \eta\, g

These are Keras 3's formulas, operation for operation (`keras/src/optimizers/sgd.py`).

Used in the lectures: *Python Machine Learning*, ch. 13 builds its first Keras network with
``SGD(lr=0.001, decay=1e-7, momentum=.9)`` (the old `lr` spelling and the tf.keras 2 `decay`,
both accepted here: see `scratchnet.optimizers.optimizer`); *Hands-On Computer Vision*, ch. 3
compares SGD (with and without momentum) against RMSprop, Adagrad, Adadelta and Adam.
"""
from numba import njit

from scratchnet.optimizers.optimizer import Optimizer, _check_number, keras_cast


def sgd_update_numpy(var, grad, m, lr, momentum, nesterov):
    """The SGD step in plain NumPy, in place on `var` (and `m`, unused when momentum == 0).

    All arrays share one shape and dtype; `lr` and `momentum` are scalars of that dtype.
    """
    if momentum == 0:
        var -= grad * lr                      # w <- w - lr g
    elif nesterov:
        m[...] = m * momentum - grad * lr     # m <- mu m - lr g
        var += m * momentum - grad * lr       # w <- w + mu m - lr g
    else:
        m[...] = m * momentum - grad * lr     # m <- mu m - lr g
        var += m                              # w <- w + m


@njit(cache=True, error_model="numpy")
def sgd_update_numba(var, grad, m, lr, momentum, nesterov):
    """`sgd_update_numpy` as one fused loop over flat contiguous arrays."""
    n = var.size
    if momentum == 0:
        for i in range(n):
            var[i] -= grad[i] * lr
    elif nesterov:
        for i in range(n):
            g = grad[i]
            mi = m[i] * momentum - g * lr
            m[i] = mi
            var[i] += mi * momentum - g * lr
    else:
        for i in range(n):
            mi = m[i] * momentum - grad[i] * lr
            m[i] = mi
            var[i] += mi


class SGD(Optimizer):
    """Gradient descent with optional momentum and Nesterov momentum (Keras defaults).

    Args:
        learning_rate: step size, default 0.01 (alias `lr`), or a schedule (schedules.py).
        momentum: float in [0, 1], default 0.0 (plain gradient descent).
        nesterov: use Nesterov momentum, default False.
        name: optional name; `decay` (tf.keras 2 time decay) is accepted as a keyword.
        clipnorm, clipvalue, global_clipnorm: gradient clipping, as in Keras (at most one;
            see scratchnet/optimizers/optimizer.py).
    """

    DEFAULT_LEARNING_RATE = 0.01

    def __init__(self, learning_rate=None, momentum=0.0, nesterov=False, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.momentum = _check_number("SGD", "momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_names(self):
        return ("momentum",) if self.momentum != 0 else ()

    _numba_update = staticmethod(sgd_update_numba)
    _numpy_update = staticmethod(sgd_update_numpy)

    def _kernel_slots(self, var, slots):
        return (self._slot(slots, "momentum", var, needed=self.momentum != 0),)

    def _scalars(self, dtype, lr):
        # keras_cast: Keras rounds `momentum` through float32 (ops.cast of a Python float).
        return lr, keras_cast(self.momentum, dtype), self.nesterov

    def get_config(self):
        config = super().get_config()
        config.update(momentum=self.momentum, nesterov=self.nesterov)
        return config

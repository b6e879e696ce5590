r"""Adam (Kingma & Ba, 2014), optionally AMSGrad: `keras.optimizers.Adam`.

Adam keeps running averages of the gradient, :math:`m`, and of its square, :math:`v` (both
from 0), with decay rates :math:`\beta_1, \beta_2`. At step :math:`t = 1, 2, \dots` (that is,
`iterations + 1`):

.. math::

    m \leftarrow m + (1 - \beta_1)(g - m)          \quad (= \beta_1 m + (1 - \beta_1) g)

    v \leftarrow v + (1 - \beta_2)(g^2 - v)        \quad (= \beta_2 v + (1 - \beta_2) g^2)

    \alpha_t = \eta\, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}

    w \leftarrow w - \frac{\alpha_t\, m}{\sqrt{v} + \hat\epsilon}

The bias corrections of the paper are folded into the step size :math:`\alpha_t`, and the
fuzz :math:`\hat\epsilon` is added to the *uncorrected* :math:`\sqrt{v}` (the "epsilon hat"
of the paper's Section 2): this is Keras 3's form (`keras/src/optimizers/adam.py`), whose
operations this module repeats one for one. It differs slightly from Algorithm 1 of the paper,
which adds :math:`\epsilon` to :math:`\sqrt{\hat v}`.

AMSGrad (`amsgrad=True`, Reddi et al., 2018) divides by the largest :math:`v` seen so far
instead: :math:`\hat v \leftarrow \max(\hat v, v)`, then
:math:`w \leftarrow w - \alpha_t m / (\sqrt{\hat v} + \hat\epsilon)`.

Used in the lectures: the Fashion-MNIST MLP (``model.compile(optimizer='adam', ...)``) trains
with Adam's defaults; *Hands-On Computer Vision*, ch. 3 compares Adam with SGD, RMSprop,
Adagrad and Adadelta.
"""
import numpy as np
from numba import njit

from scratchnet.optimizers.optimizer import Optimizer, _check_number, keras_cast


def adam_step_size(lr, beta_1, beta_2, step):
    """alpha_t = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t), all as scalars of lr's dtype.

    As in Keras, the betas enter the powers through `ops.cast`, i.e. float32-rounded even for
    float64 (`keras_cast`); `1 - beta` in the moment updates is not (see `Adam._scalars`).
    """
    f = type(lr)
    t = f(step)
    beta_1_power = keras_cast(beta_1, type(lr)) ** t
    beta_2_power = keras_cast(beta_2, type(lr)) ** t
    return lr * np.sqrt(f(1) - beta_2_power) / (f(1) - beta_1_power)


def adam_update_numpy(var, grad, m, v, v_hat, alpha, one_minus_beta_1, one_minus_beta_2,
                      epsilon, amsgrad):
    """The Adam step in plain NumPy, in place on `var`, `m`, `v` (and `v_hat` for AMSGrad).

    `alpha` comes from `adam_step_size`; `one_minus_beta_*` are 1 - beta rounded once, as Keras
    computes them in Python before casting. `v_hat` may be empty when not `amsgrad`.
    """
    m += (grad - m) * one_minus_beta_1                  # m <- m + (1 - b1)(g - m)
    v += (grad * grad - v) * one_minus_beta_2           # v <- v + (1 - b2)(g^2 - v)
    if amsgrad:
        np.maximum(v_hat, v, out=v_hat)                 # v_hat <- max(v_hat, v)
        v = v_hat
    var -= (m * alpha) / (np.sqrt(v) + epsilon)         # w <- w - alpha m / (sqrt(v) + eps)


@njit(cache=True, error_model="numpy")
def adam_update_numba(var, grad, m, v, v_hat, alpha, one_minus_beta_1, one_minus_beta_2,
                      epsilon, amsgrad):
    """`adam_update_numpy` as one fused loop over flat contiguous arrays."""
    n = var.size
    if amsgrad:
        for i in range(n):
            g = grad[i]
            mi = m[i]
            mi += (g - mi) * one_minus_beta_1
            m[i] = mi
            vi = v[i]
            vi += (g * g - vi) * one_minus_beta_2
            v[i] = vi
            vh = np.maximum(v_hat[i], vi)
            v_hat[i] = vh
            var[i] -= (mi * alpha) / (np.sqrt(vh) + epsilon)
    else:
        for i in range(n):
            g = grad[i]
            mi = m[i]
            mi += (g - mi) * one_minus_beta_1
            m[i] = mi
            vi = v[i]
            vi += (g * g - vi) * one_minus_beta_2
            v[i] = vi
            var[i] -= (mi * alpha) / (np.sqrt(vi) + epsilon)


class Adam(Optimizer):
    """Adam with Keras defaults.

    Args:
        learning_rate: step size, default 0.001 (alias `lr`), or a schedule (schedules.py).
        beta_1: decay rate of the mean gradient, in [0, 1), default 0.9.
        beta_2: decay rate of the mean squared gradient, in [0, 1), default 0.999.
        epsilon: fuzz added to sqrt(v), default 1e-7.
        amsgrad: use the AMSGrad variant, default False.
        name: optional name; `decay` (tf.keras 2 time decay) is accepted as a keyword.
        clipnorm, clipvalue, global_clipnorm: gradient clipping, as in Keras (at most one;
            see scratchnet/optimizers/optimizer.py).
    """

    DEFAULT_LEARNING_RATE = 0.001

    def __init__(self, learning_rate=None, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 amsgrad=False, name=None, **kwargs):
        super().__init__(learning_rate, name=name, **kwargs)
        self.beta_1 = _check_number("Adam", "beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _check_number("Adam", "beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = _check_number("Adam", "epsilon", epsilon, 0.0)
        self.amsgrad = bool(amsgrad)

    def _slot_names(self):
        return ("momentum", "velocity", "velocity_hat") if self.amsgrad else ("momentum",
                                                                               "velocity")

    def _keras_slot_groups(self):     # Keras: m and v interleaved, then the v_hats
        return (("momentum", "velocity"),) + ((("velocity_hat",),) if self.amsgrad else ())

    _numba_update = staticmethod(adam_update_numba)
    _numpy_update = staticmethod(adam_update_numpy)

    def _kernel_slots(self, var, slots):
        return (self._slot(slots, "momentum", var), self._slot(slots, "velocity", var),
                self._slot(slots, "velocity_hat", var, needed=self.amsgrad))

    def _scalars(self, dtype, lr):
        f = dtype.type
        alpha = adam_step_size(lr, self.beta_1, self.beta_2, self.iterations + 1)
        return alpha, f(1 - self.beta_1), f(1 - self.beta_2), f(self.epsilon), self.amsgrad

    def get_config(self):
        config = super().get_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon,
                      amsgrad=self.amsgrad)
        return config

r"""Learning-rate schedules, as in `keras.optimizers.schedules`.

A schedule is a function of the optimizer's step :math:`t` (`optimizer.iterations`, the number
of updates done so far: 0 for the first update) giving the step size for that update. Pass one
as any optimizer's `learning_rate`:

    lr = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96)
    opt = keras.optimizers.SGD(learning_rate=lr)     # update t uses lr(t)
    lr(0), lr(1000)                                  # 0.1, 0.096 (float32 scalars)

With :math:`\eta_0` = `initial_learning_rate` and :math:`T` = `decay_steps`:

* `ExponentialDecay(eta_0, T, r, staircase=False)`:
  :math:`\eta_t = \eta_0\, r^{t/T}` (with `staircase`, :math:`r^{\lfloor t/T \rfloor}`: the rate
  drops by a factor r every T steps).
* `InverseTimeDecay(eta_0, T, r, staircase=False)`:
  :math:`\eta_t = \eta_0 / (1 + r\, t/T)` (:math:`\lfloor t/T \rfloor` with `staircase`).
  tf.keras 2's `decay=` argument is this schedule with T = 1 (see `optimizer.py`).
* `PiecewiseConstantDecay(boundaries, values)`: `values[0]` while :math:`t \le`
  `boundaries[0]`, `values[i]` while `boundaries[i-1]` :math:`< t \le` `boundaries[i]`, and
  `values[-1]` after the last boundary.
* `PolynomialDecay(eta_0, T, end_learning_rate=1e-4, power=1.0, cycle=False)`: from
  :math:`\eta_0` down to :math:`\eta_{end}` in T steps, then constant,

  .. math::  \eta_t = (\eta_0 - \eta_{end})\,(1 - \min(t, T)/T)^{power} + \eta_{end}

  With `cycle=True` it restarts instead: T is replaced by the first multiple of T that is
  :math:`\ge t` (T itself at t = 0).
* `CosineDecay(eta_0, T, alpha=0.0, warmup_target=None, warmup_steps=0)` (Loshchilov &
  Hutter's SGDR without restarts): half a cosine from :math:`\eta_0` down to
  :math:`\alpha\,\eta_0` over T steps, then constant,

  .. math::  \eta_t = \eta_0 \Big((1 - \alpha)\, \tfrac12\big(1 + \cos(\pi \min(t, T)/T)\big)
             + \alpha\Big)

  With a `warmup_target` :math:`\eta_w`, the rate first rises linearly from :math:`\eta_0` to
  :math:`\eta_w` over `warmup_steps` W steps (Goyal et al.), then decays as above from
  :math:`\eta_w` over the next T steps: for t < W, :math:`\eta_t = \eta_0 + (\eta_w - \eta_0)\,
  t/W`; otherwise the cosine formula with :math:`\eta_w` for :math:`\eta_0` and t - W for t.

Exactly as Keras computes them
------------------------------
Keras computes a schedule in the dtype `initial_learning_rate` has as a tensor: **float32 for
a Python float** (whatever the model's dtype; `np.float64(0.1)` gives float64), and the
optimizer then casts the value to each variable's dtype. Every other argument enters through
`ops.cast`, which rounds a Python float through float32 first (`_cast`); the step is cast
too. scratchnet repeats this operation for operation, in NumPy scalars of that dtype, so
float64 weights trained with a float32 schedule still agree with TensorFlow to ~1e-16. Two
details make that exact:

* `pow` and `cos` call the C library's `powf`/`pow` and `cosf`/`cos` (through Numba), which
  is what TensorFlow's CPU kernels call for one number (`np.power` may use other SIMD code);
* a schedule gives two slightly different values in Keras. Called by hand (or when you read
  `optimizer.learning_rate`) it runs eagerly, op by op. Inside `fit` it runs in a tf.function
  graph, which TensorFlow's graph optimizer rewrites first: `x / T` by a constant T becomes
  `x * (1/T)`, a constant times a product folds into the product (`r * (t * (1/T))` becomes
  `t * (r * (1/T))`), and `pow(x, c)` for a constant c in {2, 3, 1, 0.5, 0, -1} becomes x*x,
  x*(x*x), x, sqrt(x), 1, 1/x. The two differ in the last bit now and then, which is ~1e-8
  relative for a float32 schedule: too much for float64 parity. So each schedule here has
  both: `schedule(step)` is the eager value and `schedule.training_value(step)` the graph's,
  which is what the optimizers use for their updates (the `graph` argument marks each
  spot).

Not repeated: TensorFlow flushes subnormal floats (below ~1e-38 in float32) to zero; here a
schedule's result is flushed too, but not every intermediate value.
"""
import math
import numbers

import numpy as np
from numba import njit

__all__ = ["LearningRateSchedule", "ExponentialDecay", "InverseTimeDecay",
           "PiecewiseConstantDecay", "PolynomialDecay", "CosineDecay", "serialize",
           "deserialize"]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- Keras's casts
def _tensor_dtype(value):
    """The dtype `tf.convert_to_tensor(value)` gives: float32 for a Python float, int32 (int64
    when it does not fit) for a Python int, a NumPy scalar's own dtype."""
    if isinstance(value, (np.generic, np.ndarray)):
        return value.dtype
    if isinstance(value, bool):
        return np.dtype(np.bool_)
    if isinstance(value, numbers.Integral):
        return np.dtype(np.int32) if -2**31 <= value < 2**31 else np.dtype(np.int64)
    return np.dtype(np.float32)


def _as_tensor(value):
    """`value` as the NumPy scalar `tf.convert_to_tensor(value)` would hold."""
    return _tensor_dtype(value).type(value)


def _cast(value, dtype):
    """Keras's `ops.cast(value, dtype)`: to a tensor first (`_tensor_dtype`), then to `dtype`.

    So a Python float is rounded to float32 before it becomes a float64.
    """
    return dtype.type(_tensor_dtype(value).type(value))


@njit(cache=True)
def _libm_pow(x, y):
    return math.pow(x, y)      # powf for float32 arguments, pow for float64


@njit(cache=True)
def _libm_cos(x):
    return math.cos(x)         # cosf / cos


def _flush(x):
    """TensorFlow's CPU kernels flush subnormal results to (signed) zero."""
    if x != 0 and abs(x) < np.finfo(x.dtype).tiny:
        return np.copysign(x.dtype.type(0), x)
    return x


def _pow(x, y):
    """x ** y for two scalars of one float dtype, as TensorFlow's Pow kernel gives it."""
    return _flush(x.dtype.type(_libm_pow(x, y)))


def _cos(x):
    return _flush(x.dtype.type(_libm_cos(x)))


def _div_const(x, c, graph):
    """x / c for a constant c; in a graph TensorFlow computes x * (1 / c) instead (constant
    folding, "ReduceDivToReciprocalMul"), which is not always the same number."""
    return x * (c.dtype.type(1) / c) if graph else x / c


def _scaled_pow(scale, x, exponent, graph):
    """scale * pow(x, exponent) for constants `scale` and `exponent`. In a graph TensorFlow
    turns pow(x, c) for c in {2, 3, 1, 0.5, 0, -1} into x*x, x*(x*x), x, sqrt(x), 1, 1/x
    ("ConvertPow"), and then scale * (x * (x*x)) into (scale*x) * (x*x) ("ConstantPushDown")."""
    f = x.dtype.type
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if not graph:
            return scale * _pow(x, exponent)
        if exponent == 3:
            return (scale * x) * (x * x)
        if exponent == 2:
            y = x * x
        elif exponent == 1:
            y = x
        elif exponent == 0.5:
            y = np.sqrt(x)
        elif exponent == 0:
            y = f(1)
        elif exponent == -1:
            y = f(1) / x
        else:
            y = _pow(x, exponent)
        return scale * y


# ---------------------------------------------------------------------------- validation
def _check_real(owner, name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: `{name}` must be a real number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{owner}: `{name}` must be finite, got {value!r}")
    return value


def _check_rate(owner, name, value):
    """A learning-rate value: a float (Python float -> float32, or a NumPy float32/float64)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if not (isinstance(value, (float, np.floating)) and _tensor_dtype(value) in _FLOAT_DTYPES):
        raise TypeError(
            f"{owner}: `{name}` must be a float (a Python float, or a NumPy float32/float64 "
            f"scalar), got {value!r}" + (" (write it as a float, e.g. 1.0)"
                                        if isinstance(value, numbers.Integral) else "")
        )
    if not math.isfinite(float(value)):
        raise ValueError(f"{owner}: `{name}` must be finite, got {value!r}")
    return value


def _check_decay_steps(owner, name, value):
    _check_real(owner, name, value)
    if value <= 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")
    return value


def _check_step(owner, step):
    if isinstance(step, np.ndarray) and step.ndim == 0:
        step = step[()]
    if (isinstance(step, (bool, np.bool_)) or not isinstance(step, numbers.Real)):
        raise TypeError(f"{owner}: the step must be a number (the optimizer's iterations), "
                        f"got {step!r}")
    return step


# ---------------------------------------------------------------------------- schedules
class LearningRateSchedule:
    """Base class: subclasses implement `__call__(self, step)` (and `get_config`).

    `step` is the optimizer's update count (a NumPy int64); the result is the learning rate
    for that update. A subclass written like Keras's own example works as is:

        class MySchedule(LearningRateSchedule):
            def __init__(self, initial_learning_rate):
                self.initial_learning_rate = initial_learning_rate
            def __call__(self, step):
                return self.initial_learning_rate / (step + 1)
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' "
            "must override `__call__(self, step)`."
        )

    def training_value(self, step):
        """The value an optimizer uses for update number `step`: the schedule as Keras's
        `fit` evaluates it, inside a TensorFlow graph (see the module docstring). For a
        schedule of your own this is simply `self(step)`."""
        return self(step)

    def get_config(self):
        raise NotImplementedError(
            f"Learning rate schedule '{self.__class__.__name__}' "
            "must override `get_config()` in order to be serializable."
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        try:
            items = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            items = ""
        return f"{type(self).__name__}({items})"


class _KerasSchedule(LearningRateSchedule):
    """A built-in schedule: `_compute(step, graph)` gives the eager value (graph=False) and the
    value inside a TensorFlow graph (graph=True); they differ only in rounding."""

    def __call__(self, step):
        return _flush(self._compute(_check_step(type(self).__name__, step), graph=False))

    def training_value(self, step):
        return _flush(self._compute(_check_step(type(self).__name__, step), graph=True))


class _Decay(_KerasSchedule):
    """The arguments both ExponentialDecay and InverseTimeDecay take, checked as Keras does."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name=None):
        owner = type(self).__name__
        self.initial_learning_rate = _check_rate(owner, "initial_learning_rate",
                                                 initial_learning_rate)
        self.decay_steps = _check_decay_steps(owner, "decay_steps", decay_steps)
        self.decay_rate = _check_real(owner, "decay_rate", decay_rate)
        self.staircase = bool(staircase)
        self.name = owner if name is None else name      # Keras: the class name

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "decay_rate": self.decay_rate,
                "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_Decay):
    """lr(t) = initial_learning_rate * decay_rate ** (t / decay_steps) (floor with staircase)."""

    def _compute(self, step, graph):
        lr0 = _as_tensor(self.initial_learning_rate)
        dtype = lr0.dtype
        p = _div_const(_cast(step, dtype), _cast(self.decay_steps, dtype), graph)  # t / T
        if self.staircase:
            p = np.floor(p)
        return lr0 * _pow(_cast(self.decay_rate, dtype), p)


class InverseTimeDecay(_Decay):
    """lr(t) = initial_learning_rate / (1 + decay_rate * t / decay_steps) (floor with staircase)."""

    def _compute(self, step, graph):
        lr0 = _as_tensor(self.initial_learning_rate)
        dtype = lr0.dtype
        f = dtype.type
        t, decay_steps = _cast(step, dtype), _cast(self.decay_steps, dtype)
        decay_rate = _cast(self.decay_rate, dtype)
        if self.staircase:
            rate_p = decay_rate * np.floor(_div_const(t, decay_steps, graph))   # r floor(t/T)
        elif graph:
            rate_p = t * (decay_rate * (f(1) / decay_steps))   # r * (t * (1/T)), regrouped
        else:
            rate_p = decay_rate * (t / decay_steps)             # r t / T
        return lr0 / (f(1) + rate_p)



class PiecewiseConstantDecay(_KerasSchedule):
    """values[0] for t <= boundaries[0], values[i] for boundaries[i-1] < t <= boundaries[i],
    values[-1] for t > boundaries[-1]."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        owner = type(self).__name__
        for arg, seq in (("boundaries", boundaries), ("values", values)):
            if isinstance(seq, (str, bytes)) or not hasattr(seq, "__len__"):
                raise TypeError(f"{owner}: `{arg}` must be a list of numbers, got {seq!r}")
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of "
                f"values. Received: boundaries={boundaries} of length "
                f"{len(boundaries)}, and values={values} "
                f"of length {len(values)}."
            )
        if len(boundaries) == 0:
            raise ValueError(f"{owner}: `boundaries` must not be empty (got {boundaries!r}); "
                             "for a constant rate pass a float learning_rate instead")
        for b in boundaries:
            _check_real(owner, "boundaries", b)
        if any(not a < b for a, b in zip(boundaries[:-1], boundaries[1:])):
            raise ValueError(f"{owner}: `boundaries` must be strictly increasing, got "
                             f"{list(boundaries)}")
        dtypes = {np.dtype(_tensor_dtype(_check_rate(owner, "values", v))) for v in values}
        if len(dtypes) > 1:
            raise TypeError(f"{owner}: all `values` must have one dtype (all Python floats, or "
                            f"all NumPy float32/float64), got {list(values)}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def _compute(self, step, graph):
        step_dtype = _tensor_dtype(step)
        step = step_dtype.type(step)
        # Keras casts the boundaries to the step's dtype (an int64 for the optimizer's step).
        boundaries = [_cast(b, step_dtype) for b in self.boundaries]
        values = [_as_tensor(v) for v in self.values]
        if step <= boundaries[0]:
            return values[0]
        for high, value in zip(boundaries[1:], values[1:-1]):
            if step <= high:
                return value
        return values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(_KerasSchedule):
    """lr(t) = (initial - end) * (1 - min(t, decay_steps) / decay_steps) ** power + end;
    with `cycle`, decay_steps grows to the first multiple of itself >= t instead."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        owner = type(self).__name__
        self.initial_learning_rate = _check_rate(owner, "initial_learning_rate",
                                                 initial_learning_rate)
        self.decay_steps = _check_decay_steps(owner, "decay_steps", decay_steps)
        self.end_learning_rate = _check_real(owner, "end_learning_rate", end_learning_rate)
        self.power = _check_real(owner, "power", power)
        self.cycle = bool(cycle)
        self.name = name

    def _compute(self, step, graph):
        lr0 = _as_tensor(self.initial_learning_rate)
        dtype = lr0.dtype
        f = dtype.type
        end = _cast(self.end_learning_rate, dtype)
        power = _cast(self.power, dtype)
        t = _cast(step, dtype)
        decay_steps = _cast(self.decay_steps, dtype)
        if self.cycle:
            # The first multiple of decay_steps >= t (1 x decay_steps at t = 0). Keras divides
            # by the Python number here, converted straight to `dtype` (no float32 rounding).
            multiplier = (f(1.0) if t == 0
                          else np.ceil(_div_const(t, f(self.decay_steps), graph)))
            decay_steps = decay_steps * multiplier
            p = t / decay_steps
        else:
            p = _div_const(np.minimum(t, decay_steps), decay_steps, graph)
        return _scaled_pow(lr0 - end, f(1) - p, power, graph) + end

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "end_learning_rate": self.end_learning_rate,
                "power": self.power, "cycle": self.cycle, "name": self.name}


class CosineDecay(_KerasSchedule):
    """Cosine decay from the initial rate (or from `warmup_target` after a linear warmup of
    `warmup_steps` steps) to `alpha` times it over `decay_steps` steps."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        owner = type(self).__name__
        self.initial_learning_rate = _check_rate(owner, "initial_learning_rate",
                                                 initial_learning_rate)
        self.decay_steps = _check_decay_steps(owner, "decay_steps", decay_steps)
        self.alpha = _check_real(owner, "alpha", alpha)
        self.name = name
        if warmup_target is not None:
            _check_real(owner, "warmup_target", warmup_target)
        _check_real(owner, "warmup_steps", warmup_steps)
        if warmup_steps < 0:
            raise ValueError(f"{owner}: `warmup_steps` must be >= 0, got {warmup_steps!r}")
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def _decay_function(self, t, decay_steps, decay_from_lr, dtype, graph):
        f = dtype.type
        if graph:       # pi * (t * (1/T)), regrouped by TensorFlow's graph optimizer
            angle = t * (f(math.pi) * (f(1) / decay_steps))
        else:
            angle = f(math.pi) * (t / decay_steps)
        cosine_decayed = f(0.5) * (f(1.0) + _cos(angle))
        # (1 - alpha) and alpha are Python numbers here, converted straight to `dtype`.
        decayed = f(1 - self.alpha) * cosine_decayed + f(self.alpha)
        return decay_from_lr * decayed

    def _compute(self, step, graph):
        lr0 = _as_tensor(self.initial_learning_rate)
        dtype = lr0.dtype
        decay_steps = _cast(self.decay_steps, dtype)
        t = _cast(step, dtype)
        if self.warmup_target is None:
            t = np.minimum(t, decay_steps)
            return self._decay_function(t, decay_steps, lr0, dtype, graph)
        warmup_target = _cast(self.warmup_target, dtype)
        warmup_steps = _cast(self.warmup_steps, dtype)
        t = np.minimum(t, decay_steps + warmup_steps)
        # Keras picks the phase with a tf.cond; TensorFlow's graph optimizer leaves the
        # arithmetic inside its branches alone, so both phases compute as when eager.
        if t < warmup_steps:                       # linear warmup from lr0 to warmup_target
            return (warmup_target - lr0) * (t / warmup_steps) + lr0
        return self._decay_function(t - warmup_steps, decay_steps, warmup_target, dtype,
                                    graph=False)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "decay_steps": self.decay_steps, "alpha": self.alpha, "name": self.name,
                "warmup_target": self.warmup_target, "warmup_steps": self.warmup_steps}


# ---------------------------------------------------------------------------- (de)serialize
_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay,
                                          PiecewiseConstantDecay, PolynomialDecay, CosineDecay)}


def serialize(learning_rate_schedule):
    """The schedule as Keras serializes it: {'module', 'class_name', 'config',
    'registered_name'} (what an optimizer's get_config holds for a scheduled rate)."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(f"serialize: expected a LearningRateSchedule, got "
                        f"{learning_rate_schedule!r}")
    cls = type(learning_rate_schedule)
    builtin = _CLASSES.get(cls.__name__) is cls
    return {"module": "keras.optimizers.schedules" if builtin else cls.__module__,
            "class_name": cls.__name__, "config": learning_rate_schedule.get_config(),
            "registered_name": None if builtin else cls.__name__}


def deserialize(config, custom_objects=None):
    """A schedule from `serialize`'s dict (a built-in class, or one in `custom_objects`)."""
    if isinstance(config, LearningRateSchedule):
        return config
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret learning rate schedule: expected a dict with "
                         f"'class_name' and 'config', got {config!r}")
    from scratchnet.saving.serialization import get_registered_object

    name = config["class_name"]
    cls = (get_registered_object(config.get("registered_name") or name, custom_objects)
           or _CLASSES.get(name))
    if cls is None:
        raise ValueError(f"Could not interpret learning rate schedule: unknown class_name "
                         f"{name!r}; known schedules: {', '.join(map(repr, _CLASSES))}")
    return cls.from_config(dict(config.get("config") or {}))

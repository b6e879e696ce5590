"""The `Optimizer` base class, as in `keras.optimizers.Optimizer`.

An optimizer turns gradients into in-place updates of the model's weights:

    optimizer.apply(grads, variables)      # variables[i] -= f(grads[i], state[i])

The model owns the weight arrays; the optimizer only writes into them (it never rebinds or
replaces them), so a `Dense` layer's `kernel` stays the same `np.ndarray` object for the whole
of training. The first call builds the per-variable state ("slots": momentum buffers, running
averages), each in its variable's dtype, and later calls check that they are given the same
number of variables with the same shapes and dtypes.

Every concrete optimizer (SGD, RMSprop, Adagrad, Adadelta, Adam) ships its update twice, in its
own module:

* `<name>_update_numpy(...)`: the math written with whole-array NumPy expressions, the version
  to read when learning what the optimizer does;
* `<name>_update_numba(...)`: the same arithmetic, operation for operation, as one fused
  `@njit` loop over the flattened arrays (one pass over memory, no temporaries). This is what
  `apply` runs by default.

The two give bit-identical results (the tests check this); set `optimizer.implementation =
"numpy"` to train with the readable version instead.

Learning rate: a number, a schedule, or the legacy `decay`
---------------------------------------------------------
`learning_rate` is a number, a `LearningRateSchedule` (scratchnet/optimizers/schedules.py:
`ExponentialDecay`, `CosineDecay`, ...) or a function of no arguments, as in Keras 3. A
schedule is evaluated once per update, at `iterations` (the number of updates done so far),
as Keras's `fit` evaluates it (`schedule.training_value`; see schedules.py).

Reading `optimizer.learning_rate` gives the rate the next update will use, as a NumPy scalar
(`float(opt.learning_rate)` works). Assigning a number sets it, which is what callbacks such as
`ReduceLROnPlateau` do (`model.optimizer.learning_rate = 0.01`); assigning to an optimizer
made with a schedule raises Keras's TypeError. Keras keeps a numeric rate in a variable of
dtype `keras.backend.floatx()` (float32 by default) and casts that variable to each weight's
dtype, so under float32 a rate of 0.1 acts as float32(0.1) even on float64 weights.
scratchnet does the same: it keeps the number as given (`get_config` returns it unchanged)
and rounds it to `floatx()` whenever it is read or used (Keras fixes the variable's dtype when
the optimizer is created; the two differ only if floatx changes in between).

`lr=` is accepted as the old tf.keras 1/2 spelling of `learning_rate`. `decay=` is the tf.keras
2 time-based decay that Keras 3 dropped (there it only warns and is ignored) but that older
lecture code such as `SGD(lr=0.01, decay=1e-7, momentum=.9)` relies on; scratchnet keeps its
tf.keras 2 meaning: the step size used by update number `iterations` (counting from 0) is

    lr_t = learning_rate / (1 + decay * iterations)

computed in the variable's dtype, which is what
`keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)`
gives in Keras 3 (with `learning_rate` given in the variables' dtype). `decay` works with a
numeric learning rate only.

Gradient clipping
-----------------
Every optimizer takes Keras's `clipnorm`, `clipvalue` and `global_clipnorm` (at most one of
them). The gradients are clipped first, in their own dtype, then the update runs on them:

* `clipnorm=c`: each gradient separately, g <- g * c / max(||g||, c) (`tf.clip_by_norm`);
* `global_clipnorm=c`: all gradients by one factor, g <- g * c * min(1/N, 1/c), N the norm of
  all of them together (`clip_by_global_norm` of Keras's base_optimizer.py; a non-finite N
  makes every gradient NaN, as there);
* `clipvalue=v`: every element into [-v, v].

Written this way (as Keras does), an unclipped gradient is multiplied by c / c, which can
move it by one rounding; scratchnet repeats that too. A clip value of 0 means off, as in Keras.

Dtypes
------
Like Keras, every hyper-parameter is cast to the variable's dtype before use, so float32 weights
are updated entirely in float32 arithmetic and float64 weights in float64.

One Keras detail matters for float64 parity: where Keras writes `ops.cast(python_float, dtype)`
(TensorFlow first turns the Python float into a *float32* tensor, then casts), the value is
rounded to float32 even for float64 weights. That happens to SGD's `momentum`, to Adam's
`beta_1`/`beta_2` inside the bias corrections, to Adagrad's `initial_accumulator_value`, to
the legacy `decay` rate and to a Python float returned by a learning-rate function;
scratchnet repeats it with `keras_cast` so float64 runs agree with TensorFlow to ~1e-16
rather than ~1e-8. Everywhere else (e.g. `1 - rho`, `epsilon`, the clip values) Keras
converts the Python float straight to the variable's dtype, and so does scratchnet.
"""
import numbers
import operator

import numpy as np

from scratchnet import backend
from scratchnet.kernels import implementation_switch
from scratchnet.optimizers import schedules
from scratchnet.optimizers.schedules import LearningRateSchedule

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_IMPLEMENTATIONS = ("numba", "numpy")

_NOT_SETTABLE = (
    "This optimizer was created with a `LearningRateSchedule`"
    " object as its `learning_rate` constructor argument, "
    "hence its learning rate is not settable. If you need the"
    " learning rate to be settable, you should instantiate "
    "the optimizer with a float `learning_rate` argument."
)


class _LearningRateValue:
    """Mixed into NumPy's float32 / float64 scalar: what reading `optimizer.learning_rate`
    gives. It is the number (float(), arithmetic, comparisons, its dtype, exactly as a
    NumPy scalar), plus the two methods lecture code calls on Keras's learning-rate
    variable: `.numpy()` and `.assign(x)` (sets the optimizer's rate, as assigning
    `optimizer.learning_rate = x` does)."""

    def numpy(self):
        return self.dtype.type(self)

    def assign(self, value):
        self._optimizer.learning_rate = value


_VALUE_TYPES = {np.dtype(t): type(f"LearningRate{np.dtype(t).name.title()}",
                                  (t, _LearningRateValue), {})
                for t in (np.float32, np.float64)}


def learning_rate_value(value, optimizer):
    """`value` (a NumPy float32/float64 scalar) as the learning-rate reading of `optimizer`."""
    value = np.asarray(value)[()]
    kind = _VALUE_TYPES.get(value.dtype)
    if kind is None:
        return value
    reading = kind(value)
    reading._optimizer = optimizer
    return reading


def keras_cast(value, dtype):
    """`value` as Keras's `ops.cast(value, dtype)` gives it for a Python float under TensorFlow.

    tf.cast converts a Python float to a float32 tensor before casting, so the result is
    float32-rounded even when `dtype` is float64 (see the module docstring).
    """
    to = dtype.type if isinstance(dtype, np.dtype) else np.dtype(dtype).type
    return to(np.float32(value))


def _check_number(owner, name, value, low=None, high=None, low_open=False, high_open=False):
    """Validate a real (non-bool) hyper-parameter and return it as a Python float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: `{name}` must be a real number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{owner}: `{name}` must be finite, got {value!r}")
    bad_low = low is not None and (value <= low if low_open else value < low)
    bad_high = high is not None and (value >= high if high_open else value > high)
    if bad_low or bad_high:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        rng = f"{lo}{'-inf' if low is None else low}, {'inf' if high is None else high}{hi}"
        raise ValueError(f"{owner}: `{name}` must be in {rng}, got {value!r}")
    return value


def _is_schedule(value):
    """A schedule or a function of no arguments (not a number): what Keras evaluates per step."""
    return isinstance(value, LearningRateSchedule) or (
        callable(value) and not isinstance(value, (numbers.Number, np.ndarray)))


# ---------------------------------------------------------------------------- clipping
def clip_by_norm(grad, clip_norm):
    """`tf.clip_by_norm(grad, clip_norm)`: grad * c / max(||grad||, c), in grad's dtype."""
    f = grad.dtype.type
    c = f(clip_norm)
    flat = grad.reshape(-1)
    l2sum = np.dot(flat, flat)                          # sum of squares
    l2norm = np.sqrt(l2sum) if l2sum > 0 else l2sum     # (TF's "two-tap where")
    return (grad * c) / np.maximum(l2norm, c)


def clip_by_global_norm(grads, clip_norm):
    """Keras's `clip_by_global_norm`: every gradient times c * min(1/N, 1/c), where N is the
    norm of all the gradients together; a non-finite N turns every gradient into NaN."""
    dtype = np.result_type(*grads)
    f = dtype.type
    squares = np.array([np.dot(g.reshape(-1), g.reshape(-1)) for g in grads], dtype=dtype)
    use_norm = np.sqrt(np.sum(squares))                 # the global norm N
    with np.errstate(divide="ignore", invalid="ignore"):
        scale_for_finite = f(clip_norm) * np.minimum(f(1.0) / use_norm, f(1.0 / clip_norm))
        scale = scale_for_finite + (use_norm - use_norm)   # NaN when N is inf or NaN
    return [g * scale.astype(g.dtype) for g in grads]


def clip_by_value(grad, clip_value):
    """Keras's `ops.clip(grad, -v, v)`: every element into [-v, v], in grad's dtype."""
    f = grad.dtype.type
    return np.clip(grad, f(-clip_value), f(clip_value))


class Optimizer:
    """Base class of scratchnet optimizers (see the module docstring).

    Subclasses set `DEFAULT_LEARNING_RATE` and the pair `_numba_update` / `_numpy_update` (the
    same function in its two versions, called as `fn(var, grad, *slots, *scalars)` on flat
    contiguous arrays), and define `_slot_names()` (which state arrays one variable keeps, given
    the hyper-parameters), `_kernel_slots(var, slots)` (the slot arrays in the kernel's order),
    `_scalars(dtype, lr)` (the kernel's scalar arguments for this step, computed once per step
    and dtype; `lr` is the effective learning rate as a scalar of `dtype`) and extend
    `get_config()`.
    """

    _numba_update = None
    _numpy_update = None

    DEFAULT_LEARNING_RATE = 0.001

    def __init__(self, learning_rate, name=None, **kwargs):
        cls = type(self).__name__
        if "lr" in kwargs:
            lr = kwargs.pop("lr")
            if learning_rate is not None:
                raise ValueError(
                    f"{cls}: got both `learning_rate` and its legacy alias `lr`; pass only "
                    "`learning_rate`"
                )
            learning_rate = lr
        decay = kwargs.pop("decay", 0.0)
        clipnorm = kwargs.pop("clipnorm", None)
        clipvalue = kwargs.pop("clipvalue", None)
        global_clipnorm = kwargs.pop("global_clipnorm", None)
        if kwargs:
            names = ", ".join(f"`{k}`" for k in kwargs)
            raise TypeError(f"{cls}: unexpected keyword argument(s) {names}")
        if learning_rate is None:
            learning_rate = self.DEFAULT_LEARNING_RATE
        self._learning_rate = None
        self.learning_rate = learning_rate
        self.decay = _check_number(cls, "decay", 0.0 if decay is None else decay, low=0.0)
        if self.decay and _is_schedule(self._learning_rate):
            raise ValueError(
                f"{cls}: the legacy `decay` only applies to a numeric learning rate, got "
                f"decay={decay!r} with learning_rate={learning_rate!r} (build the decay into "
                "the schedule instead, e.g. InverseTimeDecay)"
            )
        clip = {}
        for key, value in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                           ("global_clipnorm", global_clipnorm)):
            clip[key] = None if value is None else _check_number(cls, key, value, low=0.0)
        if sum(v is not None for v in clip.values()) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can "
                f"be set. Received: clipnorm={clipnorm}, "
                f"clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        self.clipnorm = clip["clipnorm"]
        self.clipvalue = clip["clipvalue"]
        self.global_clipnorm = clip["global_clipnorm"]
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: `name` must be a string, got {name!r}")
        self.name = name if name is not None else cls.lower()
        self.iterations = 0
        self.implementation = "numba"
        self._built = False
        self._state = {}    # id(variable) -> (the variable, {slot name -> flat array})
        self._order = []    # the variables of the last build / apply (for get_slot)
        self._state_version = 0   # +1 whenever a slot array is made (see _kernel_args)
        self._args_cache = {}     # id(variable) -> (variable, flat view, kernel slots)
        self._args_token = None

    # ------------------------------------------------------------------ properties
    @property
    def learning_rate(self):
        """The learning rate of the next update, as a NumPy scalar (see the module docstring):
        a number is read back rounded to `floatx()`; a schedule gives its value at
        `iterations`. Assign a number to change it (not allowed with a schedule), or a new
        schedule to replace it."""
        return learning_rate_value(self._current_learning_rate(), self)

    @learning_rate.setter
    def learning_rate(self, value):
        cls = type(self).__name__
        if _is_schedule(value):
            if getattr(self, "decay", 0.0):
                raise ValueError(f"{cls}: the legacy `decay` only applies to a numeric "
                                 f"learning rate; cannot set learning_rate={value!r}")
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(_NOT_SETTABLE)
        if self._learning_rate is not None and _is_schedule(self._learning_rate):
            raise TypeError(
                f"{cls}: this optimizer's learning rate is the function "
                f"{self._learning_rate!r}; assign another function or a schedule, not a number"
            )
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{cls}: `learning_rate` must be a float, a LearningRateSchedule or a callable "
                f"(that takes no argument and returns the learning rate), got {value!r}"
            )
        self._learning_rate = _check_number(cls, "learning_rate", value)

    def _current_learning_rate(self, training=False):
        """The rate for update number `iterations` (before the legacy decay): the schedule's
        value, the function's value, or the number as a scalar of floatx (Keras's variable).

        `training=True` gives a schedule's value as Keras's `fit` computes it, in a TensorFlow
        graph, rather than as reading `optimizer.learning_rate` does (eagerly): they can
        differ in the last bit (see schedules.py)."""
        lr = self._learning_rate
        if type(lr) is float:               # (the common case first: a number)
            return np.float32(lr) if backend.floatx() == "float32" else np.float64(lr)
        if isinstance(lr, LearningRateSchedule):
            step = np.int64(self.iterations)
            value = lr.training_value(step) if training else lr(step)
        elif _is_schedule(lr):
            value = lr()
        else:
            return np.dtype(backend.floatx()).type(lr)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(
                f"{self._owner}: the learning rate {lr!r} gave {value!r} at iteration "
                f"{self.iterations}; expected a number"
            )
        return value

    @property
    def lr(self):
        """Legacy alias of `learning_rate`."""
        return self.learning_rate

    @lr.setter
    def lr(self, value):
        self.learning_rate = value

    implementation = implementation_switch(
        _IMPLEMENTATIONS, "'numba' (fused kernels, the default)"
        " or 'numpy' (the readable reference code).")

    @property
    def _owner(self):
        """How error messages name this optimizer, e.g. "Adam 'adam'"."""
        return f"{type(self).__name__} {self.name!r}"

    @property
    def built(self):
        return self._built

    # ------------------------------------------------------------------ subclass hooks
    def _slot_names(self):
        """Names of the state arrays each variable needs (in kernel order)."""
        return ()

    def _slot_initial_value(self, name):
        return 0.0

    def _kernel_slots(self, var, slots):
        """The state arrays of one (flattened) variable, in the update function's order."""
        return tuple(self._slot(slots, name, var) for name in self._slot_names())

    def _scalars(self, dtype, lr):
        """The update function's scalar arguments (all of `dtype`, or bool) for this step."""
        return (lr,)

    # ------------------------------------------------------------------ state
    def build(self, variables):
        """Create the per-variable state (done by the first `apply` of each variable)."""
        for i, v in enumerate(variables):
            self._check_variable(i, v)
        for v in variables:
            self._state_of(v)
        self._order = list(variables)
        self._built = True

    def _state_of(self, var):
        """The slots of `var`, made when first seen. The state is keyed by the variable
        itself, not by its position in the list, so a model whose set of trainable weights
        changes (a layer unfrozen, then compile again) keeps every other weight's state."""
        entry = self._state.get(id(var))
        if entry is None or entry[0] is not var:
            entry = self._state[id(var)] = (var, {
                name: np.full(var.size, self._slot_initial_value(name), dtype=var.dtype)
                for name in self._slot_names()})
            self._state_version += 1
        return entry[1]

    @property
    def _slots(self):
        """[dict name -> flat array], one per variable of the last build / apply."""
        return [self._state_of(v) for v in self._order]

    def get_slot(self, index, name):
        """The state array `name` of variable number `index` (of the last build / apply),
        in the variable's shape."""
        if not self._built:
            raise ValueError(f"{self._owner}: the optimizer has no state before the first apply")
        var = self._order[index]
        slots = self._state_of(var)
        if name not in slots:
            raise KeyError(
                f"{self._owner}: no slot {name!r} for variable {index}; slots are {sorted(slots)}"
            )
        return slots[name].reshape(var.shape)

    def _keras_slot_groups(self):
        """The slots in the groups Keras creates them: one tuple per `add_optimizer_variables`
        call, whose slots are interleaved per variable (Adam: m and v of the first variable,
        m and v of the second, ...); the groups follow each other (RMSprop: every velocity,
        then every momentum). This order is the order of the optimizer's arrays in Keras's
        files."""
        return tuple((name,) for name in self._slot_names())

    def _has_lr_variable(self):
        """Keras keeps a plain-number learning rate as a variable (saved with the state)."""
        return not self.decay and not _is_schedule(self._learning_rate)

    def _keras_order(self, variables):
        """[(variable, slot name)] for the slots of `variables`, in Keras's order."""
        return [(var, name) for group in self._keras_slot_groups()
                for var in variables for name in group]

    @property
    def variables(self):
        """The optimizer's own variables, as Keras counts them: the iteration count, the
        learning rate (a number, not a schedule nor the legacy decay), then every slot of the
        variables of the last build / apply, in Keras's order (`_keras_slot_groups`)."""
        return self.state_arrays(self._order if self._built else [])

    def state_arrays(self, variables):
        """The arrays a Keras file stores for this optimizer, for the model's trainable
        `variables`: iterations, the learning rate (when a plain number), then the slots
        (only once built: an optimizer that has not updated yet has no slots, as in Keras)."""
        found = [np.array(self.iterations, np.int64)]
        if self._has_lr_variable():
            found.append(np.array(self._learning_rate, backend.floatx()))
        if self._built:
            found += [self._state_of(var)[name].reshape(var.shape)
                      for var, name in self._keras_order(variables)]
        return found

    def state_plan(self, arrays, variables, where):
        """Check `arrays` (read from a file, in `state_arrays`' order) against this optimizer
        and the model's trainable `variables`, and return a function that assigns them (so a
        load can check everything before it changes anything). Raises ValueError naming
        `where` when they do not fit. A file holding only iterations and the learning rate (an
        optimizer saved before its first update) sets those and leaves the slots fresh."""
        head = 2 if self._has_lr_variable() else 1
        slots = self._keras_order(variables)
        if len(arrays) not in (head, head + len(slots)):
            raise ValueError(
                f"{where}: the saved optimizer has {len(arrays)} arrays; {self._owner} with "
                f"{len(variables)} trainable variables has {head + len(slots)} (or {head} "
                "before its first update)")
        for i, (var, name) in enumerate(slots):
            a = arrays[head + i] if len(arrays) > head else None
            if a is not None and tuple(a.shape) != var.shape:
                raise ValueError(f"{where}: optimizer array {head + i} ({name} of a variable "
                                 f"of shape {var.shape}) has shape {tuple(a.shape)}")
        for i in range(head):
            if np.shape(arrays[i]) != ():
                raise ValueError(f"{where}: optimizer array {i} (the "
                                 f"{'iteration count' if i == 0 else 'learning rate'}) should "
                                 f"be a scalar, found shape {np.shape(arrays[i])}")
        iterations = int(arrays[0])
        if iterations < 0:
            raise ValueError(f"{where}: the saved iteration count is {iterations}")

        def assign():
            self.iterations = iterations
            if head == 2:
                self._learning_rate = float(arrays[1])
            if len(arrays) > head:
                self.build(variables)
                for (var, name), a in zip(slots, arrays[head:]):
                    self._state_of(var)[name][...] = np.asarray(a).reshape(-1)
        return assign

    def _slot(self, slots, name, var, needed=True):
        """Variable `var`'s state array `name`, or an empty placeholder when not `needed`.

        A slot that is needed but missing (a hyper-parameter such as `momentum` was switched on
        after the state was built) is created here, as the first `apply` would have.
        """
        s = slots.get(name)
        if s is None:
            if not needed:
                return var[:0]
            s = slots[name] = np.full(var.size, self._slot_initial_value(name), dtype=var.dtype)
            self._state_version += 1
        return s

    def _kernel_args(self, v):
        """(v as a flat view, its slots in the kernel's order) for a C-contiguous variable,
        kept from step to step: the per-variable lookups cost more than a small variable's
        update (the lecture MLP: Adam's apply 60 -> 50 us per step, of which ~42 us are the
        four kernels). Valid while no slot array is made and the slot names (set by the
        hyper-parameters, e.g. amsgrad) stay the same; `apply` checks that once per step.
        (One Numba call over tuples of all the variables and slots, instead of one call per
        variable, was measured too: 48 us against 36 us for the four calls -- Numba's
        dispatch on a tuple of arrays costs more than the calls it saves.)"""
        entry = self._args_cache.get(id(v))
        if entry is None or entry[0] is not v:
            flat = v.reshape(-1)
            entry = self._args_cache[id(v)] = (v, flat,
                                               self._kernel_slots(flat, self._state_of(v)))
        return entry[1], entry[2]

    def _check_variable(self, i, v):
        if not isinstance(v, np.ndarray):
            raise TypeError(
                f"{self._owner}: variable {i} must be a numpy array (updated in place), got "
                f"{type(v).__name__}"
            )
        if v.dtype not in _SUPPORTED_DTYPES:
            raise TypeError(
                f"{self._owner}: variable {i} has dtype {v.dtype}; only float32 and float64 "
                "are supported"
            )
        if not v.flags.writeable:
            raise ValueError(f"{self._owner}: variable {i} is read-only")

    # ------------------------------------------------------------------ stepping
    def _effective_lr(self, dtype, value=None):
        """The step size of this update as a scalar of `dtype`: `value` (the current rate, by
        default read now) cast as Keras's `ops.cast(learning_rate, variable.dtype)`, then the
        legacy decay lr / (1 + decay * iterations).

        `decay` goes through `keras_cast` (float32-rounded), as in both tf.keras 2's
        `_decayed_lr` and Keras 3's `InverseTimeDecay`.
        """
        f = dtype.type
        if value is None:
            value = self._current_learning_rate(training=True)
        lr = dtype.type(value) if isinstance(value, np.floating) else schedules._cast(value, dtype)
        if self.decay:
            lr = lr / (f(1.0) + keras_cast(self.decay, dtype) * f(self.iterations))
        return lr

    def _clip_gradients(self, grads):
        """Keras's `_clip_gradients`: clipnorm, else global_clipnorm, else clipvalue (one is
        set at most); a value of 0 (or None) means no clipping."""
        if self.clipnorm and self.clipnorm > 0:
            return [clip_by_norm(g, self.clipnorm) for g in grads]
        if self.global_clipnorm and self.global_clipnorm > 0:
            return clip_by_global_norm(grads, self.global_clipnorm)
        if self.clipvalue and self.clipvalue > 0:
            return [clip_by_value(g, self.clipvalue) for g in grads]
        return grads

    def apply(self, grads, variables):
        """Update `variables` in place from `grads` (lists of equal-shaped arrays).

        Builds the state of variables it has not seen before (keyed by the variable, so the
        list may change from call to call). A `None` gradient leaves its variable (and that
        variable's state) untouched, as in Keras. Increments `iterations` afterwards.
        """
        grads = list(grads)
        # a tf.Variable (tensors.py) is updated through the array it views
        variables = [getattr(v, "_storage", v) for v in variables]
        if len(grads) != len(variables):
            raise ValueError(
                f"{self._owner}: got {len(grads)} gradients for {len(variables)} variables"
            )
        if not variables:
            return  # Keras: an empty update is a no-op (iterations unchanged)
        # Validate everything before touching anything, so a bad call changes nothing.
        order = self._order
        known = len(variables) == len(order) and all(map(operator.is_, variables, order))
        work_grads, work_vars = [], []
        for i, (g, v) in enumerate(zip(grads, variables)):
            if not known or not v.flags.writeable:     # (the same arrays: checked before)
                self._check_variable(i, v)
            if g is None:
                continue
            g = np.asarray(g)
            if g.shape != v.shape:
                raise ValueError(
                    f"{self._owner}: gradient {i} has shape {g.shape} but variable {i} has "
                    f"shape {v.shape}"
                )
            if g.dtype.kind != "f":
                g = g.astype(v.dtype)
            work_grads.append(g)
            work_vars.append(v)
        if not known:                      # (the same variables as last step: all checked)
            for v in variables:
                self._state_of(v)
            self._order = variables
        self._built = True
        if work_grads and (self.clipnorm or self.global_clipnorm or self.clipvalue):
            work_grads = self._clip_gradients(work_grads)    # in the gradients' own dtype
        fn = self._numba_update if self._implementation == "numba" else self._numpy_update
        lr_now = self._current_learning_rate(training=True) if work_grads else None  # once
        step_scalars = {}  # dtype -> scalars, computed once per step
        token = (self._slot_names(), self._state_version)
        if token != self._args_token:      # a slot was made, or the hyper-parameters changed
            self._args_cache.clear()
            self._args_token = token
        for g, v in zip(work_grads, work_vars):
            if g.dtype != v.dtype or not g.flags.c_contiguous:
                g = np.ascontiguousarray(g, dtype=v.dtype)  # Keras casts gradients likewise
            scalars = step_scalars.get(v.dtype)
            if scalars is None:
                scalars = step_scalars[v.dtype] = self._scalars(
                    v.dtype, self._effective_lr(v.dtype, lr_now))
            if v.flags.c_contiguous:
                flat, slots = self._kernel_args(v)
                fn(flat, g.reshape(-1), *slots, *scalars)
            else:   # updated as a contiguous copy, then written back
                flat = np.ascontiguousarray(v).reshape(-1)
                fn(flat, g.reshape(-1), *self._kernel_slots(flat, self._state_of(v)), *scalars)
                v[...] = flat.reshape(v.shape)
        self.iterations += 1

    def apply_gradients(self, grads_and_vars):
        """Keras-style wrapper: `apply_gradients(zip(grads, variables))`. Returns iterations.
        The variables may be tf.Variables (model.trainable_variables) or weight arrays."""
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        self.apply(grads, variables)
        return self.iterations

    def minimize(self, loss, var_list, tape=None):
        """One step on `loss`: a callable computing it (run on a new GradientTape), or a
        loss computed on `tape`. The gradients of `var_list` go to `apply_gradients`."""
        from scratchnet.gradient_tape import GradientTape

        var_list = list(var_list() if callable(var_list) else var_list)
        if tape is None:
            if not callable(loss):
                raise ValueError(f"{self._owner}.minimize: `loss` must be a callable (e.g. "
                                 "lambda: loss_fn(y, model(x))) when no `tape` is given")
            with GradientTape() as tape:
                value = loss()
        else:
            value = loss() if callable(loss) else loss
        grads = tape.gradient(value, var_list)
        self.apply_gradients(zip(grads, var_list))
        return self.iterations

    # ------------------------------------------------------------------ config
    def get_config(self):
        """Hyper-parameters under Keras's key names (plus `decay` when non-zero). A schedule
        appears serialized, as in Keras ({'module', 'class_name', 'config', ...})."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        config = {"name": self.name, "learning_rate": lr, "clipnorm": self.clipnorm,
                  "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The optimizer a config describes (scratchnet's or Keras's: Keras's options that
        scratchnet lacks, such as weight_decay or use_ema, must be off)."""
        from scratchnet.saving.serialization import from_config_default

        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"],
                                                            custom_objects)
        return from_config_default(cls, config, extra=(
            "lr", "decay", "clipnorm", "clipvalue", "global_clipnorm"))

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({items})"

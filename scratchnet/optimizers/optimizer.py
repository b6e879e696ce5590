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

Learning rate and the legacy `decay`
------------------------------------
`learning_rate` is a Python float and can be changed between steps (`opt.learning_rate = 1e-4`).
`lr=` is accepted as the old tf.keras 1/2 spelling of `learning_rate`. `decay=` is the tf.keras 2
time-based decay that Keras 3 dropped (there it only warns and is ignored) but that older
lecture code such as `SGD(lr=0.01, decay=1e-7, momentum=.9)` relies on; scratchnet keeps its
tf.keras 2 meaning: the step size used by update number `iterations` (counting from 0) is

    lr_t = learning_rate / (1 + decay * iterations)

computed in the variable's dtype, which is what
`keras.optimizers.schedules.InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=decay)`
gives in Keras 3.

Like Keras, every hyper-parameter is cast to the variable's dtype before use, so float32 weights
are updated entirely in float32 arithmetic and float64 weights in float64.

One Keras detail matters for float64 parity: where Keras writes `ops.cast(python_float, dtype)`
(TensorFlow first turns the Python float into a *float32* tensor, then casts), the value is
rounded to float32 even for float64 weights. That happens to SGD's `momentum`, to Adam's
`beta_1`/`beta_2` inside the bias corrections, to Adagrad's `initial_accumulator_value` and
to the legacy `decay` rate;
scratchnet repeats it with `keras_cast` so float64 runs agree with TensorFlow to ~1e-16
rather than ~1e-8. Everywhere else (e.g. `1 - rho`, `epsilon`) Keras converts the Python float
straight to the variable's dtype, and so does scratchnet.
"""
import numbers
import operator

import numpy as np

_SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_IMPLEMENTATIONS = ("numba", "numpy")


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
        if kwargs:
            names = ", ".join(f"`{k}`" for k in kwargs)
            raise TypeError(f"{cls}: unexpected keyword argument(s) {names}")
        if learning_rate is None:
            learning_rate = self.DEFAULT_LEARNING_RATE
        self.learning_rate = learning_rate
        self.decay = _check_number(cls, "decay", 0.0 if decay is None else decay, low=0.0)
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{cls}: `name` must be a string, got {name!r}")
        self.name = name if name is not None else cls.lower()
        self.iterations = 0
        self.implementation = "numba"
        self._built = False
        self._state = {}    # id(variable) -> (the variable, {slot name -> flat array})
        self._order = []    # the variables of the last build / apply (for get_slot)

    # ------------------------------------------------------------------ properties
    @property
    def learning_rate(self):
        """The base learning rate (a Python float; settable between steps)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _check_number(type(self).__name__, "learning_rate", value)

    @property
    def lr(self):
        """Legacy alias of `learning_rate`."""
        return self.learning_rate

    @lr.setter
    def lr(self, value):
        self.learning_rate = value

    @property
    def implementation(self):
        """'numba' (fused kernels, the default) or 'numpy' (the readable reference code)."""
        return self._implementation

    @implementation.setter
    def implementation(self, value):
        if value not in _IMPLEMENTATIONS:
            raise ValueError(
                f"{type(self).__name__}: implementation must be one of {_IMPLEMENTATIONS}, "
                f"got {value!r}"
            )
        self._implementation = value

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

    @property
    def variables(self):
        """The optimizer's own variables, as Keras counts them: the iteration count, the
        learning rate (a plain one, not a decay schedule), then every slot array."""
        from scratchnet import backend

        found = [np.array(self.iterations, np.int64)]
        if not self.decay:
            found.append(np.array(self._learning_rate, backend.floatx()))
        names = sorted({n for _, slots in self._state.values() for n in slots},
                       key=lambda n: (self._slot_names() + (n,)).index(n))
        for name in names:
            for var, slots in self._state.values():
                if name in slots:
                    found.append(slots[name].reshape(var.shape))
        return found

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
        return s

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
    def _effective_lr(self, dtype):
        """learning_rate / (1 + decay * iterations), as a scalar of `dtype`.

        `decay` goes through `keras_cast` (float32-rounded), as in both tf.keras 2's
        `_decayed_lr` and Keras 3's `InverseTimeDecay`.
        """
        f = dtype.type
        lr = f(self._learning_rate)
        if self.decay:
            lr = lr / (f(1.0) + keras_cast(self.decay, dtype) * f(self.iterations))
        return lr

    def apply(self, grads, variables):
        """Update `variables` in place from `grads` (lists of equal-shaped arrays).

        Builds the state of variables it has not seen before (keyed by the variable, so the
        list may change from call to call). A `None` gradient leaves its variable (and that
        variable's state) untouched, as in Keras. Increments `iterations` afterwards.
        """
        grads = list(grads)
        variables = list(variables)
        if len(grads) != len(variables):
            raise ValueError(
                f"{self._owner}: got {len(grads)} gradients for {len(variables)} variables"
            )
        if not variables:
            return  # Keras: an empty update is a no-op (iterations unchanged)
        # Validate everything before touching anything, so a bad call changes nothing.
        order = self._order
        known = len(variables) == len(order) and all(map(operator.is_, variables, order))
        work = []
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
            if g.dtype != v.dtype or not g.flags.c_contiguous:
                g = np.ascontiguousarray(g, dtype=v.dtype)  # Keras casts gradients likewise
            work.append((i, g, v))
        if not known:                      # (the same variables as last step: all checked)
            for v in variables:
                self._state_of(v)
            self._order = variables
        self._built = True
        fn = self._numba_update if self._implementation == "numba" else self._numpy_update
        step_scalars = {}  # dtype -> scalars, computed once per step
        for i, g, v in work:
            scalars = step_scalars.get(v.dtype)
            if scalars is None:
                scalars = step_scalars[v.dtype] = self._scalars(v.dtype,
                                                                self._effective_lr(v.dtype))
            contiguous = v.flags.c_contiguous
            # A non-contiguous variable is updated as a contiguous copy, then written back.
            flat = v.reshape(-1) if contiguous else np.ascontiguousarray(v).reshape(-1)
            fn(flat, g.reshape(-1), *self._kernel_slots(flat, self._state_of(v)), *scalars)
            if not contiguous:
                v[...] = flat.reshape(v.shape)
        self.iterations += 1

    def apply_gradients(self, grads_and_vars):
        """Keras-style wrapper: `apply_gradients(zip(grads, variables))`. Returns iterations."""
        pairs = list(grads_and_vars)
        grads = [g for g, _ in pairs]
        variables = [v for _, v in pairs]
        self.apply(grads, variables)
        return self.iterations

    # ------------------------------------------------------------------ config
    def get_config(self):
        """Hyper-parameters under Keras's key names (plus `decay` when non-zero)."""
        config = {"name": self.name, "learning_rate": self._learning_rate}
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({items})"

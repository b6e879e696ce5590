"""`Layer`: the contract every scratchnet layer follows (CS231n's layers.py is the model).

A layer is two pure functions of its weights:

    y, cache = layer.forward(x, training)     cache: what backward will need
    dx = layer.backward(dy, cache)            dy = dL/dy in, dL/dx out

and nothing about one call is kept on the layer: the cache travels with the call. So one
layer object can be called twice in a step (a shared layer, one MaxPooling2D used twice in
LeNet-5's `call`): each call has its own cache, and backward of each call ADDS its share of
the weight gradients into `layer.grads` (`add_grad`). The engine zeroes them at the start of
each training step (`zero_grads`); `layer.grads[i]` is then dL/d`layer.trainable_weights[i]`
summed over every call in the step (None: no gradient reached it), which the optimizer reads.
Call `zero_grads()` yourself when you run forward/backward by hand more than once.

Shapes follow Keras: the first axis is the batch, and `build(input_shape)` receives the full
shape with `None` for the batch (e.g. (None, 28, 28)), creating the weights in `floatx()`.

Calling a layer, `layer(x)`, does one of three things, by what x is:

* a NumPy array (or anything array-like): builds the layer if needed and returns
  `forward(x)`'s y -- an eager call, as `tf.keras.layers.ReLU()(image)` in the lectures;
* a symbolic tensor from `Input(...)`: records a call in the graph (engine/symbolic.py) and
  returns a symbolic output: the Functional API;
* a tensor traced inside a subclassed model's `call`: runs forward and records the call on
  the model's tape (engine/tape.py), so training can backpropagate through `call`.

An eager call returns a `Tensor` (an ndarray with TensorFlow's `.numpy()`, tensors.py); inside
a `tf.GradientTape` it is recorded as one node whose backward is `backward` (gradient_tape.py).

A layer may also be written the Keras way, with `call(inputs)` made of tf operations
(`tf.nn.conv2d(x, self.kernel, ...) + self.bias`) and no forward/backward of its own. Then
`add_weight` gives Variables, and `forward` runs `call` on a GradientTape of the layer's own
whose record `backward` reads backwards: such a layer trains in `fit` like any other.
"""
import functools
import inspect
import re
import weakref

import numpy as np

from scratchnet import backend
from scratchnet.gradient_tape import _sinks as _tape_sinks   # (GradientTape.gradient's)
from scratchnet.tensors import Variable
from scratchnet.engine.tape import UntraceableError
from scratchnet.engine import context, symbolic, workspace

_name_counts = {}
# tf.Variable objects over weight arrays: id(array) -> Variable (Layer._variable)
_variables = weakref.WeakValueDictionary()
# bumped whenever a layer's `trainable` changes or a layer gets its weights: the engine
# caches which calls need dL/dx and looks again when this moves
trainable_version = [0]


def regularizers_get(identifier, what):
    from scratchnet import regularizers

    return regularizers.get(identifier, what)


def regularizers_serialize(regularizer):
    from scratchnet import regularizers

    return regularizers.serialize(regularizer)


def _as_shapes(shape):
    """A saved shape (JSON lists) as tuples: [None, 3] is one shape, [[None, 3], [None, 4]]
    a list of them (several inputs)."""
    if shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    return tuple(shape)


def unique_name(prefix):
    """Keras-style auto names: 'dense', 'dense_1', 'dense_2', ... per session."""
    count = _name_counts.get(prefix, 0)
    _name_counts[prefix] = count + 1
    return prefix if count == 0 else f"{prefix}_{count}"


def snake_case(class_name):
    # Keras's to_snake_case: a digit does not start a new word (MaxPooling2D -> max_pooling2d)
    return re.sub(r"(?<!^)(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])", "_", class_name).lower()


def normalize_shape(shape, what):
    """A per-sample shape as a tuple of positive ints (None allowed), or a clear error."""
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(None if d is None else int(d) for d in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a tuple of ints, received {shape!r}") from None
    if any(d is not None and d <= 0 for d in shape):
        raise ValueError(f"{what} must contain positive sizes, received {shape}")
    return shape


def _batch_shape(shape):
    """A full shape with None for the batch; a list of them for several inputs."""
    if isinstance(shape, list):
        return [_batch_shape(s) for s in shape]
    return (None,) + tuple(None if d is None else int(d) for d in tuple(shape)[1:])


def _wrap_build(build):
    """Every subclass's `build` runs through this: it also marks the layer built, records
    the shapes and makes room for the gradients (as Keras's build wrapper does), so a direct
    `layer.build((None, 4))` builds the layer completely."""
    @functools.wraps(build)
    def wrapper(self, input_shape):
        if self.dtype is None:
            self.dtype = backend.floatx()
        shape = _batch_shape(input_shape)
        build(self, shape)
        self._finish_build(shape)

    wrapper._wraps_build = True
    return wrapper


class Layer:
    _is_op = False          # True for the arithmetic operations of engine/ops.py
    # Keras marks weightless layers without a build method (pooling, activations) built as
    # soon as they are made; summary() prints them as Keras does (0, not "0 (unbuilt)")
    _keras_builds_at_init = False
    _kind = "layer"          # how error messages call it ("model" for models)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        build = cls.__dict__.get("build")
        if build is not None and not getattr(build, "_wraps_build", False):
            cls.build = _wrap_build(build)

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, activity_regularizer=None, **unknown):
        if unknown:
            raise TypeError(
                f"{type(self).__name__}: unknown keyword argument(s) {sorted(unknown)}"
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string, received {name!r}")
        self.name = name or unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self.dtype = np.dtype(dtype).name if dtype is not None else None
        # What the user declared about the input (Keras's input_shape / input_dim).
        if input_dim is not None:
            input_shape = (input_dim,)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        self.declared_input_shape = (
            normalize_shape(input_shape, f"{self.name}: input_shape")
            if input_shape is not None else None
        )
        self.built = False
        self._build_input_shape = None      # full shapes, batch as None, set by build
        self._build_output_shape = None
        self._trainable_weights = []
        self._non_trainable_weights = []
        self._weight_names = {}             # id(weight) -> its name ("kernel", "bias", ...)
        self._regularizers = []             # [(weight, Regularizer)] (regularizers.py)
        self._constraints = []              # [(weight, Constraint)] (constraints.py)
        self._grads = []
        self.activity_regularizer = regularizers_get(activity_regularizer,
                                                     f"{self.name}: activity_regularizer")
        self._inbound_nodes = []            # one per symbolic call (engine/symbolic.py)

    # ---- building -------------------------------------------------------------------
    def build(self, input_shape):
        """Create weights for inputs of `input_shape` (batch dim None). Default: none."""

    def compute_output_shape(self, input_shape):
        if self._computes_in_call():          # run call on zeros (Keras: compute_output_spec)
            from scratchnet import gradient_tape

            shapes = input_shape if isinstance(input_shape, list) else [input_shape]
            zeros = [np.zeros((1,) + tuple(1 if d is None else d for d in s[1:]),
                              self.dtype or backend.floatx()) for s in shapes]
            with gradient_tape.paused():
                y, _ = self.forward(zeros if isinstance(input_shape, list) else zeros[0])
            return (None,) + tuple(y.shape[1:])
        return tuple(input_shape) if not isinstance(input_shape, list) else input_shape

    def _finish_build(self, input_shape):
        trainable_version[0] += 1
        self._build_input_shape = input_shape
        self._build_output_shape = self.compute_output_shape(input_shape)
        self.built = True
        self._grads = [None] * len(self._trainable_weights)

    def ensure_built(self, input_shape):
        """Build for inputs of this shape (batch first) unless built already; the output
        shape of the build (None when it was built before)."""
        input_shape = _batch_shape(input_shape)
        if self.built:
            return None
        if self.dtype is None:
            self.dtype = backend.floatx()
        self.build(input_shape)
        if not self.built:              # a subclass whose build skipped the wrapper
            self._finish_build(input_shape)
        return self._build_output_shape

    def add_weight(self, shape=None, initializer="glorot_uniform", trainable=True, name=None,
                   dtype=None, regularizer=None, constraint=None):
        """A new weight array (the layer keeps it for its whole life). `name` ("kernel") makes
        its path "<layer>/<name>" (TensorBoard, files); `regularizer` adds R(w) to the loss and
        dR/dw to the gradient while the weight is trainable; `constraint` projects the weight
        after every optimizer update (see regularizers.py, constraints.py)."""
        from scratchnet import constraints, initializers, regularizers

        shape = tuple(shape or ())
        dtype = np.dtype(dtype or self.dtype or backend.floatx()).name
        initializer = initializers.get(initializer)
        value = np.ascontiguousarray(initializer(shape, dtype), dtype=dtype)
        if value.shape != shape:
            raise ValueError(
                f"{self.name}: initializer returned shape {value.shape}, expected {shape}"
            )
        (self._trainable_weights if trainable else self._non_trainable_weights).append(value)
        self._weight_names[id(value)] = name or f"variable_{len(self._weight_names)}"
        regularizer = regularizers.get(regularizer, f"{self.name}: {name or 'weight'} regularizer")
        if regularizer is not None:
            self._regularizers.append((value, regularizer))
        constraint = constraints.get(constraint, f"{self.name}: {name or 'weight'} constraint")
        if constraint is not None:
            self._constraints.append((value, constraint))
        # A layer computed in `call` (tf operations) and a model work on Variables, as in
        # Keras; the layers with their own forward/backward compute on the plain array.
        as_variable = self._computes_in_call() or self._kind == "model"
        return self._variable(value) if as_variable else value

    def _variable(self, weight):
        """The Variable over one of this layer's weight arrays (the same object every time)."""
        variable = _variables.get(id(weight))
        if variable is None or variable._storage is not weight:
            name = self._weight_names.get(id(weight), "variable")
            variable = Variable._over(weight, name, any(w is weight for w in
                                                        self._trainable_weights),
                                      path=f"{self.name}/{name}")
            variable._owned = True
            _variables[id(weight)] = variable
        return variable

    def __setattr__(self, name, value):
        # A tf.Variable assigned to a layer (`self.w = tf.Variable(0.0)`, Python ML's linear
        # regression model) becomes one of its weights, as in Keras.
        if (isinstance(value, Variable) and not getattr(value, "_owned", True)
                and "_trainable_weights" in self.__dict__):
            self._adopt(value)
        object.__setattr__(self, name, value)

    def _adopt(self, variable):
        storage = variable._storage
        if storage.dtype.kind != "f":
            raise TypeError(f"Layer {self.name!r}: a weight must be a float variable, "
                            f"received {variable!r}")
        if variable.trainable:
            self._trainable_weights.append(storage)
            self._grads.append(None)
        else:
            self._non_trainable_weights.append(storage)
        self._weight_names[id(storage)] = variable.name
        variable._owned = True
        variable._path = f"{self.name}/{variable.name}"
        _variables[id(storage)] = variable
        trainable_version[0] += 1

    @property
    def weight_paths(self):
        """"<layer name>/<weight name>" for each of `weights`, in order (Keras's variable.path)."""
        return [f"{self.name}/{self._weight_names.get(id(w), 'variable')}" for w in self.weights]

    @property
    def input_shape(self):
        """The input shape the layer was built for (batch as None)."""
        if self._build_input_shape is None:
            raise AttributeError(f"The layer {self.name!r} has never been called and thus "
                                 "has no defined input shape.")
        return self._build_input_shape

    @property
    def output_shape(self):
        if self._build_output_shape is None:
            raise AttributeError(f"The layer {self.name!r} has never been called and thus "
                                 "has no defined output shape.")
        return self._build_output_shape

    # ---- the graph: Keras's layer.input / layer.output --------------------------------
    def _node_attribute(self, attr, what):
        if not self._inbound_nodes:
            raise AttributeError(f"The layer {self.name!r} has never been called and thus "
                                 f"has no defined {what}.")
        values = getattr(self._inbound_nodes[0], attr)
        return values[0] if len(values) == 1 else values

    @property
    def input(self):
        """The symbolic input of the layer's first call in a graph (Keras's layer.input)."""
        return self._node_attribute("input_tensors", "input")

    @property
    def output(self):
        """The symbolic output of the layer's first call in a graph (Keras's layer.output):
        what `Model(inputs=model.input, outputs=[l.output for l in model.layers])` reads."""
        return self._node_attribute("outputs", "output")

    # ---- weights --------------------------------------------------------------------
    @property
    def trainable(self):
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        trainable_version[0] += 1

    @property
    def trainable_weights(self):
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self._non_trainable_weights)
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    @property
    def weights(self):
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    @property
    def trainable_variables(self):
        """The trainable weights as tf.Variables over the same memory (Keras's
        `trainable_variables`); `trainable_weights` gives the arrays themselves."""
        return self._as_variables(self.trainable_weights)

    @property
    def variables(self):
        return self._as_variables(self.weights)

    def _as_variables(self, weights):
        owners = {}
        for layer in getattr(self, "_leaf_layers_list", lambda: [self])():
            for w in layer.weights:
                owners.setdefault(id(w), layer)
        return [owners.get(id(w), self)._variable(w) for w in weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        """Copy values into the existing arrays (the optimizer keeps references to them)."""
        weights = list(weights)
        current = self.weights
        if len(weights) != len(current):
            raise ValueError(
                f"set_weights: {self._kind} {self.name!r} has {len(current)} weight arrays "
                f"with shapes {[w.shape for w in current]}, received {len(weights)}"
            )
        for i, (target, value) in enumerate(zip(current, weights)):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(
                    f"set_weights: {self._kind} {self.name!r}: weight {i} has shape "
                    f"{target.shape}, received an array of shape {value.shape}"
                )
        for target, value in zip(current, weights):
            target[...] = value

    def count_params(self):
        return int(sum(w.size for w in self.weights))


    def _has_trainable_weights(self):
        return self.trainable and bool(self._trainable_weights)

    # ---- regularization -------------------------------------------------------------
    def _regularized_trainable(self):
        """[(index among the trainable weights, weight, regularizer)] while trainable."""
        if not self.trainable or not self._regularizers:
            return []
        index = {id(w): i for i, w in enumerate(self._trainable_weights)}
        return [(index[id(w)], w, reg) for w, reg in self._regularizers if id(w) in index]

    @property
    def losses(self):
        """The weight-regularization penalties R(w), one per regularized trainable weight, at
        the weights' current values (what Keras's `layer.losses` holds for them)."""
        return [reg(w) for _, w, reg in self._regularized_trainable()]

    def _activity_loss(self, y):
        """Keras 3's activity penalty of one call's output: R(y) / batch size."""
        n = y.shape[0] if y.ndim else 1
        penalty = self.activity_regularizer(y)
        return penalty / penalty.dtype.type(n) if n else penalty * 0

    def _activity_grad(self, y, dy):
        """dL/dy plus the activity penalty's share, dR(y)/dy / batch size."""
        n = y.shape[0] if y.ndim else 1
        grad = self.activity_regularizer.gradient(y)
        if n:
            grad = grad / grad.dtype.type(n)
        else:
            grad = grad * 0
        return grad if dy is None else dy + grad

    # ---- gradients ------------------------------------------------------------------
    @property
    def grads(self):
        """dL/d(trainable weight i), summed over this step's calls (None: none arrived)."""
        return list(self._grads)

    def zero_grads(self):
        """Start a new step: no gradient has arrived yet."""
        self._grads = [None] * len(self._trainable_weights)

    def add_grad(self, i, value):
        """Add one call's dL/d(weight i) to the step's sum. The first call's array is kept
        as it is (no copy); a second call makes a new array for the sum. (Under a
        tf.GradientTape computing gradients, the sum goes to the tape: gradient_tape.py.)"""
        if _tape_sinks:
            sink, key = _tape_sinks[-1], id(self._trainable_weights[i])
            sink[key] = value.copy() if key not in sink else sink[key] + value
            return
        current = self._grads[i]
        self._grads[i] = value if current is None else current + value

    # ---- computing ------------------------------------------------------------------
    def _require_built(self):
        """A clear error for forward() on a layer whose weights do not exist yet."""
        if not self.built:
            raise RuntimeError(
                f"Layer {self.name!r} ({type(self).__name__}) is not built yet, so it has no "
                f"weights: call it on an input first (layer(x)), or build(input_shape), or "
                f"put it in a model")

    def _input_spec(self):
        """What a built layer needs of its inputs, as Keras's InputSpec: (ndim, {axis: size}),
        None for no constraint. A layer may be called on other shapes than the one it was
        built for (a pooling layer used twice), as long as these hold."""
        return None

    def check_input_shape(self, shape):
        """Raise a clear ValueError if a built layer cannot take inputs of `shape`."""
        spec = self._input_spec() if self.built else None
        if spec is None:
            return
        ndim, axes = spec
        ok = (ndim is None or len(shape) == ndim) and all(
            -len(shape) <= axis < len(shape) and shape[axis] in (None, size)
            for axis, size in axes.items())
        if not ok:
            expected = self._build_input_shape
            raise ValueError(
                f"Input of layer {self.name!r} ({type(self).__name__}) is incompatible: "
                f"expected shape {expected}, received {tuple(shape)}"
            )

    def call(self, inputs, training=None):
        """Keras's way to write a layer: the output for `inputs`, in tf operations (see the
        module docstring). scratchnet's own layers write forward/backward instead."""
        raise NotImplementedError(
            f"{type(self).__name__} has neither call() nor forward(): define call(self, "
            "inputs) with tf operations (or forward/backward)")

    @classmethod
    def _computes_in_call(cls):
        """True for a layer written as `call` (Keras's way), without forward/backward."""
        return cls.forward is Layer.forward and cls.call is not Layer.call

    def _call_kwargs(self, training):
        try:
            parameters = inspect.signature(self.call).parameters
        except (TypeError, ValueError):
            return {}
        accepts = "training" in parameters or any(
            p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
        return {"training": training} if accepts else {}

    def forward(self, x, training=False):
        """(y, cache) for the input x. A layer written as `call` runs it on a GradientTape
        of its own, which is the cache: backward reads that record backwards."""
        if not self._computes_in_call():
            raise NotImplementedError(f"{type(self).__name__} has no forward")
        return self._forward_by_tape(x, training)

    def backward(self, dy, cache, need_input_grad=True):
        """dL/dx from dL/dy and this call's cache; adds the weight gradients (add_grad)."""
        if not self._computes_in_call():
            raise NotImplementedError(f"{type(self).__name__} has no backward")
        return self._backward_by_tape(dy, cache, need_input_grad)

    def _forward_by_tape(self, x, training):
        """`call` on Tensors, recorded on a tape of the layer's own (the cache). Layers called
        inside are recorded as one node each (their own backward); the tape watches the
        inputs and this layer's own weights."""
        from scratchnet import gradient_tape
        from scratchnet.tensors import Tensor, plain

        # (watching what it reads: the weights of the layers called inside get their
        # gradients even where their input is a constant)
        tape = gradient_tape.GradientTape(persistent=True, watch_accessed_variables=True)
        tape._internal = True
        with gradient_tape.only(tape):
            xs = [Tensor._from(a) for a in (x if isinstance(x, list) else [x])]
            tape.watch(xs)
            tape.watch(self._trainable_weights)
            with context.training_scope(training):
                y = self.call(xs if isinstance(x, list) else xs[0],
                              **self._call_kwargs(training))
        if not isinstance(y, np.ndarray):
            raise TypeError(f"call() of {self._kind} {self.name!r} returned {y!r}; expected "
                            "one tensor")
        if gradient_tape._key(y) not in tape._tracked:
            raise UntraceableError(
                f"call() of {self._kind} {self.name!r} returned a value that was not computed "
                "from its inputs or weights by tf operations and layers (x.numpy() or "
                "np.asarray(x) on the way?), so training could not differentiate it")
        return plain(y), (tape, xs, y)

    def _backward_by_tape(self, dy, cache, need_input_grad):
        """The tape of `_forward_by_tape` read backwards from dL/dy: dL/dx, and dL/d(own
        weights) added with add_grad (inner layers add theirs in their own backward)."""
        tape, xs, y = cache
        weights = self._trainable_weights if self.trainable else []
        grads = tape.gradient(y, list(xs) + list(weights), output_gradients=dy)
        for i, g in enumerate(grads[len(xs):]):
            if g is not None:
                self.add_grad(i, g.view(np.ndarray))
        if not need_input_grad:
            return None
        dxs = [None if g is None else g.view(np.ndarray) for g in grads[:len(xs)]]
        return dxs if self._takes_list() else dxs[0]

    def _logits_kind(self):
        """'softmax' / 'sigmoid' when the layer ends in that activation (a crossentropy
        after it then starts from `logits(cache)`, see losses.py), else None."""
        return getattr(getattr(self, "activation", None), "logits_loss_kind", None)

    def logits(self, cache):
        """z, the input of the final softmax/sigmoid, of the call whose cache this is."""
        raise NotImplementedError(f"{type(self).__name__} has no logits")

    def backward_from_logits(self, dz, cache, need_input_grad=True):
        """backward() starting from dL/dz (the loss already went through the activation)."""
        raise NotImplementedError(f"{type(self).__name__} has no logits")

    def fuses_with(self, layer, training=False):
        """True when this layer can run `layer` (the only consumer of its output) inside its
        own forward pass: then the engine calls `forward_fused(x, layer, training)` and
        `backward_fused` instead of the two layers' (Conv2D + MaxPooling2D does)."""
        return False

    def forward_fused(self, x, layer, training=False):
        """(layer.forward(self.forward(x)) in one pass, cache) -- see `fuses_with`."""
        raise NotImplementedError(f"{type(self).__name__} fuses with no layer")

    def backward_fused(self, dy, cache, layer, need_input_grad=True):
        raise NotImplementedError(f"{type(self).__name__} fuses with no layer")

    def _output_dtype(self):
        return self.dtype or backend.floatx()

    # ---- calling --------------------------------------------------------------------
    def __call__(self, inputs, training=None, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__} {self.name!r}: unexpected keyword "
                            f"argument(s) {sorted(kwargs)} in the call")
        from scratchnet.engine import tape

        flat = symbolic.flatten(inputs)
        if any(isinstance(x, symbolic.KerasTensor) for x in flat):
            return self._call_symbolic(inputs)
        traced = tape.tape_of(flat)
        if traced is not None:
            if training is None:
                training = context.training()
            return traced.call(self, inputs, training)
        if training is None:
            training = context.training()
        from scratchnet import gradient_tape

        if self._computes_in_call():
            return self._call_in_tf_ops(inputs, training)
        if gradient_tape.recording():
            return self._call_on_tape(inputs, training)
        return _as_tensors(self._call_eager(inputs, training))

    def _call_in_tf_ops(self, inputs, training):
        """An eager call of a layer written as `call`: its tf operations run (and are recorded
        by an open GradientTape) as they are."""
        from scratchnet.tensors import Tensor

        def as_tensor(given, array):
            # the caller's own tensor when it needed no cast: the tape tracks that object
            same = isinstance(given, Tensor) and given.dtype == array.dtype
            return given if same else Tensor._from(array)

        x = self._as_input_arrays(inputs)
        self.ensure_built(_shapes_of(x))
        x = ([as_tensor(g, a) for g, a in zip(inputs, x)] if isinstance(x, list)
             else as_tensor(inputs, x))
        with context.training_scope(training):
            return self.call(x, **self._call_kwargs(training))

    def _eager_arrays(self, inputs):
        """The checked input array(s) for forward (the layer built for them)."""
        if self._kind == "model":
            xs = self._prepare_x(inputs, "call")
            return xs if len(xs) > 1 else xs[0]
        x = self._as_input_arrays(inputs)
        self.ensure_built(_shapes_of(x))
        if not isinstance(x, list):
            self.check_input_shape(x.shape)
        return x

    def _call_on_tape(self, inputs, training):
        """An eager call inside an open tf.GradientTape: forward, then one node on the tape
        whose backward is this layer's (gradient_tape.record_layer_call)."""
        from scratchnet import gradient_tape

        x = self._eager_arrays(inputs)
        previous = workspace.activate(None)
        try:
            with gradient_tape.paused():
                y, cache = self.forward(x, training=training)
        finally:
            workspace.activate(previous)
        out = _as_tensors(y)
        flat_inputs = list(inputs) if isinstance(x, list) else inputs
        gradient_tape.record_layer_call(self, flat_inputs, out, cache)
        return self._pack_tape_outputs(out)

    def _pack_tape_outputs(self, out):
        if self._kind == "model":          # a dict by output name for a dict-output model
            return self._pack_outputs(out if isinstance(out, list) else [out])
        return out

    def _call_eager(self, inputs, training):
        x = self._as_input_arrays(inputs)
        self.ensure_built(_shapes_of(x))
        if not isinstance(x, list):
            self.check_input_shape(x.shape)
        previous = workspace.activate(None)      # a result the caller keeps: never reused
        try:
            y, _ = self.forward(x, training=training)
        finally:
            workspace.activate(previous)
        return y

    def _as_input_arrays(self, inputs):
        """Array(s) for forward: floats of the layer's dtype (a list for several inputs)."""
        if isinstance(inputs, (list, tuple)) and self._takes_list():
            return [self._as_input_arrays(x) for x in inputs]
        x = np.asarray(inputs)
        if not np.issubdtype(x.dtype, np.floating) or (self.dtype and x.dtype != self.dtype):
            x = x.astype(self.dtype or backend.floatx())
        return x

    def _takes_list(self):
        """True for layers whose input is a list of tensors (merge layers)."""
        return False

    def _check_call_structure(self, inputs, flat):
        """One tensor (or a list of one) for most layers, a list for merge layers: or a clear
        error. Used by symbolic and traced calls alike."""
        if self._takes_list():
            if not isinstance(inputs, (list, tuple)):
                raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) should be "
                                 f"called on a list of inputs, received {inputs!r}")
        elif len(flat) != 1:
            raise ValueError(f"Layer {self.name!r} ({type(self).__name__}) takes one input "
                             f"tensor, received a list of {len(flat)}: {flat}")

    def _call_symbolic(self, inputs):
        flat = symbolic.flatten(inputs)
        for x in flat:
            if not isinstance(x, symbolic.KerasTensor):
                raise TypeError(
                    f"Layer {self.name!r}: all inputs of a call on symbolic tensors must be "
                    f"symbolic tensors (from Input(...)), received {x!r}")
        self._check_call_structure(inputs, flat)
        if self._takes_list():
            shapes = [x.shape for x in flat]
            structure = "list"
        else:
            shapes = flat[0].shape
            structure = "one"
        if self._is_op:                  # an operation computes in its inputs' dtype
            self.dtype = flat[0].dtype
        self.ensure_built(shapes)
        out_shapes = self.compute_output_shape(_batch_shape(shapes))
        if structure == "one":
            self.check_input_shape(shapes)
        dtype = self._output_dtype()
        if isinstance(out_shapes, list):
            outputs = [symbolic.KerasTensor(s, dtype, name=f"{self.name}_{i}")
                       for i, s in enumerate(out_shapes)]
        else:
            outputs = [symbolic.KerasTensor(out_shapes, dtype, name=self.name)]
        symbolic.Node(self, flat, outputs, structure, multi=isinstance(out_shapes, list))
        return outputs if isinstance(out_shapes, list) else outputs[0]

    # ---- saving: the layer as a config (scratchnet/saving/serialization.py) ----------------
    def get_config(self):
        """The arguments that rebuild this layer (Keras's keys): a subclass adds its own."""
        from scratchnet.saving.serialization import dtype_config

        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": dtype_config(self.dtype or backend.floatx())}
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers_serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config):
        """cls(**config), Keras's options scratchnet lacks dropped at their defaults (or
        refused: serialization.check_keras_only)."""
        from scratchnet.saving.serialization import dtype_from_config, from_config_default

        config = dict(config)
        if "dtype" in config:
            config["dtype"] = dtype_from_config(config["dtype"], f"{cls.__name__}.from_config")
        return from_config_default(cls, config)

    def get_build_config(self):
        """The input shape the layer was built for (Keras writes it beside the config)."""
        if self._build_input_shape is None:
            return None
        return {"input_shape": self._build_input_shape}

    def build_from_config(self, config):
        shape = (config or {}).get("input_shape")
        if shape is not None and not self.built:
            self.ensure_built(_as_shapes(shape))

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _as_tensors(value):
    """Arrays (in lists, tuples, dicts) as Tensors (no copy): what eager calls return."""
    from scratchnet.tensors import Tensor

    if isinstance(value, np.ndarray):
        return value if isinstance(value, Tensor) else value.view(Tensor)
    if isinstance(value, (list, tuple)):
        return type(value)(_as_tensors(v) for v in value)
    if isinstance(value, dict):
        return {k: _as_tensors(v) for k, v in value.items()}
    return value


def _shapes_of(x):
    return [a.shape for a in x] if isinstance(x, list) else x.shape

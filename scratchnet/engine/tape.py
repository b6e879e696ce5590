"""The tape: how training backpropagates through a subclassed model's `call`.

    class LeNet5(Model):
        def call(self, inputs):
            x = self.max_pool(self.conv1(inputs))     # one MaxPooling2D object...
            x = self.max_pool(self.conv2(x))          # ...called twice
            ...

`call` is plain Python: there is no graph to read before it runs. So the model runs it on
`TracedTensor`s -- thin handles on the arrays -- and every layer call made on one is run AND
written down on a `Tape`: which layer, which tensors went in, which came out, and the
layer's cache. Backpropagation reads the tape backwards (reverse-mode automatic
differentiation, one layer at a time): each entry gets dL/d(its outputs), calls the layer's
`backward(dy, cache)` and adds dL/d(its inputs) into the gradients of the tensors they came
from -- so a tensor used twice gets the sum, and a layer called twice gets both calls'
weight gradients added up (`Layer.add_grad`).

Only what the tape sees is differentiated. Arithmetic on traced tensors (`x + y`, `x * y`,
`x / 2`, `-x`, slicing `x[:, :10]`) is recorded too (engine/ops.py). Anything else -- a
NumPy function (`np.exp(x)`, `np.concatenate`), a method (`x.sum()`, `x.reshape(...)`),
turning the tensor into an array -- raises a TypeError that names it: its gradient would be
silently lost. Use a layer for it instead (layers.Activation, Reshape, Concatenate, ...).

A tape that does not record (inference: predict, evaluate) runs the same code and keeps no
caches. Subclassed models run unfused: each layer call runs on its own.
"""
import numpy as np

from scratchnet.engine import context, workspace
from scratchnet.engine.arithmetic import TensorArithmetic

_HINT = ("Inside call(), combine tensors with layers (layers.Add(), layers.Multiply(), "
         "layers.Concatenate(), layers.Reshape(...), layers.Activation(...), ...) or with "
         "+, -, *, / and slicing, which scratchnet differentiates.")


class UntraceableError(TypeError):
    """Something was done to a traced tensor that the tape of layer calls cannot follow."""


def _refuse(what, owner):
    raise UntraceableError(
        f"{what} on a tensor inside the call() of model {owner!r} cannot be differentiated "
        f"by scratchnet: training would silently get a wrong gradient. {_HINT}")


class TracedTensor(TensorArithmetic):
    """A tensor inside a subclassed model's `call`: a handle on an array of the tape."""

    __slots__ = ("_tape", "_index")

    def __init__(self, tape, index):
        self._tape = tape
        self._index = index

    @property
    def value(self):
        return self._tape.values[self._index]

    @property
    def shape(self):
        return self.value.shape

    @property
    def dtype(self):
        return self.value.dtype

    @property
    def ndim(self):
        return self.value.ndim

    def __len__(self):
        return len(self.value)

    def __repr__(self):
        return f"<TracedTensor shape={self.shape} dtype={self.dtype}>"

    # + - * / -x and x[...] come from TensorArithmetic; NumPy's ufuncs land here:
    _UFUNCS = {np.add: "add", np.subtract: "subtract", np.multiply: "multiply",
               np.true_divide: "divide"}

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from scratchnet.engine import ops
        if method == "__call__" and not kwargs:
            if ufunc in self._UFUNCS and len(inputs) == 2:
                return ops.binary(self._UFUNCS[ufunc], *inputs)
            if ufunc is np.negative and len(inputs) == 1:
                return ops.unary("negative", inputs[0])
        name = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        _refuse(name, self._tape.owner)

    def __array_function__(self, func, types, args, kwargs):
        _refuse(f"np.{func.__name__}", self._tape.owner)

    def __array__(self, dtype=None, copy=None):
        _refuse("Turning it into a NumPy array (np.asarray, np.array)", self._tape.owner)

    def numpy(self):
        _refuse(".numpy()", self._tape.owner)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        _refuse(f"The method or attribute .{name}", self._tape.owner)

    def __iter__(self):
        _refuse("Iterating over it", self._tape.owner)

    def __bool__(self):
        _refuse("Using it as a truth value", self._tape.owner)

    def __float__(self):
        _refuse("float()", self._tape.owner)

    __int__ = __float__

    def __pow__(self, other):
        _refuse("** (power)", self._tape.owner)

    __rpow__ = __pow__

    def __matmul__(self, other):
        _refuse("@ (matrix product; use a Dense layer)", self._tape.owner)

    __rmatmul__ = __matmul__


class Tape:
    """The record of one forward pass through a subclassed model's `call`."""

    def __init__(self, owner, record, root=None, shapes=False):
        self.owner = owner            # the model's name, for error messages
        self.record = record          # keep caches for backward (training)
        self.root = root              # parent workspace of the entries' workspaces
        self.values = []
        self.requires = []            # per value: does it need dL/d(value)?
        self.entries = []
        self.calls = 0
        self.producer = {}            # value index -> the entry that made it
        self.uses = {}                # value index -> how many calls took it as an input
        # layer -> output shapes of its calls (for summary; only when asked for)
        self.shapes_by_layer = {} if shapes else None

    def watch(self, value, requires_grad=False):
        self.values.append(value)
        self.requires.append(requires_grad)
        return TracedTensor(self, len(self.values) - 1)

    def _index_of(self, x):
        if isinstance(x, TracedTensor):
            if x._tape is not self:
                raise ValueError("A tensor from another model call was passed into this one")
            return x._index
        return self.watch(np.asarray(x))._index          # a constant

    def call(self, layer, inputs, training):
        """Run `layer` on traced inputs and record it; its traced output(s)."""
        from scratchnet.engine.symbolic import flatten

        flat = flatten(inputs)
        takes_list = layer._takes_list()
        layer._check_call_structure(inputs, flat)
        ids = [self._index_of(x) for x in flat]
        values = [layer._as_input_arrays(self.values[i]) for i in ids]
        x = values if takes_list else values[0]
        shapes = [v.shape for v in values] if takes_list else values[0].shape
        layer.ensure_built(shapes)
        if not takes_list:
            layer.check_input_shape(x.shape)
        ws = None if self.root is None else self.root.child(self.calls)
        self.calls += 1
        previous = workspace.activate(ws)
        try:
            y, cache = layer.forward(x, training=training)
        finally:
            workspace.activate(previous)
        multi = isinstance(y, list)
        ys = y if multi else [y]
        if layer.activity_regularizer is not None and not multi:   # R(y) joins the loss
            context.add_loss(layer._activity_loss(y))
        if self.shapes_by_layer is not None:
            self.shapes_by_layer.setdefault(layer, []).append(
                [(None,) + tuple(v.shape[1:]) for v in ys])
        if self.record:
            for i in ids:
                self.uses[i] = self.uses.get(i, 0) + 1
            need_dx = any(self.requires[i] for i in ids)
            requires = need_dx or layer._has_trainable_weights()
            out = [self.watch(v, requires) for v in ys]
            self.entries.append((layer, ids, [t._index for t in out], cache, need_dx, multi,
                                 takes_list, ws))
            if not multi:
                self.producer[out[0]._index] = len(self.entries) - 1
        else:
            out = [self.watch(v) for v in ys]
        return out if multi else out[0]

    def sole_producer(self, index):
        """The entry that made value `index` when nothing else used it (None otherwise)."""
        entry = self.producer.get(index)
        if entry is None or self.uses.get(index, 0) or \
                self.entries[entry][0].activity_regularizer is not None:
            return None
        return self.entries[entry]

    def backward(self, output_indices, output_grads, logits=()):
        """Backpropagate dL/d(outputs) through the recorded calls, newest first; returns the
        gradient of every value that received one (index -> array). `logits`: output values
        whose gradient is dL/dz of the softmax/sigmoid that made them (losses.py): their
        entries run `backward_from_logits`."""
        grads = {}
        for i, g in zip(output_indices, output_grads):
            if g is not None:
                grads[i] = g if i not in grads else grads[i] + g
        for layer, ids, outs, cache, need_dx, multi, takes_list, ws in reversed(self.entries):
            dys = [grads.pop(o, None) for o in outs]
            if layer.activity_regularizer is not None and not multi:   # + dR(y)/dy
                dys = [layer._activity_grad(self.values[outs[0]], dys[0])]
            if all(d is None for d in dys):
                continue
            if multi:
                dy = [d if d is not None else np.zeros_like(self.values[o])
                      for d, o in zip(dys, outs)]
            else:
                dy = dys[0]
            previous = workspace.activate(ws)
            try:
                if not multi and outs[0] in logits:
                    dx = layer.backward_from_logits(dy, cache, need_input_grad=need_dx)
                else:
                    dx = layer.backward(dy, cache, need_input_grad=need_dx)
            finally:
                workspace.activate(previous)
            if not need_dx:
                continue
            for i, g in zip(ids, dx if takes_list else [dx]):
                if g is not None and self.requires[i]:
                    grads[i] = g if i not in grads else grads[i] + g
        self.entries = []                     # the caches are spent
        return grads


def tape_of(values):
    """The tape of the traced tensors among `values` (None when there are none)."""
    tape = None
    for x in values:
        if isinstance(x, TracedTensor):
            if tape is not None and x._tape is not tape:
                raise ValueError("Tensors of two different model calls were combined")
            tape = x._tape
    return tape

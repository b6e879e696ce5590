"""`Model`: compile, fit, evaluate, predict -- the training loop, written out -- for every kind
of model: Functional (`Model(inputs, outputs)`), Sequential, and subclassed (`class
LeNet5(Model)` with a `call`).

Lectures: every one (`model.compile(optimizer='adam', loss=..., metrics=['accuracy'])`,
`model.fit(x, y, epochs=5)`, `model.evaluate(x_test, y_test)`, `model.predict(x)`).

One training step on a batch (x_b, y_b), exactly what Keras's `train_step` does:

    zero every layer's gradients
    y_pred        = forward(x_b)                  every layer call, in order
    loss, dL/dy   = sum over outputs of loss_weight * loss(y_b, y_pred)
    grads         = backward(dL/dy)               every layer call, in reverse order
    weights      -= optimizer(grads)              in place

How forward and backward run depends on the kind of model, and nothing else here does:

* Functional and Sequential models are a graph of layer calls, run by a Plan
  (engine/graph.py): topological order forward, reverse order backward, gradients of a
  tensor used by several layers summed;
* a subclassed model runs its own `call` on traced tensors; every layer call is recorded on
  a tape (engine/tape.py) that backward reads in reverse.

A model is also a layer: put it inside another model and its forward/backward are those of
its graph or tape.

The epoch's 'loss' is the batch losses averaged with the batch sizes as weights, and each
metric is averaged over all samples of the epoch; both are measured on each batch *before*
its update, as Keras does. With several outputs the logs also hold each output's own
(unweighted) loss, '<output>_loss', and its metrics as '<output>_<metric>', as in Keras 3.

`trainable` is read at `compile`, as in Keras: the weights the optimizer updates are those
trainable then (unfreeze a layer, compile again, and it trains).
"""
import copy
import warnings

import numpy as np

from scratchnet import backend, gradient_tape, losses, metrics as metrics_module, optimizers
from scratchnet.callbacks import CallbackList, _progress_bar
from scratchnet.engine import context, symbolic, workspace
from scratchnet.engine.tape import Tape, TracedTensor, UntraceableError
from scratchnet.layers.base import Layer, _as_shapes
from scratchnet.models import batches, data
from scratchnet.threads import limits_threads

# attributes of Model itself that hold no layers of the user's (not scanned for tracking)
_INTERNAL = frozenset({"_graph", "optimizer", "loss", "history", "_compile_args",
                       "_outputs_spec", "_train_pairs", "_inbound_nodes", "_traced_shapes",
                       "_trainable_weights", "_non_trainable_weights", "_grads",
                       "_leaf_layers", "_train_vars", "_train_regularized",
                       "_train_constraints"})


_NOTHING = object()     # what next(iterator, _NOTHING) gives when there is nothing


class NotCompiledError(RuntimeError, ValueError):
    """Raised by fit/evaluate before compile (a RuntimeError like Keras's, and a ValueError)."""


def _check_verbose(verbose, what):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"{what}: verbose must be 'auto', 0, 1 or 2, received {verbose!r}")
    return verbose


class _Output:
    """What compile says about one model output: its name, loss, loss weight, metrics."""

    def __init__(self, name, loss, weight, metric_ids):
        self.name, self.loss, self.weight, self.metric_ids = name, loss, weight, metric_ids


class Model(Layer):
    """A model: a layer made of layers, which can also be trained.

    `Model(inputs, outputs)` (or `Model(inputs=..., outputs=...)`) makes a Functional model;
    a subclass that defines `call` is a subclassed model (its layers are the ones assigned
    to its attributes, in assignment order)."""

    _kind = "model"

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from scratchnet.models.functional import Functional
            return super().__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            from scratchnet.models.functional import Functional
            Functional.__init__(self, *args, **kwargs)
            return
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unknown keyword argument(s) "
                            f"{sorted(kwargs)}")
        Layer.__init__(self, name=name, trainable=trainable, dtype=dtype)
        self._init_model()

    def _init_model(self):
        self._graph = None
        self.optimizer = self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None
        self._compile_args = None
        self._outputs_spec = None
        self._train_pairs = None
        self._traced_shapes = None
        self._calls_ops = False         # call() made of tf operations (see _trace_shapes)

    def _set_graph(self, graph):
        """Become the model of this graph (models/functional.py's GraphData)."""
        self._graph = graph
        self.built = True
        shapes = [x.shape for x in graph.inputs]
        self._build_input_shape = shapes[0] if len(shapes) == 1 else shapes
        out = [x.shape for x in graph.outputs]
        self._build_output_shape = out[0] if len(out) == 1 else out
        self._grads = []

    # ---- the layers -----------------------------------------------------------------
    @property
    def layers(self):
        """The model's layers: a Functional model's in Keras's graph order (its InputLayers
        included, as in Keras 3); a subclassed model's in the order they were assigned."""
        if self._graph is not None:
            return [layer for layer in self._graph.layers if not layer._is_op]
        return self._tracked_layers()

    def _tracked_layers(self):
        """Layers assigned to attributes (directly, in lists/tuples, in dicts), in order."""
        found, seen = [], set()

        def visit(value):
            if isinstance(value, Layer):
                if id(value) not in seen:
                    seen.add(id(value))
                    found.append(value)
            elif isinstance(value, (list, tuple)):
                for item in value:
                    visit(item)
            elif isinstance(value, dict):
                for item in value.values():
                    visit(item)

        for key, value in vars(self).items():
            if key not in _INTERNAL:
                visit(value)
        return found

    def _weight_layers(self):
        """The layers whose weights are the model's, each once (Keras's order)."""
        found, seen = [], set()
        for layer in self.layers:
            if id(layer) not in seen and (layer.weights or isinstance(layer, Model)):
                seen.add(id(layer))
                found.append(layer)
        return found

    def _leaf_layers_list(self):
        """Every layer inside (nested models opened up), each once."""
        found, seen = [], set()

        def visit(layer):
            if id(layer) in seen:
                return
            seen.add(id(layer))
            if isinstance(layer, Model):
                if layer._own_weights():        # tf.Variables assigned to the model
                    found.append(layer)
                for inner in layer.layers:
                    visit(inner)
            else:
                found.append(layer)

        visit(self)
        return found

    def _own_weights(self):
        """The model's own weights: tf.Variables assigned to it (`self.w = tf.Variable(0.0)`,
        layers/base.py), before its layers' (Keras's order)."""
        return list(self._trainable_weights) + list(self._non_trainable_weights)

    def get_layer(self, name=None, index=None):
        """A layer by name or by index in `model.layers` (Keras's get_layer)."""
        if (name is None) == (index is None):
            raise ValueError("get_layer: provide exactly one of `name` or `index`, received "
                             f"name={name!r}, index={index!r}")
        layers = self.layers
        if index is not None:
            if not isinstance(index, (int, np.integer)) or not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index!r} is out of range: model "
                                 f"{self.name!r} has {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name}. Existing layers are: "
                         f"{[layer.name for layer in layers]}.")

    # ---- weights --------------------------------------------------------------------
    @Layer.trainable.setter
    def trainable(self, value):
        """Setting it sets every layer inside too (Keras's rule)."""
        Layer.trainable.fset(self, value)
        for layer in self.layers:
            layer.trainable = value

    def _unique(self, weights):
        seen, out = set(), []
        for w in weights:
            if id(w) not in seen:
                seen.add(id(w))
                out.append(w)
        return out

    @property
    def weights(self):
        return self._unique(self._own_weights() + [w for layer in self._weight_layers()
                                                   for w in layer.weights])

    @property
    def weight_paths(self):
        """Keras's variable path of each of `weights`: '<layer>/<weight>' prefixed by the
        Sequential or subclassed models the layer was built in ('sequential/dense/kernel');
        a Functional model's layers are built before the model exists, so they have no
        prefix ('dense/kernel')."""
        paths = {}

        def visit(model, prefix):
            inner = "" if type(model).__name__ == "Functional" else f"{prefix}{model.name}/"
            for weight in model._own_weights():
                paths.setdefault(id(weight), inner + model._weight_names[id(weight)])
            for layer in model.layers:
                if isinstance(layer, Model):
                    visit(layer, inner)
                else:
                    for weight, path in zip(layer.weights, layer.weight_paths):
                        paths.setdefault(id(weight), inner + path)

        visit(self, "")
        return [paths[id(w)] for w in self.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return self._unique(list(self._trainable_weights) + [
            w for layer in self._weight_layers() for w in layer.trainable_weights])

    @property
    def non_trainable_weights(self):
        if not self.trainable:
            return self.weights
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def _has_trainable_weights(self):
        return bool(self.trainable_weights)

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def _trainable_pairs(self):
        """[(layer, i)] for every trainable weight, in order (each weight once)."""
        if not self.trainable:
            return []
        pairs = [(self, i) for i in range(len(self._trainable_weights))]
        seen = {id(w) for w in self._trainable_weights}
        for layer in self._weight_layers():
            inner = (layer._trainable_pairs() if isinstance(layer, Model)
                     else [(layer, i) for i in range(len(layer._trainable_weights))]
                     if layer.trainable else [])
            for pair in inner:
                w = pair[0]._trainable_weights[pair[1]]
                if id(w) not in seen:
                    seen.add(id(w))
                    pairs.append(pair)
        return pairs

    def zero_grads(self):
        for layer in self._leaf_layers_list():     # (a model among them: its own weights)
            Layer.zero_grads(layer) if isinstance(layer, Model) else layer.zero_grads()

    # ---- shapes, inputs, outputs ------------------------------------------------------
    def _output_dtype(self):
        return self.dtype or backend.floatx()

    def _takes_list(self):
        if self._graph is not None:
            return len(self._graph.inputs) > 1
        return False

    def call(self, inputs, training=None):
        raise NotImplementedError(
            f"Model {self.name!r} ({type(self).__name__}) has no call(): subclass Model and "
            "define call(self, inputs), or build it as Model(inputs, outputs)")

    def build(self, input_shape):
        """A subclassed model builds by running `call` once on zeros of this shape (batch
        of 1; a list of shapes for several inputs), which builds every layer it calls."""
        if self._graph is not None:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        for shape in shapes:
            if any(d is None for d in tuple(shape)[1:]):
                raise ValueError(f"Model {self.name!r}: build needs fully known sample "
                                 f"shapes, received {input_shape}")
        self.dtype = self.dtype or backend.floatx()
        self._trace_shapes([np.zeros((1,) + tuple(s)[1:], self.dtype) for s in shapes])

    def compute_output_shape(self, input_shape):
        if self._graph is not None:
            return self._graph.output_shapes(input_shape)
        if self._traced_shapes is None:
            shapes = input_shape if isinstance(input_shape, list) else [input_shape]
            dtype = self.dtype or backend.floatx()
            self._trace_shapes([np.zeros((1,) + tuple(s[1:]), dtype) for s in shapes])
        shapes = self._traced_shapes["outputs"]
        return shapes if self._traced_shapes["multi"] else shapes[0]

    def _trace_shapes(self, xs):
        """Run `call` once (inference) on xs to build the layers, and keep the shapes it saw:
        every layer's output shapes, the model's outputs (for compile and summary)."""
        tape = Tape(self.name, record=False, shapes=True)
        try:
            outs, multi = self._trace_call(tape, xs, training=False)
            outputs, by_layer = [tape.values[i] for i in outs], tape.shapes_by_layer
        except UntraceableError:
            # `call` uses tf operations (tf.matmul, self.w * x with a tf.Variable, ...), which
            # the tape of layer calls cannot follow: the model runs like a layer written as
            # `call` instead -- on a GradientTape of its own (Layer._forward_by_tape).
            self._calls_ops = True
            with gradient_tape.paused():
                y, _ = self._forward_by_tape(xs if len(xs) > 1 else xs[0], False)
            outputs, multi, by_layer = [y], False, {}
        self._traced_shapes = {
            "outputs": [(None,) + tuple(v.shape[1:]) for v in outputs],
            "multi": multi, "layers": by_layer,
            "inputs": [(None,) + tuple(x.shape[1:]) for x in xs]}
        self._build_input_shape = (self._traced_shapes["inputs"][0]
                                   if len(xs) == 1 else self._traced_shapes["inputs"])
        self._build_output_shape = (self._traced_shapes["outputs"] if multi
                                    else self._traced_shapes["outputs"][0])
        self.built = True

    @property
    def inputs(self):
        return list(self._graph.inputs) if self._graph is not None else None

    @property
    def outputs(self):
        return list(self._graph.outputs) if self._graph is not None else None

    @property
    def input(self):
        """The model's symbolic input(s) (as given to Model(...))."""
        if self._graph is None:
            return Layer.input.fget(self)
        return self._graph.input_struct

    @property
    def output(self):
        if self._graph is None:
            return Layer.output.fget(self)
        return self._graph.output_struct

    @property
    def input_shape(self):
        if self._graph is not None:
            shapes = [x.shape for x in self._graph.inputs]
            return shapes[0] if len(shapes) == 1 else shapes
        return Layer.input_shape.fget(self)

    @property
    def output_shape(self):
        if self._graph is not None:
            shapes = [x.shape for x in self._graph.outputs]
            return shapes[0] if len(shapes) == 1 else shapes
        return Layer.output_shape.fget(self)

    def _input_specs(self):
        """[(name, shape)] of the model inputs, or None when not known yet."""
        if self._graph is not None:
            return [(name, x.shape) for name, x in zip(self._graph.input_names,
                                                       self._graph.inputs)]
        if self._traced_shapes is not None:
            return [(None, s) for s in self._traced_shapes["inputs"]]
        return None

    def _output_shapes(self):
        if self._graph is not None:
            return [x.shape for x in self._graph.outputs]
        return self._traced_shapes["outputs"]

    def _output_names(self):
        if self._graph is not None:
            return list(self._graph.output_names)
        return [f"output_{i + 1}" for i in range(len(self._traced_shapes["outputs"]))]

    # ---- running the model: the layer contract ---------------------------------------------
    def forward(self, x, training=False):
        """(outputs, cache): the model as one layer of a bigger model (see Layer)."""
        xs = x if isinstance(x, list) else [x]
        root = workspace.active()
        if self._calls_ops:
            y, cache = self._forward_by_tape(x, training)
            return y, ("ops", cache)
        if self._graph is not None:
            state = self._graph.plan.forward(xs, training, root, fresh_outputs=root is None)
            outs = self._graph.plan.outputs(state)
            multi = len(outs) > 1
            cache = ("graph", state)
        else:
            tape = Tape(self.name, record=True, root=root)
            out_ids, multi = self._trace_call(tape, xs, training, inputs_need_grad=True)
            outs = [tape.values[i] for i in out_ids]
            cache = ("tape", tape, out_ids, list(range(len(xs))))
        # a list exactly when compute_output_shape gives a list (what the graph expects)
        return (outs if multi else outs[0]), cache

    @staticmethod
    def _reusable_cache(cache):
        """A cache that `backward` may consume while `cache` stays whole (a persistent
        tf.GradientTape differentiates a model call more than once): backward drops each
        call's cache as soon as it is done with it, from its own list."""
        if cache[0] == "graph":
            values, caches, *rest = cache[1]
            return ("graph", (values, list(caches), *rest))
        if cache[0] == "tape":
            return ("tape", copy.copy(cache[1]), *cache[2:])
        return cache

    def backward(self, dy, cache, need_input_grad=True):
        if cache[0] == "ops":
            return self._backward_by_tape(dy, cache[1], need_input_grad)
        dys = dy if isinstance(dy, list) else [dy]
        if cache[0] == "graph":
            grads = self._graph.plan.backward(cache[1], dys, need_input_grad)
        else:
            _, tape, out_ids, in_ids = cache
            found = tape.backward(out_ids, dys)
            grads = [found.get(i) for i in in_ids]
        if not need_input_grad:
            return None
        return grads if self._takes_list() else grads[0]

    def _pack_outputs(self, outs):
        """The outputs as the model gives them: one array, a list, or a dict by output name
        (a Functional model made with a dict of outputs)."""
        if self._graph is not None and isinstance(self._graph.output_struct, dict):
            return dict(zip(self._graph.output_names, outs))
        return outs if self._returns_list() else outs[0]

    def _returns_list(self):
        """Several outputs come back as a list; one as an array (Keras unpacks [y] too)."""
        if self._graph is not None:
            return len(self._graph.outputs) > 1
        shapes = self._traced_shapes
        return bool(shapes and shapes["multi"] and len(shapes["outputs"]) > 1)

    def _trace_call(self, tape, xs, training, inputs_need_grad=False):
        """Run `call` on traced tensors; (indices of the output values, multi-output?)."""
        traced = [tape.watch(x, inputs_need_grad) for x in xs]
        arg = traced[0] if len(traced) == 1 else traced
        kwargs = self._call_kwargs(training)
        previous = workspace.activate(None)
        try:
            with context.training_scope(training):
                out = self.call(arg, **kwargs)
        finally:
            workspace.activate(previous)
        multi = isinstance(out, (list, tuple))
        flat = symbolic.flatten(out)
        for value in flat:
            if not isinstance(value, TracedTensor) or value._tape is not tape:
                raise TypeError(
                    f"call() of model {self.name!r} returned {value!r}, which was not computed "
                    "from its inputs by layers: scratchnet can only train through layer calls "
                    "and the arithmetic it records (see scratchnet/engine/tape.py)")
        return [t._index for t in flat], multi

    # ---- running the model: fit / evaluate / predict -------------------------------------
    def _run(self, xs, training, record):
        """The model on a batch, outputs always fresh arrays: (outputs, state for backward)."""
        root = workspace.root_for(self)
        if self._calls_ops:
            y, cache = self._forward_by_tape(xs if len(xs) > 1 else xs[0], training)
            return [y], ("ops", cache)
        if self._graph is not None:
            plan = self._graph.plan
            state = plan.forward(xs, training, root, fresh_outputs=True)
            return plan.outputs(state), ("graph", state)
        tape = Tape(self.name, record=record, root=root)
        out_ids, _ = self._trace_call(tape, xs, training)
        outs = [tape.values[i].copy() for i in out_ids]
        return outs, ("tape", tape, out_ids)

    def _backprop(self, state, output_grads, logits_positions):
        if state[0] == "ops":
            self._backward_by_tape(output_grads[0], state[1], False)
        elif state[0] == "graph":
            self._graph.plan.backward(state[1], output_grads, False, logits_positions)
        else:
            _, tape, out_ids = state
            tape.backward(out_ids, output_grads,
                          logits={out_ids[p] for p in logits_positions})

    def _logits_of(self, state, position, training):
        """The logits behind output `position` when the layer making it ends in softmax /
        sigmoid and nothing else uses that output, else None."""
        if state[0] == "ops":
            return None
        if state[0] == "graph":
            producer = self._graph.plan.output_producers(training)[position]
            if producer is None:
                return None
            return state[1][2][producer].layer.logits(state[1][1][producer])
        _, tape, out_ids = state
        entry = tape.sole_producer(out_ids[position])
        if entry is None or entry[0]._logits_kind() is None:
            return None
        return entry[0].logits(entry[3])

    # ---- compile --------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, jit_compile=None,
                steps_per_execution=None):
        """Choose the optimizer, the loss(es) and the metrics (names or objects, as in Keras).
        With several outputs `loss`, `loss_weights` and `metrics` may be one for all, a list
        (one per output) or a dict by output name. `run_eagerly`, `jit_compile` and
        `steps_per_execution` are accepted and ignored (scratchnet is always eager)."""
        if weighted_metrics:
            raise ValueError(
                f"compile: weighted_metrics={weighted_metrics!r} is not supported by "
                "scratchnet yet; pass the metrics as `metrics` (they ignore sample weights, as "
                "Keras's `metrics` do)")
        self.optimizer = optimizers.get(optimizer)
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='mse'")
        for item in symbolic.flatten(loss):
            if item is not None:
                losses.get(item)          # unknown names fail here, not mid-fit
        for item in _flat_metrics(metrics):
            metrics_module.validate_name(item)
        if loss_weights is not None and not isinstance(loss_weights, (list, tuple, dict,
                                                                      float, int)):
            raise TypeError(f"compile: loss_weights must be a float, a list or a dict, "
                            f"received {loss_weights!r}")
        self._compile_args = (loss, loss_weights, metrics)
        self.loss = losses.get(loss) if not isinstance(loss, (list, tuple, dict)) else loss
        self._outputs_spec = None
        # `trainable` is read now (or, for a model not built yet, at its first fit)
        self._train_pairs = self._trainable_pairs() if self.built else None
        self.compiled = True
        if self.built:
            self._resolve_outputs()

    def _require_compiled(self, what):
        if not self.compiled:
            raise NotCompiledError(
                f"{what}: model {self.name!r} must be compiled first: call "
                "model.compile(optimizer=..., loss=...) before fit/evaluate"
            )

    def _resolve_outputs(self):
        """Per model output: its loss, weight and metrics, from compile's arguments."""
        if self._outputs_spec is not None:
            return self._outputs_spec
        loss, weights, metrics = self._compile_args
        names = self._output_names()
        n = len(names)
        per_loss = _per_output(loss, names, "loss", allow_single=True)
        per_weight = _per_output(weights, names, "loss_weights", allow_single=True)
        if metrics is None or (isinstance(metrics, (list, tuple)) and not metrics):
            per_metrics = [[] for _ in range(n)]
        elif n == 1:
            per_metrics = [list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]]
            if isinstance(metrics, dict):
                per_metrics = [_as_list(metrics.get(names[0]))]
        elif isinstance(metrics, dict):
            unknown = set(metrics) - set(names)
            if unknown:
                raise ValueError(f"compile: metrics names {sorted(unknown)} are not outputs of "
                                 f"model {self.name!r}; its outputs are {names}")
            per_metrics = [_as_list(metrics.get(name)) for name in names]
        elif isinstance(metrics, (list, tuple)) and len(metrics) == n and all(
                m is None or isinstance(m, (list, tuple)) for m in metrics):
            per_metrics = [_as_list(m) for m in metrics]
        else:
            raise ValueError(
                f"compile: model {self.name!r} has {n} outputs {names}: metrics must be a "
                f"list with one list of metrics per output, or a dict by output name, "
                f"received metrics={metrics!r}")
        specs = []
        for name, l, w, m in zip(names, per_loss, per_weight, per_metrics):
            if l is None and m:
                raise ValueError(f"compile: output {name!r} has metrics but no loss")
            specs.append(_Output(name, None if l is None else losses.get(l),
                                 None if w is None else float(w), m))
        if all(s.loss is None for s in specs):
            raise ValueError(f"compile: no output of model {self.name!r} has a loss")
        self._outputs_spec = specs
        return specs

    # ---- data -----------------------------------------------------------------------
    def _dtype(self):
        return getattr(self, "dtype", None) or backend.floatx()

    def _prepare_x(self, x, what):
        """The model inputs as a list of float arrays, checked (and the model built)."""
        specs = self._input_specs()
        arrays = _split_inputs(x, specs, self._input_count(), what)
        arrays = [data.as_float_array(a, self._dtype(), f"{what}: x") for a in arrays]
        if specs is None:
            first = arrays[0]
            if first.ndim == 1:
                arrays[0] = first = first.reshape(-1, 1)
            for a in arrays:
                if 0 in a.shape[1:]:      # refuse before any layer gets built for it
                    raise ValueError(
                        f"{what}: x has shape {a.shape}; model {self.name!r} cannot be built "
                        "for samples with an axis of size 0")
            self._build_from_data(arrays)
            specs = self._input_specs()
        if len(arrays) != len(specs):
            raise ValueError(f"{what}: model {self.name!r} has {len(specs)} inputs, received "
                             f"{len(arrays)} arrays")
        arrays = [data.match_input_shape(a, shape, self.name, what, name)
                  for a, (name, shape) in zip(arrays, specs)]
        for a in arrays[1:]:
            if len(a) != len(arrays[0]):
                raise ValueError(f"{what}: all inputs must have the same number of samples, "
                                 f"received {[len(b) for b in arrays]}")
        return arrays

    def _input_count(self):
        specs = self._input_specs()
        return None if specs is None else len(specs)

    def _build_from_data(self, arrays):
        """Build an unbuilt model for data like `arrays` (a subclassed model runs `call`
        once on the first sample)."""
        if len(arrays) == 1:
            self.build((None,) + arrays[0].shape[1:])
        else:
            self._trace_shapes([a[:1] for a in arrays])

    def _prepare_xy(self, x, y, what):
        xs = self._prepare_x(x, what)
        specs = self._resolve_outputs()
        ys = _split_targets(y, specs, what)
        n = len(xs[0])
        targets, y_shapes = [], []
        for spec, shape, yi in zip(specs, self._output_shapes(), ys):
            if spec.loss is None:
                targets.append(None)
                y_shapes.append(None)
                continue
            yi = data.as_target_array(yi, what)
            data.check_same_length(xs[0], yi, what)
            pred_shape = (n,) + tuple(shape[1:])
            targets.append(spec.loss.prepare_targets(yi, pred_shape, self._dtype()))
            y_shapes.append(yi.shape)
        return xs, y_shapes, targets

    def _sample_weights(self, sample_weight, class_weight, targets, n, what,
                        class_weight_dtype=None):
        """One weight array (n,) per output (None: unweighted), or None when neither
        `sample_weight` nor `class_weight` is given; Keras's rules and messages.
        `class_weight_dtype`: the dtype the class weights are written in before the cast to
        the model's (floatx for arrays; Keras's tf.data path holds them in float32)."""
        if sample_weight is None and class_weight is None:
            return None
        specs = self._outputs_spec
        dtype = self._dtype()
        if sample_weight is not None and class_weight is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        if class_weight is not None:
            if len(specs) > 1:
                raise ValueError("`class_weight` is only supported for Models with a single "
                                 "output.")
            if not isinstance(class_weight, dict):
                raise TypeError(f"{what}: class_weight must be a dict {{class index: weight}}, "
                                f"received {class_weight!r}")
            return [_class_weights(targets[0], class_weight,
                                   class_weight_dtype or backend.floatx()).astype(dtype)]
        if isinstance(sample_weight, dict):
            unknown = sorted(set(map(str, sample_weight)) - {spec.name for spec in specs})
            if unknown:
                raise ValueError(f"{what}: sample_weight names {unknown}, which are not outputs "
                                 f"of model {self.name!r}; its outputs are "
                                 f"{[spec.name for spec in specs]}")
            per_output = [sample_weight.get(spec.name) for spec in specs]
        elif len(specs) > 1 and isinstance(sample_weight, (list, tuple)):
            if len(sample_weight) != len(specs):
                raise ValueError(f"{what}: You should provide one `sample_weight` array per "
                                 f"output; the model has {len(specs)} outputs, received "
                                 f"{len(sample_weight)}")
            per_output = list(sample_weight)
        else:
            per_output = [sample_weight] * len(specs)
        found = []
        for spec, w in zip(specs, per_output):
            if w is None or spec.loss is None:
                found.append(None)
                continue
            w = data.as_float_array(w, dtype, f"{what}: sample_weight")
            if w.ndim == 2 and w.shape[1] == 1:
                w = w[:, 0]
            if w.shape != (n,):
                raise ValueError(f"{what}: sample_weight must hold one weight per sample, "
                                 f"shape ({n},); received shape {w.shape}")
            found.append(w)
        return found

    # ---- one batch at a time (Keras's *_on_batch) -----------------------------------------
    def reset_metrics(self):
        """Keras's reset_metrics. (scratchnet's metrics live only inside one fit / evaluate /
        *_on_batch call, so there is nothing left to reset.)"""

    def _batch_logs(self, y_shapes, targets, n, step):
        """Run `step` on one batch: its loss (and metrics), as Keras 3's *_on_batch report
        them -- this batch alone, not a running average."""
        trackers, metric_objs = self._loss_trackers(), self._new_metrics(y_shapes)
        total, values, outputs = step()
        self._update_logs(trackers, metric_objs, total, values, outputs, targets, n)
        return _logs(trackers, metric_objs)

    @limits_threads
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None,
                       return_dict=False):
        """One training step on exactly this batch; that batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        xs, y_shapes, targets = self._prepare_xy(x, y, "train_on_batch")
        weights = self._sample_weights(sample_weight, class_weight, targets, len(xs[0]),
                                       "train_on_batch")
        self._prepare_training()
        logs = self._batch_logs(y_shapes, targets, len(xs[0]),
                                lambda: self.train_step(xs, targets, weights))
        return _logs_result(logs, return_dict)

    @limits_threads
    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        """The loss (and metrics) on exactly this batch, nothing updated."""
        self._require_compiled("test_on_batch")
        xs, y_shapes, targets = self._prepare_xy(x, y, "test_on_batch")
        weights = self._sample_weights(sample_weight, None, targets, len(xs[0]),
                                       "test_on_batch")
        regularized = self._regularized()
        logs = self._batch_logs(y_shapes, targets, len(xs[0]),
                                lambda: self._test_step(xs, targets, weights, regularized))
        return _logs_result(logs, return_dict)

    @limits_threads
    def predict_on_batch(self, x):
        """The model's outputs for x, run as one batch."""
        xs = self._prepare_x(x, "predict_on_batch")
        outputs, _ = self._run(xs, training=False, record=False)
        return self._pack_outputs(outputs)

    def _new_metrics(self, y_shapes):
        """[(log name, metric)] for every output's metrics, fresh."""
        specs = self._outputs_spec
        prefix = len(specs) > 1
        found = []
        for spec, y_shape, shape in zip(specs, y_shapes, self._output_shapes()):
            if spec.loss is None:
                continue
            pred_shape = (y_shape[0],) + tuple(shape[1:])
            for m in spec.metric_ids:
                metric = metrics_module.get(m, y_shape, pred_shape)
                found.append((f"{spec.name}_{metric.name}" if prefix else metric.name, metric))
        return found

    def _loss_trackers(self):
        """Mean trackers: the total loss, and each output's when two or more have losses."""
        trackers = [("loss", None, metrics_module.Mean(name="loss"))]
        with_loss = [i for i, s in enumerate(self._outputs_spec) if s.loss is not None]
        if len(with_loss) > 1:
            trackers += [(f"{self._outputs_spec[i].name}_loss", i,
                          metrics_module.Mean(name="loss")) for i in with_loss]
        return trackers

    # ---- one step -------------------------------------------------------------------
    def _losses(self, targets, outputs, state, training, weights=None):
        """(total loss, per-output loss values, dL/d(outputs), positions given as dL/dz).

        Keras's quiet trick (losses.py): a crossentropy on an output made by a softmax or
        sigmoid is computed from the logits that went into it. `weights`: per output, the
        batch's sample weights (or None): the loss is then sum(w_n l_n) / n (Keras's
        "sum_over_batch_size": divided by the count, not by the sum of the weights)."""
        total, values, grads, logits_positions = None, [], [], set()
        weights = weights or [None] * len(outputs)
        for position, (spec, t, y, w) in enumerate(zip(self._outputs_spec, targets, outputs,
                                                        weights)):
            if spec.loss is None:
                values.append(None)
                grads.append(None)
                continue
            logits = None
            if spec.loss.logits_kind is not None:
                logits = self._logits_of(state, position, training)
            if logits is not None:
                per_sample, grad = spec.loss.forward_backward_from_logits(t, logits)
                logits_positions.add(position)
            else:
                per_sample, grad = spec.loss.forward_backward(t, y)
            if w is None:
                value = per_sample.mean()
            else:
                w = _per_row(w, per_sample.size)
                value = (per_sample * w).sum() / per_sample.dtype.type(per_sample.size)
                grad = (grad.reshape(w.size, -1) * w[:, None]).reshape(grad.shape)
            values.append(value)
            if spec.weight is not None:
                value = value * spec.weight
                grad = grad * grad.dtype.type(spec.weight)
            total = value if total is None else total + value
            grads.append(grad)
        return total, values, grads, logits_positions

    def _regularized(self):
        """[(layer, index, weight, regularizer)] for every regularized trainable weight."""
        return [(layer, i, w, reg) for layer in self._leaf_layers_list()
                for i, w, reg in layer._regularized_trainable()]

    def _penalties(self, activity_losses, regularized):
        """The extra losses Keras adds to the total: the activity penalties of this pass,
        then R(w) for every regularized trainable weight (Keras's `model.losses`)."""
        return list(activity_losses) + [reg(w) for _, _, w, reg in regularized]

    @property
    def losses(self):
        """R(w) of every regularized trainable weight at its current value (Keras's
        `model.losses`; activity penalties belong to one step and are not kept)."""
        return self._penalties([], self._regularized())

    def _loss_and_grads(self, xs, targets):
        """(total loss, dL/d(trainable weights) in `trainable_weights` order, positions of the
        outputs whose loss started from logits) on one batch, without updating anything."""
        for layer in self._leaf_layers_list():
            layer.zero_grads()
        regularized = self._regularized()
        with context.collecting_losses() as extra:
            outputs, state = self._run(xs, training=True, record=True)
        total, _, grads, logits = self._losses(targets, outputs, state, True)
        total = _add_penalties(total, self._penalties(extra, regularized))
        self._backprop(state, grads, logits)
        for layer, i, w, reg in regularized:
            layer.add_grad(i, reg.gradient(w))
        return total, [layer._grads[i] for layer, i in self._trainable_pairs()], logits

    def train_step(self, xs, targets, weights=None):
        """Zero gradients, forward, losses, backward, update. Returns (total loss, per-output
        losses, outputs).

        Regularization (regularizers.py): the total loss also holds the activity penalties
        of this pass and R(w) of every regularized trainable weight, and dR(w)/dw joins
        each such weight's gradient; after the update every constrained weight is projected
        (constraints.py), as Keras's optimizer does."""
        for layer in self._leaf_layers:
            layer.zero_grads()
        with context.collecting_losses() as extra:
            outputs, state = self._run(xs, training=True, record=True)
        total, values, grads, logits = self._losses(targets, outputs, state, True, weights)
        regularized = self._train_regularized
        if extra or regularized:
            total = _add_penalties(total, self._penalties(extra, regularized))
        self._backprop(state, grads, logits)
        for layer, i, w, reg in regularized:
            layer.add_grad(i, reg.gradient(w))
        self.optimizer.apply([layer._grads[i] for layer, i in self._train_pairs],
                             self._train_vars)
        for w, constraint in self._train_constraints:
            w[...] = constraint(w)
        return total, values, outputs

    def _prepare_training(self):
        """What every training step reads, fixed for a fit (or a train_on_batch): the
        trainable weights (as of compile), their regularizers and constraints."""
        if self._train_pairs is None:
            self._train_pairs = self._trainable_pairs()
        self._train_vars = [layer._trainable_weights[i] for layer, i in self._train_pairs]
        self._leaf_layers = self._leaf_layers_list()
        trained = {id(w) for w in self._train_vars}
        self._train_regularized = [entry for entry in self._regularized()
                                   if id(entry[2]) in trained]
        self._train_constraints = [(w, c) for layer in self._leaf_layers
                                   for w, c in layer._constraints if id(w) in trained]

    def _update_logs(self, trackers, metric_objs, total, values, outputs, targets, n):
        # the total loss is averaged with the batch sizes as weights; each output's own loss
        # is the plain mean of its batch values -- what Keras 3 reports (measured, batches of
        # 3, 3 and 2: out_loss = mean of the three)
        for name, position, tracker in trackers:
            if position is None:
                tracker.update(total, n)
            else:
                tracker.update(values[position], 1)
        # (compile's `metrics` ignore sample and class weights, as in Keras: only its
        # `weighted_metrics` would use them)
        index = 0
        for spec, t, y in zip(self._outputs_spec, targets, outputs):
            if spec.loss is None:
                continue
            for _ in spec.metric_ids:
                metric_objs[index][1].update_state(t, y)
                index += 1

    # ---- fit ------------------------------------------------------------------------
    @limits_threads
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None):
        """Train for `epochs` passes over the data. `sample_weight` (one weight per sample, or
        one array per output) scales each sample's loss; `class_weight` ({class: weight},
        single-output models) gives every sample its class's weight.

        `x` is arrays (with `y`), or something that yields batches -- a `tf.data.Dataset`, a
        generator -- of the form (x, y) or (x, y, sample_weight); then `y` and
        `sample_weight` stay None, `batch_size` and `shuffle` do not apply, and
        `steps_per_epoch` says how many batches make an epoch (see models/batches.py for
        Keras's rules). `validation_data` is (x_val, y_val[, weights]) or such a Dataset or
        generator (`validation_steps` batches of it, default all)."""
        self._require_compiled("fit")
        verbose = _check_verbose(verbose, "fit")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative int, received {epochs!r}")
        steps_per_epoch = batches.check_steps(steps_per_epoch, "steps_per_epoch", "fit")
        validation_steps = batches.check_steps(validation_steps, "validation_steps", "fit")
        source = batches.batches_from(x, y, sample_weight, class_weight, shuffle, "fit")
        validation = None     # (make the validation EpochIterator, its y shapes or None)
        if source is None:
            xs, y_shapes, targets = self._prepare_xy(x, y, "fit")
            weights = self._sample_weights(sample_weight, class_weight, targets, len(xs[0]),
                                           "fit")
            if validation_data is None and validation_split:
                xs, y_shapes, targets, weights, validation = self._split_validation(
                    xs, y_shapes, targets, weights, validation_split, class_weight,
                    batch_size, validation_steps)
            source = batches.ArrayBatches(
                xs, targets, weights,
                batches.array_batch_size(batch_size, steps_per_epoch, len(xs[0]), "fit"),
                shuffle)
        else:
            if validation_split and validation_data is None:
                raise ValueError(f"fit: validation_split is only supported for arrays (x and "
                                 f"y as NumPy arrays); x is a {source.kind}, which cannot be "
                                 "split: pass validation_data=... instead")
            y_shapes = self._first_batch_shapes(source, class_weight, "fit")
        if validation_data is not None:
            validation = self._validation(validation_data, batch_size, validation_steps)

        train = batches.EpochIterator(source, steps_per_epoch)
        train.reset()
        # As Keras: the user's callbacks, then a History (fit returns it), then the progress
        # display (scratchnet/callbacks/). `steps`: None when the epoch's length is unknown.
        hooks = CallbackList(callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                             verbose=verbose, epochs=epochs, steps=train.num_batches)
        try:
            return self._fit_epochs(train, y_shapes, validation, hooks, verbose, epochs,
                                    initial_epoch, class_weight)
        finally:
            train.close()

    def _fit_epochs(self, train, y_shapes, validation, hooks, verbose, epochs, initial_epoch,
                    class_weight):
        """fit's epochs, once the data are in place: `train` (an EpochIterator) gives each
        epoch's batches, prepared arrays or elements to prepare one by one."""
        source = train.source
        batch_hooks = hooks.wants_batch_hooks("train")
        self._prepare_training()
        self.stop_training = False

        hooks.call("on_train_begin", {})
        # A callback may move the start (BackupAndRestore resuming an interrupted fit): to
        # epoch `model._initial_epoch`, as in Keras, and in scratchnet also to its batch
        # `model._initial_step` (the batches before it ran before the interruption). Used once.
        initial_epoch = getattr(self, "_initial_epoch", None) or initial_epoch
        first_step = getattr(self, "_initial_step", None) or 0
        self._initial_epoch = self._initial_step = None
        trained = False       # as Keras: until a batch has trained, an epoch logs nothing
        val_iterator = None
        try:
            for epoch in range(initial_epoch, epochs):
                hooks.call("on_epoch_begin", epoch, {})
                trackers = self._loss_trackers()
                metric_objs = None if y_shapes is None else self._new_metrics(y_shapes)
                # the epoch's running means, which BackupAndRestore saves and puts back
                self._epoch_metrics = [t for _, _, t in trackers] + [
                    m for _, m in metric_objs or []]
                for step, batch in train.epoch():
                    if epoch == initial_epoch and step < first_step:
                        continue
                    if batch_hooks:
                        hooks.train_batch_begin(step, {})
                    if source.prepared:
                        x_batch, t_batch, w_batch = batch
                    else:
                        x_batch, shapes, t_batch, w_batch = self._prepare_batch(
                            batch, source.kind, f"fit (batch {step} of the {source.kind})",
                            class_weight)
                        if metric_objs is None:
                            y_shapes, metric_objs = shapes, self._new_metrics(shapes)
                            self._epoch_metrics += [m for _, m in metric_objs]
                    total, values, outputs = self.train_step(x_batch, t_batch, w_batch)
                    trained = True
                    self._update_logs(trackers, metric_objs, total, values, outputs, t_batch,
                                      len(x_batch[0]))
                    if batch_hooks or verbose:
                        hooks.train_batch_end(step, _logs(trackers, metric_objs))
                    if self.stop_training:     # set by a batch hook: Keras 3 leaves the
                        break                  # epoch here (validation still runs)
                logs = _logs(trackers, metric_objs or []) if trained else {}
                if validation is not None:
                    if val_iterator is None:   # made at the first validation, as in Keras
                        val_iterator = validation[0]()
                    hooks.call("on_test_begin", {})  # (as Keras: the test hooks run)
                    val_logs = self._evaluate_batches(val_iterator, validation[1], hooks,
                                                      "fit: validation_data")
                    hooks.call("on_test_end", val_logs)
                    logs.update({"val_" + k: v for k, v in val_logs.items()})
                hooks.call("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        finally:
            if val_iterator is not None:
                val_iterator.close()
        hooks.call("on_train_end", hooks.training_logs)  # the last epoch's logs
        return self.history

    def _split_validation(self, xs, y_shapes, targets, weights, validation_split,
                          class_weight, batch_size, validation_steps):
        """fit's validation_split (arrays only): Keras's rule, the LAST fraction of the
        samples (before any shuffling) validates. The training part, and `validation`."""
        present = [i for i, t in enumerate(targets) if t is not None]
        with_weights = [i for i in present if weights and weights[i] is not None]
        split = [targets[i] for i in present] + [weights[i] for i in with_weights]
        (xs, kept), (x_val, t_val) = data.validation_split_arrays(xs, split, validation_split)
        targets, val_targets = list(targets), [None] * len(targets)
        for i, a, b in zip(present, kept, t_val):
            targets[i], val_targets[i] = a, b
        val_weights = None
        if with_weights:
            weights, val_weights = list(weights), [None] * len(weights)
            for i, a, b in zip(with_weights, kept[len(present):], t_val[len(present):]):
                weights[i], val_weights[i] = a, b
            if class_weight is not None:   # Keras: class weights weigh training only
                val_weights = None
        val_shapes = [None if s is None else (len(x_val[0]),) + tuple(s[1:])
                      for s in y_shapes]
        y_shapes = [None if s is None else (len(xs[0]),) + tuple(s[1:]) for s in y_shapes]
        val_batches = batches.ArrayBatches(
            x_val, val_targets, val_weights,
            batches.array_batch_size(batch_size, validation_steps, len(x_val[0]), "fit"),
            False)
        validation = (lambda: batches.EpochIterator(val_batches, validation_steps), val_shapes)
        return xs, y_shapes, targets, weights, validation

    def _validation(self, validation_data, batch_size, validation_steps):
        """fit's validation_data as (a function making its EpochIterator, y shapes or None):
        arrays are checked now; a Dataset / generator is adapted at the first validation
        (as Keras does, which is when a generator's first batches are taken)."""
        what = "fit: validation_data"
        unpacked = validation_data
        if isinstance(unpacked, list):
            unpacked = tuple(unpacked)
        if not isinstance(unpacked, tuple):
            unpacked = (unpacked,)
        if batches.yields_batches(unpacked[0]):
            if len(unpacked) > 3:
                raise ValueError(f"{what}: expected a Dataset or generator, or (x_val, y_val[, "
                                 f"sample_weight]); received a tuple of {len(unpacked)}")
            val_x, val_y, val_w = unpacked + (None,) * (3 - len(unpacked))
            return (lambda: batches.EpochIterator(
                batches.batches_from(val_x, val_y, val_w, None, False, what),
                validation_steps), None)
        if len(unpacked) not in (2, 3):
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or "
                             "(x_val, y_val, val_sample_weight), or a tf.data.Dataset or "
                             "generator of such batches")
        xs, y_shapes, targets = self._prepare_xy(*unpacked[:2], what)
        weights = self._sample_weights(unpacked[2] if len(unpacked) == 3 else None, None,
                                       targets, len(xs[0]), what)
        val_batches = batches.ArrayBatches(
            xs, targets, weights,
            batches.array_batch_size(batch_size, validation_steps, len(xs[0]), "fit"), False)
        return (lambda: batches.EpochIterator(val_batches, validation_steps), y_shapes)

    # ---- batches from a Dataset or a generator ------------------------------------------
    def _prepare_batch(self, element, kind, what, class_weight=None):
        """One element of a Dataset / generator for fit or evaluate, checked and cast exactly
        as arrays are: (inputs, y shapes, targets, sample weights or None)."""
        x, y, sample_weight = batches.unpack(element, kind, what)
        if y is None:
            raise ValueError(f"{what}: training and evaluating need targets, so each batch "
                             "must be (x, y) or (x, y, sample_weight); received "
                             f"{batches.describe(element)}")
        xs, y_shapes, targets = self._prepare_xy(x, y, what)
        # (Keras maps a Dataset's labels to class weights held in float32)
        weights = self._sample_weights(sample_weight, class_weight, targets, len(xs[0]), what,
                                       np.float32)
        return xs, y_shapes, targets, weights

    def _first_batch_shapes(self, source, class_weight, what):
        """What Keras's fit does before training: take the first batch of a fresh pass and
        prepare it, which builds a model not built yet (so callbacks see it built), checks the
        batches' form early, and gives the targets' shapes (which 'accuracy' needs). None when
        the source yields nothing (the epochs then log nothing, as in Keras)."""
        element = source.first(_NOTHING)
        if element is _NOTHING:
            if not self.built:
                raise ValueError(f"{what}: x (a {source.kind}) yielded no batches, so model "
                                 f"{self.name!r} cannot be built from them")
            return None
        return self._prepare_batch(element, source.kind, f"{what} (batch 0 of the "
                                   f"{source.kind})", class_weight)[1]

    # ---- evaluate / predict ---------------------------------------------------------
    def _evaluate_batches(self, iterator, y_shapes, hooks, what, verbose=0):
        """Loss and metrics over one pass of `iterator` (evaluate, and fit's validation):
        {} when no batch came (as Keras). `y_shapes`: None when the batches are elements
        still to prepare (the metrics are then made at the first one)."""
        iterator.reset()
        source = iterator.source
        trackers = metric_objs = regularized = None
        if y_shapes is not None:
            trackers, metric_objs = self._loss_trackers(), self._new_metrics(y_shapes)
            regularized = self._regularized()
        bar = _progress_bar(iterator.num_batches, verbose) if verbose else None
        evaluated = False
        try:
            for step, batch in iterator.epoch():
                if hooks:
                    hooks.call("on_test_batch_begin", step, {})
                if source.prepared:
                    x_batch, t_batch, w_batch = batch
                else:
                    x_batch, shapes, t_batch, w_batch = self._prepare_batch(
                        batch, source.kind, f"{what} (batch {step} of the {source.kind})")
                    if trackers is None:    # (the first batch built the model if need be)
                        trackers, metric_objs = self._loss_trackers(), self._new_metrics(shapes)
                        regularized = self._regularized()
                total, values, outputs = self._test_step(x_batch, t_batch, w_batch,
                                                         regularized)
                evaluated = True
                self._update_logs(trackers, metric_objs, total, values, outputs, t_batch,
                                  len(x_batch[0]))
                if hooks:
                    hooks.call("on_test_batch_end", step, _logs(trackers, metric_objs))
                if bar:
                    bar.advance(step + 1, _logs(trackers, metric_objs))
        finally:
            iterator.close()
        logs = _logs(trackers, metric_objs) if evaluated else {}
        if bar:
            bar.close(logs)
        return logs

    def _test_step(self, xs, targets, weights, regularized):
        """The model in inference on one batch: (total loss with the penalties, per-output
        losses, outputs), nothing updated."""
        with context.collecting_losses() as extra:
            outputs, state = self._run(xs, training=False, record=False)
        total, values, _, _ = self._losses(targets, outputs, state, False, weights)
        if extra or regularized:
            total = _add_penalties(total, self._penalties(extra, regularized))
        return total, values, outputs

    @limits_threads
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False):
        """Loss (and metrics) on (x, y): a float, or [loss, metric, ...] when metrics exist.
        `x` may also be a Dataset / generator of (x, y[, sample_weight]) batches; `steps`:
        evaluate only that many batches."""
        self._require_compiled("evaluate")
        verbose = _check_verbose(verbose, "evaluate")
        steps = batches.check_steps(steps, "steps", "evaluate")
        source = batches.batches_from(x, y, sample_weight, None, False, "evaluate")
        y_shapes = None
        if source is None:
            xs, y_shapes, targets = self._prepare_xy(x, y, "evaluate")
            weights = self._sample_weights(sample_weight, None, targets, len(xs[0]),
                                           "evaluate")
            source = batches.ArrayBatches(
                xs, targets, weights,
                batches.array_batch_size(batch_size, steps, len(xs[0]), "evaluate"), False)
        iterator = batches.EpochIterator(source, steps)
        hooks = CallbackList(callbacks, model=self, verbose=verbose, epochs=1,
                             steps=iterator.num_batches)
        hooks.call("on_test_begin", {})
        logs = self._evaluate_batches(iterator, y_shapes, hooks, "evaluate", verbose)
        hooks.call("on_test_end", logs)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    @limits_threads
    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
        """Model outputs for x, computed batch by batch (default 32, as Keras); a list of
        arrays for a model with several outputs. `x` may also be a Dataset / generator of
        batches (x, (x,), or (x, y, ...) whose y is ignored); `steps`: only that many."""
        verbose = _check_verbose(verbose, "predict")
        steps = batches.check_steps(steps, "steps", "predict")
        source = batches.batches_from(x, None, None, None, False, "predict")
        if source is None:
            xs = self._prepare_x(x, "predict")
            source = batches.ArrayBatches(
                xs, [], None, batches.array_batch_size(batch_size, steps, len(xs[0]),
                                                       "predict"), False)
        iterator = batches.EpochIterator(source, steps)
        hooks = CallbackList(callbacks, model=self, verbose=verbose, epochs=1,
                             steps=iterator.num_batches)
        hooks.call("on_predict_begin", {})
        parts = []          # per batch, the list of the model's outputs
        bar = _progress_bar(iterator.num_batches, verbose) if verbose else None
        try:
            for step, batch in iterator.epoch():
                hooks.call("on_predict_batch_begin", step, {})
                if source.prepared:
                    x_batch = batch[0]
                else:
                    what = f"predict (batch {step} of the {source.kind})"
                    x_batch = self._prepare_x(batches.unpack(batch, source.kind, what)[0],
                                              what)
                outputs, _ = self._run(x_batch, training=False, record=False)
                parts.append(outputs)
                hooks.call("on_predict_batch_end", step, {})
                if bar:
                    bar.advance(step + 1, {})
        finally:
            iterator.close()
        if not parts:
            raise ValueError(f"predict: x (a {source.kind}) yielded no batches, so there is "
                             "nothing to predict")
        if bar:
            bar.close({})
        hooks.call("on_predict_end", {})
        # in the output layers' dtype, as Keras returns them
        results = [p[0] if len(parts) == 1 else np.concatenate(p) for p in zip(*parts)]
        return self._pack_outputs(results)

    # ---- tf.keras 2's generator methods (Coursera C1 W4: model.fit_generator(...)) ----------
    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1,
                      callbacks=None, validation_data=None, validation_steps=None,
                      validation_freq=1, class_weight=None, max_queue_size=10, workers=1,
                      use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """tf.keras 2's `fit_generator`, which Keras 3 removed: `fit` on the generator (a
        Python generator, a Sequence / PyDataset such as `flow_from_directory`'s iterator,
        or a Dataset), with a deprecation warning. `max_queue_size`, `workers` and
        `use_multiprocessing` are accepted (see data/py_dataset.py for how batches load)."""
        _deprecated("fit_generator", "fit")
        if validation_freq != 1:
            raise ValueError("fit_generator: validation_freq other than 1 is not supported")
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs,
                        verbose=verbose, callbacks=callbacks, validation_data=validation_data,
                        validation_steps=validation_steps, class_weight=class_weight,
                        shuffle=shuffle, initial_epoch=initial_epoch)

    def evaluate_generator(self, generator, steps=None, callbacks=None, max_queue_size=10,
                           workers=1, use_multiprocessing=False, verbose=0):
        """tf.keras 2's `evaluate_generator`: `evaluate` on the generator, with a warning."""
        _deprecated("evaluate_generator", "evaluate")
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator, steps=None, callbacks=None, max_queue_size=10,
                          workers=1, use_multiprocessing=False, verbose=0):
        """tf.keras 2's `predict_generator`: `predict` on the generator, with a warning."""
        _deprecated("predict_generator", "predict")
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_classes(self, x, batch_size=None, verbose=0):
        """tf.keras 2's (since removed) `predict_classes`, which Python ML ch. 13 still calls:
        the argmax class per sample, or (p > 0.5) as int32 for a single sigmoid output."""
        probabilities = self.predict(x, batch_size=batch_size, verbose=verbose)
        if probabilities.shape[-1] > 1:
            return probabilities.argmax(axis=-1)
        return (probabilities > 0.5).astype("int32")

    def _call_eager(self, inputs, training):
        """`model(x)`: the outputs for x (inference unless training=True)."""
        xs = self._prepare_x(inputs, "call")
        outputs, _ = self._run(xs, training=bool(training), record=False)
        return self._pack_outputs(outputs)

    def save_weights(self, filepath, overwrite=True):
        """Write the weights to `filepath`: '*.weights.h5' in Keras 3's layout, '*.h5' in the
        legacy one tf.keras 2 wrote (scratchnet/saving/weights_h5.py)."""
        from scratchnet.saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Read weights written by `save_weights` (scratchnet's or Keras's): all of them, or
        none and a ValueError saying what does not fit."""
        from scratchnet.saving import load_weights

        load_weights(self, filepath)

    # ---- saving the whole model (scratchnet/saving/) -------------------------------------
    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Write the whole model -- architecture, weights, compile settings, optimizer
        state -- to `filepath`: 'm.keras' (Keras 3's zip) or 'm.h5' (the legacy HDF5 file
        that tf.keras 2 wrote and the lectures use). Read it back with
        `keras.models.load_model(filepath)` (scratchnet's or Keras's)."""
        from scratchnet.saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer,
                   **kwargs)

    def to_json(self, **kwargs):
        """The model's architecture as JSON (Keras's format; no weights):
        `keras.models.model_from_json(text)` rebuilds it."""
        import json

        from scratchnet.saving.serialization import serialize_keras_object

        return json.dumps(serialize_keras_object(self), **kwargs)

    def get_compile_config(self):
        """The arguments of `compile`, serialized (Keras writes them into saved models)."""
        if not self.compiled:
            return None
        from scratchnet.saving.serialization import serialize_keras_object

        loss, loss_weights, metrics = self._compile_args
        return {"optimizer": serialize_keras_object(self.optimizer),
                "loss": serialize_keras_object(loss),
                "loss_weights": serialize_keras_object(loss_weights),
                "metrics": serialize_keras_object(metrics), "weighted_metrics": None,
                "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False}

    def compile_from_config(self, config):
        """`compile` again from `get_compile_config()`'s dict (scratchnet's or Keras's)."""
        if not isinstance(config, dict):
            raise ValueError(f"compile_from_config: expected a dict, received {config!r}")
        if config.get("weighted_metrics"):
            raise ValueError("compile_from_config: the saved model uses weighted_metrics "
                             f"{config['weighted_metrics']!r}, which scratchnet does not "
                             "support yet")
        self.compile(optimizer=config.get("optimizer") or "rmsprop", loss=config.get("loss"),
                     metrics=config.get("metrics"), loss_weights=config.get("loss_weights"))

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A subclassed model from its config: cls(**config). Keras requires a subclass whose
        __init__ takes arguments to return them from get_config (and the base's keys: name,
        trainable, dtype, which Model's __init__ takes)."""
        try:
            return super().from_config(config)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{cls.__name__}.from_config: cannot construct the model from its saved "
                f"config {config} ({error}). Define get_config() returning the arguments of "
                f"{cls.__name__}.__init__ (and let __init__ pass **kwargs such as name to "
                "super().__init__), or build the model in code and call "
                "load_weights(file): .keras, .h5 and .weights.h5 files all hold its weights"
            ) from None

    def build_from_config(self, config):
        shape = (config or {}).get("input_shape")
        if shape is not None and not self.built:
            self.build(_as_shapes(shape))    # (JSON's lists: one shape, or one per input)

    def summary(self, print_fn=None, line_length=None, positions=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        from scratchnet.models.summary import format_summary

        (print_fn or print)(format_summary(self))


def _deprecated(old, new):
    warnings.warn(f"`Model.{old}` is deprecated and will be removed in a future version. "
                  f"Please use `Model.{new}`, which supports generators.", DeprecationWarning,
                  stacklevel=3)


def _per_row(w, rows):
    """Sample weights (n,) for `rows` loss values (n, or n times the extra output axes)."""
    return w if w.size == rows else np.repeat(w, rows // w.size)


def _add_penalties(total, penalties):
    """Keras's total: the compiled loss, then each extra loss (`model.losses`) added."""
    for penalty in penalties:
        total = total + penalty.astype(total.dtype, copy=False)
    return total


def _class_weights(target, class_weight, dtype):
    """Keras's class_weight_to_sample_weights: each sample gets the weight of its class
    (argmax of a one-hot row, else the rounded label), 1.0 for a class not in the dict."""
    labels = np.asarray(target)
    if labels.ndim > 1:
        labels = labels.argmax(axis=-1) if labels.shape[-1] != 1 else labels[..., 0]
    labels = np.round(labels).astype(np.int32).reshape(len(target), -1)[:, 0]
    table = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([table.get(int(c), 1.0) for c in labels], dtype=dtype)


def _logs_result(logs, return_dict):
    """Keras's *_on_batch result: the logs dict, or their values ([loss, metric, ...], or
    the loss alone)."""
    logs = {k: float(v) for k, v in logs.items()}
    if return_dict:
        return logs
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _logs(trackers, metric_objs):
    logs = {name: tracker._value() for name, _, tracker in trackers}
    for name, metric in metric_objs:
        logs[name] = metric._value()
    return logs


def _as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _flat_metrics(metrics):
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        return [m for v in metrics.values() for m in _as_list(v)]
    if isinstance(metrics, (list, tuple)):
        return [m for v in metrics for m in _as_list(v)]
    return [metrics]


def _per_output(value, names, what, allow_single):
    """compile's `value` (one for all, a list, or a dict by output name) as one per output."""
    n = len(names)
    if isinstance(value, dict):
        unknown = set(value) - set(names)
        if unknown:
            raise ValueError(f"compile: {what} names {sorted(unknown)} are not outputs of the "
                             f"model; its outputs are {names}")
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"compile: {what} is a list of {len(value)} but the model has "
                             f"{n} outputs {names}")
        return list(value)
    return [value] * n


def _split_inputs(x, specs, count, what):
    """x (an array, a list of arrays, or a dict by input name) as a list per model input.
    `count`: how many inputs the model has (None: not known yet, for a subclassed model
    that has not run; then a list of arrays is several inputs, as in Keras)."""
    if x is None:
        raise ValueError(f"{what}: x is required, received None")
    if isinstance(x, dict):
        names = [name for name, _ in specs] if specs is not None else []
        if specs is None or any(name is None for name in names) or any(
                name not in x for name in names):
            raise TypeError(f"{what}: x is a dict with keys {sorted(map(str, x))}, which are "
                            f"not the names of the model's inputs {names}: pass an array (a "
                            "list of arrays for several inputs) or a dict by input name")
        return [x[name] for name in names]
    arrays = isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(a, np.ndarray) for a in x)
    if count == 1 or (count is None and not arrays):
        # a list of numbers is one array (predict([10.0])); [array] is that array
        return [x[0]] if arrays and len(x) == 1 else [x]
    if not isinstance(x, (list, tuple)) or len(x) != (count or len(x)):
        names = [name for name, _ in specs] if specs else []
        raise ValueError(f"{what}: the model has {count} inputs {names}: pass a list of "
                         f"{count} arrays (or a dict by input name)")
    return list(x)


def _split_targets(y, specs, what):
    """y (an array, a list, or a dict by output name) as one entry per model output (None
    for outputs without a loss)."""
    names = [s.name for s in specs]
    with_loss = [i for i, s in enumerate(specs) if s.loss is not None]
    if isinstance(y, dict):
        missing = [names[i] for i in with_loss if names[i] not in y]
        if missing:
            raise ValueError(f"{what}: y has no targets for output(s) {missing}; received "
                             f"keys {sorted(y)}")
        return [y.get(name) for name in names]
    if len(specs) == 1:
        if isinstance(y, (list, tuple)) and len(y) == 1 and hasattr(y[0], "shape"):
            y = y[0]
        return [y]
    if not isinstance(y, (list, tuple)):
        raise ValueError(f"{what}: the model has {len(specs)} outputs {names}: y must be a "
                         "list with one array per output (or a dict by output name)")
    if len(y) == len(specs):
        return list(y)
    if len(y) == len(with_loss):
        out = [None] * len(specs)
        for i, yi in zip(with_loss, y):
            out[i] = yi
        return out
    raise ValueError(f"{what}: y holds {len(y)} arrays but the model has {len(specs)} "
                     f"outputs {names} ({len(with_loss)} with a loss)")

"""scratchnet <-> tf.keras: the same model on both sides, of every kind.

`to_keras(model)` builds the tf.keras twin of a scratchnet model:

* a Sequential becomes a keras.Sequential of the same layers; a Functional model a
  keras.Model of the same graph (every layer call, shared layers shared, arithmetic on
  tensors as keras.ops, nested models as nested twins); a subclassed model a Functional
  keras.Model of the graph its `call` traces (one forward pass on zeros, recorded on the
  tape: the same layers called in the same way);
* the same layers with the same configuration, by ONE mapping in both directions: each
  layer's saved config (scratchnet/saving/serialization.py writes and reads Keras 3's own
  format: class name, arguments, initializers, regularizers, constraints) read by the other
  library; options one side lacks (Keras's groups, renorm, channels_first, ...) are refused by
  name; same layer and model names;
* the same dtype: every Keras layer (and the Input) gets `dtype=model.dtype`, so a float64
  scratchnet model becomes a float64 Keras model whatever `keras.backend.floatx()` is;
* the same weights (set layer by layer), built under `reference.device()`;
* compiled the same way when the scratchnet model is compiled: the optimizer rebuilt from
  `optimizer.get_config()` (a legacy `decay` becomes `InverseTimeDecay(lr, decay_steps=1,
  decay_rate=decay)`, see `keras_optimizer` for float64), the loss(es) with `from_logits`,
  the loss weights, the metrics under the names given.

Keras creates its loss tracker and metric accumulators in `keras.backend.floatx()` (when
`compile`/`fit` run), not in the layers' dtype; for History values to agree with a float64
scratchnet model to 1e-9, floatx must be float64 during compile and fit as well. Use
`floatx_scope(dtype)`, which sets scratchnet's and Keras's floatx together and restores both.

The twin is compiled with `jit_compile=False` by default, i.e. plain TensorFlow graphs with
the op-by-op Keras semantics. That is what Keras's 'auto' picks on a CPU-only machine anyway;
on a GPU, 'auto' would mean XLA, whose fused kernels may reorder reductions and so move
results in the last bits. On CPU an XLA twin still agrees with scratchnet to ~1e-16 in float64
(tests/test_model_parity.py checks one model), but the reference should not depend on what
the compiler fuses on a given machine. Pass `jit_compile=True` or 'auto' to choose otherwise.

`from_keras(keras_model)` goes the other way: a Keras Sequential or Functional model of
supported layers becomes a scratchnet one with the same graph, names, dtype and weights,
compiled the same way if the Keras model is compiled. Any other layer raises a ValueError
naming it.
"""
import contextlib
import warnings

import numpy as np

from scratchnet import backend as sn_backend
from scratchnet import layers as sn_layers
from scratchnet import losses as sn_losses
from scratchnet import metrics as sn_metrics
from scratchnet import optimizers as sn_optimizers
from scratchnet.optimizers import schedules as sn_schedules
from scratchnet.saving.serialization import (deserialize_keras_object, dtype_config,
                                             serialize_keras_object)
from scratchnet.engine.ops import Operation as SnOperation
from scratchnet.engine.tape import Tape as SnTape
from scratchnet.models import Functional, Model, Sequential
from reference.device import device, tensorflow

# ---------------------------------------------------------------------------------- helpers


def _keras():
    tensorflow()  # TF first: keras then picks the TensorFlow backend
    import keras

    return keras


@contextlib.contextmanager
def floatx_scope(dtype):
    """Set scratchnet's and Keras's floatx to `dtype` for the block; restore both after.

    Keras 3 also caches a global dtype *policy* (created from floatx the first time a layer
    asks for it) that `keras.backend.set_floatx` does not update; without resetting it, a
    layer built after switching floatx to float64 would still get float32 weights. So the
    policy is set to `dtype` as well, and restored (to "not yet created" if it was) after.
    """
    keras = _keras()
    from keras.src.backend.common import global_state

    name = np.dtype(dtype).name
    before_sn, before_k = sn_backend.floatx(), keras.backend.floatx()
    before_policy = global_state.get_global_attribute("dtype_policy", None)
    sn_backend.set_floatx(name)
    keras.backend.set_floatx(name)
    keras.config.set_dtype_policy(name)
    try:
        yield name
    finally:
        sn_backend.set_floatx(before_sn)
        keras.backend.set_floatx(before_k)
        global_state.set_global_attribute("dtype_policy", before_policy)


_OPTIMIZER_CLASSES = ("SGD", "RMSprop", "Adagrad", "Adadelta", "Adam")
_LOSS_CLASSES = {
    sn_losses.MeanSquaredError: "MeanSquaredError",
    sn_losses.MeanAbsoluteError: "MeanAbsoluteError",
    sn_losses.BinaryCrossentropy: "BinaryCrossentropy",
    sn_losses.CategoricalCrossentropy: "CategoricalCrossentropy",
    sn_losses.SparseCategoricalCrossentropy: "SparseCategoricalCrossentropy",
}
_METRIC_CLASSES = {
    sn_metrics.BinaryAccuracy: "BinaryAccuracy",
    sn_metrics.CategoricalAccuracy: "CategoricalAccuracy",
    sn_metrics.SparseCategoricalAccuracy: "SparseCategoricalAccuracy",
    sn_metrics.MeanAbsoluteError: "MeanAbsoluteError",
    sn_metrics.MeanSquaredError: "MeanSquaredError",
}

# ---------------------------------------------------------------------------------- to_keras


def _keras_layer(keras, layer, dtype):
    """The Keras layer of the same class and configuration: the layer's saved config
    (scratchnet/saving/serialization.py, Keras's own format) read by Keras, in `dtype`.
    One mapping for both directions (`_sn_layer` reads Keras's config the same way)."""
    config = serialize_keras_object(layer)
    config["config"]["dtype"] = dtype_config(dtype)
    config.pop("build_config", None)
    try:
        return keras.layers.deserialize(config)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"to_keras: layer {layer.name!r} ({type(layer).__name__}) is not "
                         f"supported by Keras: {error}") from None


def keras_optimizer(optimizer, dtype="float32"):
    """The Keras optimizer with the same hyper-parameters as a scratchnet optimizer.

    A legacy `decay` becomes `InverseTimeDecay(lr, decay_steps=1, decay_rate=decay)`, i.e.
    lr / (1 + decay * iterations). Given a Python float `lr`, that schedule computes in
    float32 whatever the model's dtype (`ops.convert_to_tensor(0.01)` is a float32 tensor), so
    a float64 model would step with a float32-rounded rate (~5e-8 relative off). scratchnet
    keeps the rate in the variables' dtype, as Keras does for a plain float learning rate, so
    for float64 the schedule gets `lr` as a float64 tensor. `decay` stays a Python float:
    Keras's `ops.cast(decay_rate, 'float64')` rounds it through float32, and scratchnet's
    optimizers round it the same way (`keras_cast`). For float32 this is the plain mapping.
    """
    tf, keras = tensorflow(), _keras()
    cls_name = type(optimizer).__name__
    if cls_name not in _OPTIMIZER_CLASSES:
        raise ValueError(f"to_keras: optimizer {optimizer!r} has no Keras equivalent")
    config = dict(optimizer.get_config())
    decay = config.pop("decay", 0.0) or 0.0
    if decay:
        lr = config["learning_rate"]
        if np.dtype(dtype) != np.float32:
            lr = tf.constant(lr, dtype=dtype)
        config["learning_rate"] = keras.optimizers.schedules.InverseTimeDecay(
            lr, decay_steps=1, decay_rate=decay)
    return getattr(keras.optimizers, cls_name).from_config(config)   # (a schedule: a dict)


def keras_loss(loss, dtype=None):
    keras = _keras()
    cls_name = _LOSS_CLASSES.get(type(loss))
    if cls_name is None:
        raise ValueError(f"to_keras: loss {loss!r} has no Keras equivalent")
    kwargs = {"dtype": dtype}
    if cls_name not in ("MeanSquaredError", "MeanAbsoluteError"):
        kwargs["from_logits"] = loss.from_logits
    return getattr(keras.losses, cls_name)(**kwargs)


def _keras_metric(keras, metric):
    if isinstance(metric, str):
        return metric
    cls_name = _METRIC_CLASSES.get(type(metric))
    if cls_name is None:
        raise ValueError(f"to_keras: metric {metric!r} has no Keras equivalent")
    return getattr(keras.metrics, cls_name)(name=metric.name)


def _keras_op(keras, op, operands):
    """A scratchnet arithmetic operation (engine/ops.py) as the keras.ops call."""
    args = list(operands)
    for position, value in sorted(op.constants.items()):
        args.insert(position, value)
    if op.kind == "negative":
        return keras.ops.negative(args[0])
    if op.kind == "getitem":
        return args[0][op.key]
    return getattr(keras.ops, op.kind)(args[0], args[1])


class _Twins:
    """The Keras twin of each scratchnet layer (made once: a shared layer stays shared)."""

    def __init__(self, keras, dtype):
        self.keras, self.dtype, self.twins = keras, dtype, {}

    def call(self, layer, inputs):
        """The twin of `layer` applied to Keras tensors (a list for merge layers)."""
        if isinstance(layer, SnOperation):
            return _keras_op(self.keras, layer, inputs)
        twin = self.twins.get(id(layer))
        if twin is None:
            twin = self.twins[id(layer)] = (
                _keras_model(self.keras, layer, self.dtype, self) if isinstance(layer, Model)
                else _keras_layer(self.keras, layer, layer.dtype or self.dtype))
        return twin(inputs if layer._takes_list() else inputs[0])

    def copy_weights(self, model):
        for layer in _leaf_layers(model):
            twin = self.twins.get(id(layer))
            if twin is not None and layer.weights:
                twin.set_weights(layer.get_weights())


def _leaf_layers(model):
    found = []
    for layer in model.layers:
        found += _leaf_layers(layer) if isinstance(layer, Model) else [layer]
    return found


def _keras_inputs(keras, tensors, dtype):
    return [keras.Input(shape=tuple(x.shape[1:]), dtype=x.dtype or dtype, name=x.name,
                        batch_size=x.shape[0]) for x in tensors]


def _keras_graph(keras, graph, dtype, twins):
    """(Keras inputs, outputs) of a scratchnet graph (models/functional.py's GraphData)."""
    inputs = _keras_inputs(keras, graph.inputs, dtype)
    mapped = {id(x): k for x, k in zip(graph.inputs, inputs)}
    for depth in sorted(graph.nodes_by_depth, reverse=True):
        for node in graph.nodes_by_depth[depth]:
            if node.is_input:
                continue
            out = twins.call(node.layer, [mapped[id(x)] for x in node.input_tensors])
            for x, k in zip(node.outputs, out if node.multi else [out]):
                mapped[id(x)] = k
    return inputs, [mapped[id(x)] for x in graph.outputs]


def _keras_traced(keras, model, dtype, twins):
    """(Keras inputs, outputs) of the graph a subclassed model's `call` traces."""
    if model._traced_shapes is None:
        raise ValueError(f"to_keras: the subclassed model {model.name!r} has not run yet; "
                         "build it first (model.build(input_shape), or call it on data)")
    shapes = model._traced_shapes["inputs"]
    xs = [np.zeros((1,) + tuple(s[1:]), dtype) for s in shapes]
    tape = SnTape(model.name, record=True)
    out_ids, _ = model._trace_call(tape, xs, training=False, inputs_need_grad=True)
    inputs = [keras.Input(shape=tuple(s[1:]), dtype=dtype) for s in shapes]
    mapped = dict(zip(range(len(xs)), inputs))
    for layer, ids, outs, *_ in tape.entries:
        for i in ids:
            if i not in mapped:                   # a constant the call used
                mapped[i] = keras.ops.convert_to_tensor(tape.values[i])
        out = twins.call(layer, [mapped[i] for i in ids])
        for i, k in zip(outs, out if isinstance(out, (list, tuple)) else [out]):
            mapped[i] = k
    return inputs, [mapped[i] for i in out_ids]


def _keras_model(keras, model, dtype, twins):
    """The Keras twin of a scratchnet model (uncompiled, weights not yet copied)."""
    if isinstance(model, Sequential) and len({id(x) for x in model.layers}) == len(model.layers):
        parts = []
        if model.built:
            parts.append(keras.Input(shape=tuple(model.input_shape[1:]), dtype=dtype))
        for layer in model.layers:
            twin = (_keras_model(keras, layer, dtype, twins) if isinstance(layer, Model)
                    else _keras_layer(keras, layer, layer.dtype or dtype))
            twins.twins[id(layer)] = twin
            parts.append(twin)
        return keras.Sequential(parts, name=model.name)
    if model._graph is not None:     # (a Sequential with a layer used twice: a graph too)
        inputs, outputs = _keras_graph(keras, model._graph, dtype, twins)
        structure = model._graph.output_struct
    else:
        inputs, outputs = _keras_traced(keras, model, dtype, twins)
        structure = outputs if model._returns_list() else outputs[0]
    if isinstance(structure, dict):
        outputs = dict(zip(model._graph.output_names, outputs))
    elif isinstance(structure, (list, tuple)):
        outputs = list(outputs)
    elif len(outputs) == 1:
        outputs = outputs[0]
    if model._graph is not None and isinstance(model._graph.input_struct, dict):
        inputs = dict(zip(model._graph.input_names, inputs))
    elif len(inputs) == 1:
        inputs = inputs[0]
    return keras.Model(inputs, outputs, name=model.name)


def _keras_compile_args(keras, model, dtype):
    loss, loss_weights, metrics = model._compile_args

    def one_loss(item):
        return None if item is None else keras_loss(sn_losses.get(item), dtype)

    def metric_list(items):
        return None if items is None else [_keras_metric(keras, m) for m in
                                           (items if isinstance(items, (list, tuple))
                                            else [items])]

    if isinstance(loss, dict):
        k_loss = {name: one_loss(v) for name, v in loss.items()}
    elif isinstance(loss, (list, tuple)):
        k_loss = [one_loss(v) for v in loss]
    else:
        k_loss = one_loss(loss)
    if isinstance(metrics, dict):
        k_metrics = {name: metric_list(v) for name, v in metrics.items()}
    elif isinstance(metrics, (list, tuple)) and any(isinstance(m, (list, tuple))
                                                    for m in metrics):
        k_metrics = [metric_list(m) or [] for m in metrics]
    else:
        k_metrics = metric_list(metrics) or None
    return {"loss": k_loss, "loss_weights": loss_weights, "metrics": k_metrics}


def to_keras(model, jit_compile=False):
    """The tf.keras twin of a scratchnet model (see the module docstring)."""
    if not isinstance(model, Model):
        raise TypeError(f"to_keras: expected a scratchnet model, received {model!r}")
    tf, keras = tensorflow(), _keras()
    dtype = model.dtype or sn_backend.floatx()
    if model.compiled and keras.backend.floatx() != dtype:
        warnings.warn(
            f"to_keras: the model is {dtype} but keras.backend.floatx() is "
            f"{keras.backend.floatx()!r}: Keras's loss and metric accumulators will use the "
            "latter (wrap the work in reference.floatx_scope(model.dtype))")
    with tf.device(device()):
        twins = _Twins(keras, dtype)
        twin = _keras_model(keras, model, dtype, twins)
        if model.built:
            twins.copy_weights(model)
        if model.compiled:
            twin.compile(optimizer=keras_optimizer(model.optimizer, dtype),
                         jit_compile=jit_compile, **_keras_compile_args(keras, model, dtype))
    return twin

# ---------------------------------------------------------------------------------- from_keras


def _dtype_name(keras_layer):
    dtype = getattr(keras_layer, "dtype", None)
    return np.dtype(getattr(dtype, "name", dtype) or "float32").name


def _sn_layer(keras, layer):
    """The scratchnet layer of the same class and configuration, read from the layer's
    Keras config (the mapping of `_keras_layer`, the other way)."""
    config = keras.layers.serialize(layer)
    config.pop("build_config", None)
    try:
        return deserialize_keras_object(config, "layers")
    except (ValueError, TypeError) as error:
        raise ValueError(f"from_keras: layer {layer.name!r} ({type(layer).__name__}) is not "
                         f"supported: {error}") from None


def _sn_optimizer(keras, optimizer):
    cls_name = type(optimizer).__name__
    if cls_name not in _OPTIMIZER_CLASSES:
        raise ValueError(f"from_keras: optimizer {cls_name} is not supported")
    config = optimizer.get_config()
    kwargs = {"name": config.get("name")}
    schedule = optimizer._learning_rate
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        if (type(schedule).__name__ == "InverseTimeDecay" and schedule.decay_steps == 1
                and not schedule.staircase):       # what to_keras makes of a legacy `decay`
            kwargs["learning_rate"] = float(schedule.initial_learning_rate)
            kwargs["decay"] = float(schedule.decay_rate)
        else:
            kwargs["learning_rate"] = sn_schedules.deserialize(
                keras.optimizers.schedules.serialize(schedule))
    else:
        lr = float(config["learning_rate"])
        lr_dtype = getattr(optimizer.learning_rate, "dtype", "float64")
        if np.dtype(getattr(lr_dtype, "name", lr_dtype)) == np.float32:
            # Keras keeps the rate in a float32 variable: recover the shortest decimal that
            # rounds to it (0.01, not 0.009999999776482582), as the user wrote it.
            lr = float(str(np.float32(lr)))
        kwargs["learning_rate"] = lr
    keys = {"SGD": ("momentum", "nesterov"),
            "RMSprop": ("rho", "momentum", "epsilon", "centered"),
            "Adagrad": ("initial_accumulator_value", "epsilon"),
            "Adadelta": ("rho", "epsilon"),
            "Adam": ("beta_1", "beta_2", "epsilon", "amsgrad")}[cls_name]
    for key in keys:
        kwargs[key] = config[key]
    for key in ("clipnorm", "clipvalue", "global_clipnorm"):
        if config.get(key) is not None:
            kwargs[key] = config[key]
    for key in ("weight_decay",):
        if config.get(key):
            raise ValueError(f"from_keras: optimizer option {key}={config[key]!r} is not supported")
    if config.get("use_ema"):
        raise ValueError("from_keras: optimizer option use_ema=True is not supported")
    return getattr(sn_optimizers, cls_name)(**kwargs)


def _sn_loss(keras, loss):
    if isinstance(loss, str):
        return sn_losses.get(loss)
    cls_name = type(loss).__name__
    for sn_cls, k_name in _LOSS_CLASSES.items():
        if k_name == cls_name:
            if sn_cls in (sn_losses.MeanSquaredError, sn_losses.MeanAbsoluteError):
                return sn_cls()
            return sn_cls(from_logits=loss.get_config().get("from_logits", False))
    raise ValueError(f"from_keras: loss {loss!r} is not supported")


def _sn_metric(metric):
    if isinstance(metric, str):
        return metric
    cls_name = type(metric).__name__
    for sn_cls, k_name in _METRIC_CLASSES.items():
        if k_name == cls_name:
            return sn_cls(name=metric.name)
    raise ValueError(f"from_keras: metric {metric!r} is not supported")


def _sn_graph(keras, keras_model, made):
    """(scratchnet inputs, outputs) of a Keras Functional model's graph."""
    inputs = []
    mapped = {}
    for k in keras_model.inputs:
        layer = k._keras_history[0]
        x = sn_layers.Input(shape=tuple(k.shape[1:]), dtype=_dtype_name(layer), name=layer.name,
                            batch_size=k.shape[0])
        mapped[id(k)] = x
        inputs.append(x)
    for depth in sorted(keras_model._nodes_by_depth, reverse=True):
        for node in keras_model._nodes_by_depth[depth]:
            op = node.operation
            if node.is_input or type(op).__name__ == "InputLayer":
                continue
            if not isinstance(op, keras.layers.Layer):      # x + y, x * 2, x[:, 1:] ...
                out = _sn_op(op, node, mapped)
            else:
                layer = made.get(id(op))
                if layer is None:
                    layer = made[id(op)] = _sn_model_or_layer(keras, op, made)
                args = [mapped[id(t)] for t in node.input_tensors]
                out = layer(args if layer._takes_list() else args[0])
            for t, x in zip(node.outputs, out if isinstance(out, list) else [out]):
                mapped[id(t)] = x
    return inputs, [mapped[id(t)] for t in keras_model.outputs]


_KERAS_OPS = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply",
              "Divide": "divide", "TrueDivide": "divide", "Negative": "negative",
              "GetItem": "getitem"}


def _sn_op(op, node, mapped):
    """A Keras op node (arithmetic on tensors) as the scratchnet operation on its tensors."""
    kind = _KERAS_OPS.get(type(op).__name__)
    if kind is None:
        raise ValueError(f"from_keras: the operation {op.name!r} ({type(op).__name__}) is not "
                         f"supported (supported: {sorted(_KERAS_OPS)})")
    args = list(node.arguments.args)
    if kind == "getitem":
        return mapped[id(args[0])][args[1]]
    if kind == "negative":
        return -mapped[id(args[0])]
    a, b = (mapped[id(v)] if id(v) in mapped else np.asarray(v) for v in args[:2])
    return {"add": lambda: a + b, "subtract": lambda: a - b, "multiply": lambda: a * b,
            "divide": lambda: a / b}[kind]()


def _sn_model_or_layer(keras, op, made):
    if isinstance(op, keras.Model):
        return _sn_model(keras, op, made)
    return _sn_layer(keras, op)


def _sn_model(keras, keras_model, made):
    if isinstance(keras_model, keras.Sequential):
        layers = list(keras_model.layers)
        dtypes = {_dtype_name(layer) for layer in layers}
        if len(dtypes) > 1:
            raise ValueError(f"from_keras: layers mix dtypes {sorted(dtypes)}; scratchnet "
                             "models have one dtype")
        model = Sequential(name=keras_model.name)
        model.dtype = dtypes.pop() if dtypes else keras.backend.floatx()
        converted = []
        for layer in layers:
            sn_layer = made[id(layer)] = _sn_model_or_layer(keras, layer, made)
            converted.append(sn_layer)
        try:
            input_shape = keras_model.input_shape if keras_model.built else None
        except (AttributeError, ValueError):
            input_shape = None
        if input_shape is not None:
            model.add(sn_layers.InputLayer(shape=tuple(input_shape[1:]), dtype=model.dtype))
        for layer in converted:
            model.add(layer)
        return model
    if type(keras_model).__name__ != "Functional":
        raise ValueError(f"from_keras: {type(keras_model).__name__} {keras_model.name!r} is a "
                         "subclassed Keras model: only Sequential and Functional models can be "
                         "converted")
    inputs, outputs = _sn_graph(keras, keras_model, made)
    out_struct = keras_model.output
    return Functional(inputs if len(inputs) > 1 else inputs[0],
                      outputs if isinstance(out_struct, (list, tuple)) else outputs[0],
                      name=keras_model.name)


def from_keras(keras_model):
    """The scratchnet model equivalent of a Keras Sequential or Functional model (see the
    module docstring)."""
    keras = _keras()
    if not isinstance(keras_model, keras.Model):
        raise TypeError(f"from_keras: expected a keras Model, received {keras_model!r}")
    made = {}
    model = _sn_model(keras, keras_model, made)
    if model.built:
        for op_id, layer in made.items():
            if isinstance(layer, Model) or not layer.weights:
                continue
            source = next(op for op in _keras_leaf_layers(keras, keras_model)
                          if id(op) == op_id)
            layer.set_weights([np.asarray(w, dtype=layer.dtype) for w in source.get_weights()])
    if getattr(keras_model, "compiled", False) and keras_model.optimizer is not None:
        loss = keras_model.loss
        metrics = getattr(keras_model, "_compile_metrics", None)
        names = list(getattr(metrics, "_user_metrics", None) or []) if metrics else []
        if isinstance(loss, (list, tuple)):
            sn_loss = [None if item is None else _sn_loss(keras, item) for item in loss]
        elif isinstance(loss, dict):
            sn_loss = {k: None if v is None else _sn_loss(keras, v) for k, v in loss.items()}
        else:
            sn_loss = _sn_loss(keras, loss)
        model.compile(optimizer=_sn_optimizer(keras, keras_model.optimizer), loss=sn_loss,
                      metrics=[_sn_metric(m) for m in names] or None)
    return model


def _keras_leaf_layers(keras, keras_model):
    found = []
    for layer in keras_model.layers:
        found += (_keras_leaf_layers(keras, layer) if isinstance(layer, keras.Model)
                  else [layer])
    return found

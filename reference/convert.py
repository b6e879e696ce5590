"""scratchnet <-> tf.keras: the same model on both sides, of every kind.

`to_keras(model)` builds the tf.keras twin of a scratchnet model:

* a Sequential becomes a keras.Sequential of the same layers; a Functional model a
  keras.Model of the same graph (every layer call, shared layers shared, arithmetic on
  tensors as keras.ops, nested models as nested twins); a subclassed model a Functional
  keras.Model of the graph its `call` traces (one forward pass on zeros, recorded on the
  tape: the same layers called in the same way);
* the same layers (Dense, Flatten, Activation, ReLU, Softmax, Conv2D, MaxPooling2D,
  AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Dropout (rate, noise_shape,
  seed: TensorFlow draws its own masks), BatchNormalization (axis, momentum, epsilon,
  center, scale, initializers, gamma/beta regularizers and constraints), Add, Subtract, Multiply,
  Average, Maximum, Minimum, Concatenate, Reshape, Permute, ZeroPadding2D, Cropping2D,
  UpSampling2D) with the same configuration (units / filters, kernel_size, strides, padding,
  dilation_rate, pool_size, keepdims, activation names, use_bias, initializer names, ReLU's
  max_value, axes, shapes; data_format is always channels_last) and the same layer and model
  names;
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

from scratchnet import activations as sn_activations
from scratchnet import backend as sn_backend
from scratchnet import initializers as sn_initializers
from scratchnet import layers as sn_layers
from scratchnet import losses as sn_losses
from scratchnet import metrics as sn_metrics
from scratchnet import optimizers as sn_optimizers
from scratchnet.optimizers import schedules as sn_schedules
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
_ACTIVATION_NAMES = ("linear", "relu", "sigmoid", "tanh", "softmax")
_SUPPORTED = ("Dense, Flatten, Activation, ReLU, Softmax, Conv2D, MaxPooling2D, "
              "AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, Dropout, "
              "BatchNormalization, Add, Subtract, "
              "Multiply, Average, Maximum, Minimum, Concatenate, Reshape, Permute, "
              "ZeroPadding2D, Cropping2D, UpSampling2D, InputLayer, nested models")
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")

# ---------------------------------------------------------------------------------- to_keras


def _keras_initializer(keras, init, where):
    name = sn_initializers.name_of(init)
    if isinstance(init, sn_initializers.RandomNormal):
        return keras.initializers.RandomNormal(mean=init.mean, stddev=init.stddev, seed=init.seed)
    if isinstance(init, sn_initializers.RandomUniform):
        return keras.initializers.RandomUniform(minval=init.minval, maxval=init.maxval,
                                                seed=init.seed)
    if name is not None and getattr(init, "seed", None) is None:
        return name
    if name is not None:
        return keras.initializers.get({"class_name": type(init).__name__,
                                       "config": {"seed": init.seed}})
    warnings.warn(f"to_keras: {where}: initializer {init!r} has no Keras equivalent; the twin "
                  "uses 'glorot_uniform' (weights are copied, so only its config differs)")
    return "glorot_uniform"


def _keras_layer(keras, layer, dtype):
    common = {"name": layer.name, "dtype": dtype, "trainable": layer.trainable}
    kind = type(layer)
    if kind is sn_layers.Dense:
        return keras.layers.Dense(
            layer.units, activation=sn_activations.serialize(layer.activation),
            use_bias=layer.use_bias,
            kernel_initializer=_keras_initializer(keras, layer.kernel_initializer, layer.name),
            bias_initializer=_keras_initializer(keras, layer.bias_initializer, layer.name),
            **common)
    if kind is sn_layers.Flatten:
        return keras.layers.Flatten(**common)
    if kind is sn_layers.Softmax:
        return keras.layers.Softmax(axis=-1, **common)
    if kind is sn_layers.Activation:
        return keras.layers.Activation(sn_activations.serialize(layer.activation), **common)
    if kind is sn_layers.ReLU:
        return keras.layers.ReLU(max_value=layer.max_value, **common)
    if kind is sn_layers.Conv2D:
        return keras.layers.Conv2D(
            layer.filters, tuple(layer.kernel_size), strides=tuple(layer.strides),
            padding=layer.padding, data_format="channels_last",
            dilation_rate=tuple(layer.dilation_rate),
            activation=sn_activations.serialize(layer.activation), use_bias=layer.use_bias,
            kernel_initializer=_keras_initializer(keras, layer.kernel_initializer, layer.name),
            bias_initializer=_keras_initializer(keras, layer.bias_initializer, layer.name),
            **common)
    if kind in (sn_layers.MaxPooling2D, sn_layers.AveragePooling2D):
        return getattr(keras.layers, kind.__name__)(
            pool_size=tuple(layer.pool_size), strides=tuple(layer.strides),
            padding=layer.padding, data_format="channels_last", **common)
    if kind in (sn_layers.GlobalAveragePooling2D, sn_layers.GlobalMaxPooling2D):
        return getattr(keras.layers, kind.__name__)(
            data_format="channels_last", keepdims=layer.keepdims, **common)
    if kind.__name__ in _MERGES and kind is getattr(sn_layers, kind.__name__):
        return getattr(keras.layers, kind.__name__)(**common)
    if kind is sn_layers.Concatenate:
        return keras.layers.Concatenate(axis=layer.axis, **common)
    if kind is sn_layers.Reshape:
        return keras.layers.Reshape(layer.target_shape, **common)
    if kind is sn_layers.Permute:
        return keras.layers.Permute(layer.dims, **common)
    if kind is sn_layers.ZeroPadding2D:
        return keras.layers.ZeroPadding2D(layer.padding, data_format="channels_last", **common)
    if kind is sn_layers.Cropping2D:
        return keras.layers.Cropping2D(layer.cropping, data_format="channels_last", **common)
    if kind is sn_layers.UpSampling2D:
        return keras.layers.UpSampling2D(layer.size, data_format="channels_last",
                                         interpolation=layer.interpolation, **common)
    if kind is sn_layers.Dropout:
        return keras.layers.Dropout(layer.rate, noise_shape=layer.noise_shape, seed=layer.seed,
                                    **common)
    if kind is sn_layers.BatchNormalization:
        init = {f"{w}_initializer": _keras_initializer(keras, getattr(layer, f"{w}_initializer"),
                                                       layer.name)
                for w in ("beta", "gamma", "moving_mean", "moving_variance")}
        extra = {f"{w}_{what}": _keras_weight_extra(keras, getattr(layer, f"{w}_{what}"), what,
                                                    layer.name)
                 for w in ("beta", "gamma") for what in ("regularizer", "constraint")}
        return keras.layers.BatchNormalization(
            axis=layer.axis, momentum=layer.momentum, epsilon=layer.epsilon,
            center=layer.center, scale=layer.scale, **init, **extra, **common)
    raise ValueError(f"to_keras: layer {layer.name!r} of type {kind.__name__} is not supported "
                     f"(supported: {_SUPPORTED})")


def _keras_weight_extra(keras, value, what, where):
    """A scratchnet regularizer or constraint (BatchNormalization's gamma/beta ones) as the
    Keras object of the same class and config."""
    if value is None:
        return None
    module = getattr(keras, f"{what}s")
    try:
        return module.get({"class_name": type(value).__name__, "config": value.get_config()})
    except (ValueError, TypeError, AttributeError):
        raise ValueError(f"to_keras: {where}: {what} {value!r} is not supported") from None


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
    if cls_name != "MeanSquaredError":
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


def _activation_name(keras, fn, where):
    name = keras.activations.serialize(fn) if not isinstance(fn, str) else fn
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    if name not in _ACTIVATION_NAMES:
        raise ValueError(f"from_keras: {where}: activation {name!r} is not supported "
                         f"(supported: {', '.join(_ACTIVATION_NAMES)})")
    return name


def _sn_initializer(init, where):
    cls_name = type(init).__name__
    config = init.get_config() if hasattr(init, "get_config") else {}
    seed = config.get("seed")
    if cls_name == "RandomNormal":
        return sn_initializers.RandomNormal(config["mean"], config["stddev"], seed)
    if cls_name == "RandomUniform":
        return sn_initializers.RandomUniform(config["minval"], config["maxval"], seed)
    name = sn_initializers._snake(cls_name)
    if name not in sn_initializers._BY_NAME:
        raise ValueError(f"from_keras: {where}: initializer {cls_name} is not supported")
    cls = sn_initializers._BY_NAME[name]
    return cls() if name in ("zeros", "ones") else cls(seed=seed)


def _sn_layer(keras, layer):
    common = {"name": layer.name, "dtype": _dtype_name(layer), "trainable": layer.trainable}
    kind = type(layer).__name__
    where = f"layer {layer.name!r} ({kind})"
    if kind in ("Dense", "Conv2D"):
        for attr in ("kernel_regularizer", "bias_regularizer", "activity_regularizer",
                     "kernel_constraint", "bias_constraint", "lora_rank"):
            if getattr(layer, attr, None):
                raise ValueError(f"from_keras: {where}: {attr} is not supported")
    if kind == "Conv2D":
        _check_channels_last(layer, where)
        if getattr(layer, "groups", 1) != 1:
            raise ValueError(f"from_keras: {where}: only groups=1 is supported")
        return sn_layers.Conv2D(
            layer.filters, tuple(layer.kernel_size), strides=tuple(layer.strides),
            padding=layer.padding, dilation_rate=tuple(layer.dilation_rate),
            activation=_activation_name(keras, layer.activation, where),
            use_bias=layer.use_bias,
            kernel_initializer=_sn_initializer(layer.kernel_initializer, where),
            bias_initializer=_sn_initializer(layer.bias_initializer, where), **common)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        _check_channels_last(layer, where)
        return getattr(sn_layers, kind)(pool_size=tuple(layer.pool_size),
                                        strides=tuple(layer.strides), padding=layer.padding,
                                        **common)
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        _check_channels_last(layer, where)
        return getattr(sn_layers, kind)(keepdims=bool(layer.keepdims), **common)
    if kind == "Dense":
        return sn_layers.Dense(
            layer.units, activation=_activation_name(keras, layer.activation, where),
            use_bias=layer.use_bias,
            kernel_initializer=_sn_initializer(layer.kernel_initializer, where),
            bias_initializer=_sn_initializer(layer.bias_initializer, where), **common)
    if kind == "Flatten":
        return sn_layers.Flatten(**common)
    if kind == "Softmax":
        if layer.axis not in (-1, [-1], (-1,)):
            raise ValueError(f"from_keras: {where}: only axis=-1 is supported")
        return sn_layers.Softmax(**common)
    if kind == "Activation":
        return sn_layers.Activation(_activation_name(keras, layer.activation, where), **common)
    if kind == "ReLU":
        if float(layer.negative_slope) != 0.0 or float(layer.threshold) != 0.0:
            raise ValueError(f"from_keras: {where}: only negative_slope=0 and threshold=0 "
                             "are supported")
        max_value = None if layer.max_value is None else float(layer.max_value)
        return sn_layers.ReLU(max_value=max_value, **common)
    if kind == "Dropout":
        noise = None if layer.noise_shape is None else tuple(layer.noise_shape)
        return sn_layers.Dropout(float(layer.rate), noise_shape=noise, seed=layer.seed, **common)
    if kind == "BatchNormalization":
        if getattr(layer, "renorm", False) or getattr(layer, "synchronized", False):
            raise ValueError(f"from_keras: {where}: renorm and synchronized are not supported")
        init = {f"{w}_initializer": _sn_initializer(getattr(layer, f"{w}_initializer"), where)
                for w in ("beta", "gamma", "moving_mean", "moving_variance")}
        extra = {f"{w}_{what}": _sn_weight_extra(getattr(layer, f"{w}_{what}"), what, where)
                 for w in ("beta", "gamma") for what in ("regularizer", "constraint")}
        return sn_layers.BatchNormalization(
            axis=int(layer.axis), momentum=float(layer.momentum), epsilon=float(layer.epsilon),
            center=bool(layer.center), scale=bool(layer.scale), **init, **extra, **common)
    if kind in _MERGES:
        return getattr(sn_layers, kind)(**common)
    if kind == "Concatenate":
        return sn_layers.Concatenate(axis=layer.axis, **common)
    if kind == "Reshape":
        return sn_layers.Reshape(tuple(layer.target_shape), **common)
    if kind == "Permute":
        return sn_layers.Permute(tuple(layer.dims), **common)
    if kind in ("ZeroPadding2D", "Cropping2D", "UpSampling2D"):
        _check_channels_last(layer, where)
        if kind == "ZeroPadding2D":
            return sn_layers.ZeroPadding2D(tuple(map(tuple, layer.padding)), **common)
        if kind == "Cropping2D":
            return sn_layers.Cropping2D(tuple(map(tuple, layer.cropping)), **common)
        return sn_layers.UpSampling2D(tuple(layer.size), interpolation=layer.interpolation,
                                      **common)
    raise ValueError(f"from_keras: {where} is not supported (supported: {_SUPPORTED})")


def _sn_weight_extra(value, what, where):
    """A Keras regularizer or constraint as scratchnet's of the same class and config."""
    if value is None:
        return None
    from scratchnet import constraints as sn_constraints
    from scratchnet import regularizers as sn_regularizers

    module = sn_regularizers if what == "regularizer" else sn_constraints
    config = value.get_config() if hasattr(value, "get_config") else {}
    found = module.get({"class_name": type(value).__name__,
                        "config": {k: v for k, v in config.items() if k != "name"}},
                       f"from_keras: {where}: {what}") \
        if type(value).__name__ in module._BY_NAME else None
    if found is None:
        raise ValueError(f"from_keras: {where}: {what} {type(value).__name__} is not supported")
    return found


def _check_channels_last(layer, where):
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"from_keras: {where}: data_format={layer.data_format!r} is not "
                         "supported (scratchnet is channels_last only)")


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
            if sn_cls is sn_losses.MeanSquaredError:
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

"""Functional models: `Model(inputs, outputs)`, a graph of layer calls.

Lectures: Hands-On CV ch. 2 builds the MLP this way --

    model_input = Input(shape=input_shape)
    output = Flatten()(model_input)
    output = Dense(128, activation='relu')(output)
    output = Dense(num_classes, activation='softmax')(output)
    model = Model(model_input, output)

-- Python ML ch. 14 writes `output = Dense(1)(input); model = tf.keras.Model(input, output)`,
and Coursera C1 W3 reads a trained CNN's intermediate outputs with
`Model(inputs=model.input, outputs=[layer.output for layer in model.layers])`.

The graph is read once, when the model is made (engine/symbolic.py's `map_graph`: Keras's
order, Keras's errors), and laid out as a Plan (engine/graph.py) that fit / evaluate /
predict and the model's own forward/backward run. Several inputs and outputs are lists (or
dicts) of tensors; layers may be shared (one object called several times) and any tensor may
feed several layers.
"""
from scratchnet.engine import symbolic
from scratchnet.engine.graph import Plan
from scratchnet.layers.base import Layer
from scratchnet.models.model import Model


class GraphData:
    """A model's graph: inputs, outputs, layers in Keras's order, and the Plan to run it."""

    def __init__(self, inputs, outputs):
        self.input_struct, self.output_struct = inputs, outputs
        self.inputs, self.outputs = symbolic.flatten(inputs), symbolic.flatten(outputs)
        if not self.inputs:
            raise ValueError(f"Model: `inputs` cannot be empty, received inputs={inputs!r}")
        if not self.outputs:
            raise ValueError(f"Model: `outputs` cannot be empty, received outputs={outputs!r}")
        self.nodes_by_depth, self.layers = symbolic.map_graph(self.inputs, self.outputs)
        self.plan = Plan(self.inputs, self.outputs, self.nodes_by_depth)
        # outputs are named by the layers that make them, or by their keys in a dict
        self.output_names = (list(outputs) if isinstance(outputs, dict)
                             else [x._keras_history[0].name for x in self.outputs])
        self.input_names = (list(inputs) if isinstance(inputs, dict)
                            else [x.name for x in self.inputs])

    def output_shapes(self, input_shapes):
        shapes = input_shapes if isinstance(input_shapes, list) else [input_shapes]
        for x, shape in zip(self.inputs, shapes):
            expected = x.shape
            if len(shape) != len(expected) or any(
                    e is not None and s is not None and e != s
                    for e, s in zip(expected[1:], shape[1:])):
                raise ValueError(f"Input {x.name!r} of the model expects shape {expected}, "
                                 f"received {tuple(shape)}")
        out = [x.shape for x in self.outputs]
        return out if len(out) > 1 else out[0]


class Functional(Model):
    """A model defined by a graph of layer calls from `inputs` to `outputs`."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"Model: unknown keyword argument(s) {sorted(kwargs)}")
        if inputs is None or outputs is None:
            raise ValueError("Model(inputs, outputs): both are required, e.g. "
                             "Model(inputs=Input(shape=(4,)), outputs=Dense(1)(...))")
        for what, value in (("inputs", inputs), ("outputs", outputs)):
            for x in symbolic.flatten(value):
                if not isinstance(x, symbolic.KerasTensor):
                    raise ValueError(
                        f"Model: all `{what}` values must be symbolic tensors (from Input(...) "
                        f"and layer calls on them), received {x!r} of type {type(x).__name__}")
        graph = GraphData(inputs, outputs)
        Layer.__init__(self, name=name, trainable=trainable, dtype=graph.inputs[0].dtype)
        self._init_model()
        self._set_graph(graph)
        if not trainable:
            self.trainable = False

    # ---- saving: the graph as a config (Keras 3's format) ---------------------------------
    def get_config(self):
        """Keras's Functional config: every layer's config with the calls it receives
        (`inbound_nodes`: which layer's which call's which output goes in), and which
        tensors are the model's inputs and outputs."""
        return graph_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return graph_from_config(cls, config, custom_objects)


# ---------------------------------------------------------------------------- graph <-> config
def _kept_nodes(model):
    return {id(node) for nodes in model._graph.nodes_by_depth.values() for node in nodes}


def graph_config(model):
    from scratchnet.saving.serialization import serialize_keras_object

    graph, kept = model._graph, _kept_nodes(model)

    def node_index(layer, index):
        """A call's index among this model's calls of the layer (Keras renumbers them)."""
        nodes = [n for n in layer._inbound_nodes if id(n) in kept]
        return nodes.index(layer._inbound_nodes[index])

    def history(x):
        layer, index, tensor_index = x._keras_history
        return [layer.name, node_index(layer, index), tensor_index]

    def tensor(x):
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(x.shape), "dtype": x.dtype, "keras_history": history(x)}}

    def structure(value, leaf):
        if isinstance(value, dict):
            return {k: structure(v, leaf) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [structure(v, leaf) for v in value]
        return leaf(value)

    layers = []
    for layer in graph.layers:
        if layer._is_op:                         # x + y, x * 2, -x, x[:, :3]: Keras's ops
            layers.append(_op_config(layer, kept, tensor))
            continue
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": [[tensor(x) for x in node.input_tensors] if node.structure == "list"
                      else tensor(node.input_tensors[0])], "kwargs": {}}
            for node in layer._inbound_nodes if id(node) in kept and not node.is_input]
        layers.append(entry)
    return {"name": model.name, "trainable": model.trainable, "layers": layers,
            "input_layers": structure(graph.input_struct, history),
            "output_layers": structure(graph.output_struct, history)}


# Tensor arithmetic (engine/ops.py) is saved as Keras 3 saves its ops: an entry of module
# keras.src.ops.numpy whose call lists every operand, constants included.
_OP_CLASSES = {"add": "Add", "subtract": "Subtract", "multiply": "Multiply",
               "divide": "TrueDivide", "negative": "Negative", "getitem": "GetItem"}
_OP_KINDS = {**{v: k for k, v in _OP_CLASSES.items()}, "Divide": "divide"}


def _value_config(value):
    """A constant operand or an index as Keras serializes them (slices, ..., arrays)."""
    import numpy as np

    if isinstance(value, tuple):
        return [_value_config(v) for v in value]
    if isinstance(value, slice):
        return {"class_name": "__slice__",
                "config": {"start": value.start, "stop": value.stop, "step": value.step}}
    if value is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(value, (np.ndarray, np.generic)):
        if np.ndim(value) == 0:
            return value.item()
        return {"class_name": "__numpy__",
                "config": {"value": value.tolist(), "dtype": value.dtype.name}}
    return value


def _value_from_config(value):
    import numpy as np

    if isinstance(value, dict):
        kind, config = value.get("class_name"), value.get("config") or {}
        if kind == "__slice__":
            return slice(config.get("start"), config.get("stop"), config.get("step"))
        if kind == "__ellipsis__":
            return Ellipsis
        if kind == "__numpy__":
            return np.asarray(config["value"], dtype=config.get("dtype"))
        raise ValueError(f"cannot read the constant {value!r}")
    if isinstance(value, list):
        return tuple(_value_from_config(v) for v in value)
    return value


def _op_config(op, kept, tensor):
    node = next(n for n in op._inbound_nodes if id(n) in kept)
    operands = iter(node.input_tensors)
    arity = 1 if op.kind in ("negative", "getitem") else 2
    args = [_value_config(op.constants[p]) if p in op.constants else tensor(next(operands))
            for p in range(arity)]
    if op.kind == "getitem":
        args.append(_value_config(op.key))
    name = _OP_CLASSES[op.kind]
    return {"module": "keras.src.ops.numpy", "class_name": name, "config": {"name": op.name},
            "registered_name": name, "name": op.name,
            "inbound_nodes": [{"args": args, "kwargs": {}}]}


def _is_op_entry(entry):
    return (".ops" in str(entry.get("module")) and entry.get("class_name") in _OP_KINDS)


def _is_history(value):
    return (isinstance(value, (list, tuple)) and len(value) >= 3 and isinstance(value[0], str)
            and all(isinstance(v, int) for v in value[1:3]))


def graph_from_config(cls, config, custom_objects=None):
    """Rebuild the graph a `graph_config` describes: make every layer, then replay the calls
    (a call waits until the tensors it needs exist), then pick the inputs and outputs.
    Reads Keras 3's node format and tf.keras 2's ([[name, node, tensor, kwargs], ...])."""
    from scratchnet.layers.input_layer import InputLayer
    from scratchnet.saving.serialization import deserialize_keras_object

    where = f"{cls.__name__}.from_config"
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ValueError(f"{where}: expected a config with a 'layers' list, received "
                         f"{str(config)[:200]}")
    made, outputs_of, calls = {}, {}, []        # name -> layer, (name, call) -> tensors
    for entry in config["layers"]:
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: a layer entry must be a dict, received {entry!r}")
        if _is_op_entry(entry):
            layer = _OpRecipe(entry)
        else:
            layer = deserialize_keras_object(
                {k: v for k, v in entry.items() if k not in ("name", "inbound_nodes")},
                "layers", custom_objects, where)
        name = entry.get("name", layer.name)
        if name in made:
            raise ValueError(f"{where}: two layers are named {name!r}")
        made[name] = layer
        if isinstance(layer, InputLayer):
            outputs_of[(name, 0)] = [layer.output]
        for node in entry.get("inbound_nodes") or []:
            calls.append((name, node))

    def tensor_of(ref):
        name, index, tensor_index = ref[:3]
        found = outputs_of.get((name, index))
        if found is None:
            return None
        if tensor_index >= len(found):
            raise ValueError(f"{where}: layer {name!r} call {index} has no output "
                             f"{tensor_index}")
        return found[tensor_index]

    def refs_of(value):
        """The call's argument as a structure of [name, node, tensor] references."""
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return list(value["config"]["keras_history"])
        if isinstance(value, dict) and "args" in value:          # Keras 3: {"args": [x]}
            # Keras records mask=None, and training=False for Dropout & co. (which the
            # model's own training flag overrides when it runs): neither changes the call
            kwargs = {k: v for k, v in (value.get("kwargs") or {}).items()
                      if v is not None and k != "training"}
            if len(value["args"]) != 1 or kwargs:
                raise ValueError(f"{where}: a layer call with arguments {value!r} is not "
                                 "supported (one input tensor or one list of them)")
            return refs_of(value["args"][0])
        if _is_history(value):
            return list(value)
        if isinstance(value, (list, tuple)):                  # tf.keras 2: [[n, i, j, {}]]
            refs = [refs_of(v) for v in value]
            return refs[0] if len(refs) == 1 and _is_history(value[0]) else refs
        raise ValueError(f"{where}: cannot read the layer call {value!r}")

    def resolve(refs):
        if _is_history(refs):
            return tensor_of(refs)
        found = [resolve(r) for r in refs]
        return None if any(f is None for f in found) else found

    def op_arguments(node):
        """An operation's operands: tensors where they exist yet (else None), constants."""
        def decode(value):
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                found = tensor_of(value["config"]["keras_history"])
                if found is None:
                    raise LookupError
                return found
            return _value_from_config(value)
        try:
            return [decode(v) for v in node["args"]]
        except LookupError:
            return None

    made_calls = {name: (1 if isinstance(made[name], InputLayer) else 0) for name in made}
    while calls:
        waiting, progress = [], False
        for name, node in calls:
            blocked = any(n == name for n, _ in waiting)   # keep each layer's call order
            if isinstance(made[name], _OpRecipe) and not blocked:
                args = op_arguments(node)
                if args is None:
                    waiting.append((name, node))
                    continue
                outputs_of[(name, made_calls[name])] = [made[name].apply(args)]
                made_calls[name] += 1
                progress = True
                continue
            args = None if blocked else resolve(refs_of(node))
            if args is None:
                waiting.append((name, node))
                continue
            out = made[name](args)
            outputs_of[(name, made_calls[name])] = out if isinstance(out, list) else [out]
            made_calls[name] += 1
            progress = True
        if not progress:
            name, node = waiting[0]
            raise ValueError(f"{where}: the call of layer {name!r} on {refs_of(node)} needs "
                             "tensors no layer makes (a broken or incomplete graph)")
        calls = waiting

    def pick(value, what):
        if isinstance(value, dict):
            return {k: pick(v, what) for k, v in value.items()}
        if _is_history(value):
            found = tensor_of(value)
            if found is None:
                raise ValueError(f"{where}: {what} {value} is not a tensor of the graph")
            return found
        if isinstance(value, (list, tuple)):
            return [pick(v, what) for v in value]
        raise ValueError(f"{where}: cannot read {what} {value!r}")

    inputs = pick(config.get("input_layers"), "input")
    outputs = pick(config.get("output_layers"), "output")
    model = cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable",
                                                                                True))
    return model


class _OpRecipe:
    """A saved operation (x + y, -x, x[...]) waiting for its operands: applying it records
    the same Operation (engine/ops.py) a user's `x + y` records, under the saved name."""

    def __init__(self, entry):
        self.name, self.kind = entry.get("name"), _OP_KINDS[entry["class_name"]]

    def apply(self, args):
        from scratchnet.engine import ops

        if self.kind == "getitem":
            out = ops.getitem(args[0], args[1])
        elif self.kind == "negative":
            out = ops.unary("negative", args[0])
        else:
            out = ops.binary(self.kind, args[0], args[1])
        if self.name:
            out._keras_history[0].name = self.name
        return out

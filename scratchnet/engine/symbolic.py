"""Symbolic tensors and the graph of layer calls (Keras's Functional API).

    inputs = Input(shape=(28, 28))          # a KerasTensor: shape (None, 28, 28), no values
    x = Flatten()(inputs)                   # calling a layer on it records a Node
    outputs = Dense(10)(x)
    model = Model(inputs, outputs)          # walks the nodes back from outputs to inputs

A `KerasTensor` is a promise of an array: its shape (batch as None), dtype and where it comes
from (`_keras_history`: the layer, which of its calls -- node --, which of that call's
outputs). Calling a layer on KerasTensors computes no numbers: it builds the layer for the
input shape, works out the output shape, and appends a `Node` to the layer's
`_inbound_nodes`. A layer called three times has three nodes; its weights are the same in
all of them -- that is what a shared layer is.

`map_graph` is Keras's own algorithm (keras/src/ops/function.py), ported so that the order
of `model.layers` -- and so of `model.get_weights()` -- is Keras's order: nodes get a depth
(outputs 0, their inputs 1, ...), a layer takes the largest depth of its nodes, layers are
listed from the deepest down, ties in the order a depth-first walk from the outputs first
met them. It also finds what Keras refuses: a tensor that cannot be computed from the inputs
("Graph disconnected") and two layers with the same name.

Arithmetic on KerasTensors (`x + y`, `2 * x`, `-x`, `x[:, :3]`) records an operation node as
well (scratchnet/engine/ops.py), as Keras 3 does with its ops.
"""
import collections

import numpy as np

from scratchnet.engine.arithmetic import TensorArithmetic


class KerasTensor(TensorArithmetic):
    """A symbolic tensor: shape (None for the batch), dtype and its history, no values.
    Arithmetic on it (`x + y`, `2 * x`, `-x`, `x[:, :3]`) records an operation node."""

    def __init__(self, shape, dtype, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype).name
        self.name = name
        self._keras_history = None       # (layer, node_index, tensor_index)

    @property
    def ndim(self):
        return len(self.shape)

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    def __len__(self):
        raise TypeError(f"{self!r} is symbolic: its batch size is not known until the model "
                        "runs on data")

    def __bool__(self):
        raise TypeError(f"{self!r} is symbolic and has no truth value: it holds no numbers "
                        "until the model runs on data")

    # NumPy arrays and scalars on the left of + - * / hand over to our reflected operators
    __array_ufunc__ = None

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"{self!r} is a symbolic tensor (a placeholder in a model's graph): it holds no "
            "numbers to turn into a NumPy array. Build a Model from it and call model.predict")


class Node:
    """One call of a layer on symbolic tensors: its inputs, its outputs, how it was called."""

    def __init__(self, layer, inputs, outputs, structure, multi=False):
        self.layer = layer
        self.input_tensors = list(inputs)
        self.outputs = list(outputs)
        self.structure = structure          # how the inputs were passed: 'one' or 'list'
        self.multi = multi                  # the call returned a list of tensors
        self.is_input = not self.input_tensors
        layer._inbound_nodes.append(self)
        index = len(layer._inbound_nodes) - 1
        for i, tensor in enumerate(self.outputs):
            tensor._keras_history = (layer, index, i)

    @property
    def output_tensors(self):
        return self.outputs

    @property
    def parent_nodes(self):
        parents = []
        for tensor in self.input_tensors:
            layer, node_index, _ = tensor._keras_history
            parents.append(layer._inbound_nodes[node_index])
        return parents

    def __repr__(self):
        return f"<Node layer={self.layer.name}>"


def flatten(structure):
    """A nested list / tuple / dict (dicts in key order as given) as a flat list."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for item in structure.values() for leaf in flatten(item)]
    return [structure]


def _build_map(inputs, outputs):
    """Nodes from inputs to outputs by a depth-first walk (Keras's `_build_map`), and the
    order in which it first met each layer. The walk stops at the given inputs (which may be
    intermediate tensors: `Model(features, outputs)` reuses part of a bigger graph)."""
    finished, in_progress = set(), set()
    ordered, layer_indices = [], {}
    input_ids = {id(x) for x in inputs}

    def visit(tensor):
        layer, node_index, _ = tensor._keras_history
        node = layer._inbound_nodes[node_index]
        if node in finished:
            return
        if not node.is_input and id(tensor) in input_ids:
            finished.add(node)
            return
        if node in in_progress:
            raise ValueError(f"Tensor {tensor} from layer {layer.name!r} is part of a cycle.")
        if layer not in layer_indices:
            layer_indices[layer] = len(layer_indices)
        in_progress.add(node)
        if not node.is_input:
            for x in node.input_tensors:
                visit(x)
        finished.add(node)
        in_progress.remove(node)
        ordered.append(node)

    for output in outputs:
        visit(output)
    return ordered, layer_indices


def map_graph(inputs, outputs):
    """(nodes_by_depth, layers): the graph between `inputs` and `outputs` (flat lists of
    KerasTensors), checked, with nodes grouped by depth (deepest = runs first) and the layers
    in Keras's order. Keras's `map_graph`, step for step."""
    for x in list(inputs) + list(outputs):
        if not isinstance(x, KerasTensor) or x._keras_history is None:
            raise ValueError(
                f"Model: inputs and outputs must be symbolic tensors made from Input(...) "
                f"(and layers called on them), received {x!r}")
    nodes_in_decreasing_depth, layer_indices = _build_map(inputs, outputs)
    in_graph = set(nodes_in_decreasing_depth)
    node_depths, layer_depths = {}, {}
    for node in reversed(nodes_in_decreasing_depth):
        depth = node_depths.setdefault(node, 0)
        depth = max(depth, layer_depths.get(node.layer, 0))
        layer_depths[node.layer] = depth
        node_depths[node] = depth
        for parent in node.parent_nodes:
            if parent in in_graph:
                node_depths[parent] = max(depth + 1, node_depths.get(parent, 0))
    for x in inputs:                          # inputs that no output needs still count
        layer, node_index, _ = x._keras_history
        node = layer._inbound_nodes[node_index]
        if layer not in layer_depths and node.is_input:
            layer_depths[layer] = 0
            layer_indices[layer] = -1
            node_depths[node] = 0

    nodes_by_depth = collections.defaultdict(list)
    for node, depth in node_depths.items():
        nodes_by_depth[depth].append(node)
    layers_by_depth = collections.defaultdict(list)
    for layer, depth in layer_depths.items():
        layers_by_depth[depth].append(layer)
    layers = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers.extend(sorted(layers_by_depth[depth], key=lambda layer: layer_indices[layer]))

    computable = {id(x) for x in inputs}
    seen = []
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            for x in node.input_tensors:
                if id(x) not in computable:
                    raise ValueError(
                        f"Graph disconnected: cannot find parent for tensor {x} at layer "
                        f"{node.layer.name!r}. The following previous layers were accessed "
                        f"without issue: {seen}")
                seen.append(node.layer.name)
            if not node.is_input or any(id(x) == id(o) for x in inputs for o in node.outputs):
                computable.update(id(o) for o in node.outputs)
    names = [layer.name for layer in layers]
    for name in names:
        if names.count(name) != 1:
            raise ValueError(f'The name "{name}" is used {names.count(name)} times in the '
                             "model. All layer names should be unique.")
    return dict(nodes_by_depth), layers

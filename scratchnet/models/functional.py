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

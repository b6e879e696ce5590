"""`Sequential`: a plain stack of layers, each feeding the next -- the linear case of a graph.

Lectures: all of them (`keras.Sequential([Flatten(input_shape=(28, 28)), Dense(128, ...), ...])`).

A Sequential model is a Functional model whose graph is a chain: as soon as the input shape is
known (`input_shape=` on the first layer, an `Input` first, or the first data `fit` sees),
it calls an InputLayer and then each layer on symbolic tensors, and runs that graph like any
other (engine/graph.py). So backward runs the layers in reverse, handing each the gradient of
the loss with respect to its output and getting back the gradient with respect to its input;
the chain stops at the first layer with trainable weights (nothing earlier needs dL/dx).

One layer object may be added twice (`Sequential([d, d, Dense(1)])`): it is one layer called
twice, its weights counted once and its gradient the sum of both calls' (Keras refuses this
model, for its name appearing twice; scratchnet runs it exactly).

Like tf.keras 2 (and unlike Keras 3), a Sequential model with a known input shape has
`.input` and `.output` at once, so the Coursera activation model
`Model(inputs=model.input, outputs=[layer.output for layer in model.layers])` works before
and after `fit`.
"""
from scratchnet import backend
from scratchnet.engine import symbolic
from scratchnet.layers.base import Layer
from scratchnet.layers.input_layer import InputLayer
from scratchnet.models.functional import GraphData
from scratchnet.models.model import Model


class Sequential(Model):
    def __init__(self, layers=None, name=None, trainable=True):
        Layer.__init__(self, name=name, trainable=trainable)
        self._init_model()
        self._layers = []
        self._input_layer = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._maybe_build()

    def add(self, layer, rebuild=True):
        """Put `layer` on top of the stack (an Input, or its tensor, only first)."""
        if isinstance(layer, symbolic.KerasTensor):
            origin = layer._keras_history[0]
            if not isinstance(origin, InputLayer):
                raise TypeError(f"{self.name}.add: expected a layer or an Input(...), received "
                                f"the symbolic tensor {layer!r}")
            layer = origin
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError(f"{self.name}: an Input can only be the first layer")
            self._input_layer = layer
            self.dtype = layer.dtype
        else:
            if not isinstance(layer, Layer):
                raise TypeError(f"{self.name}.add: expected a scratchnet layer, received "
                                f"{layer!r}")
            if any(other.name == layer.name and other is not layer for other in self._layers):
                raise ValueError(
                    f"All layers added to a Sequential model should have unique names. Name "
                    f"{layer.name!r} is already the name of a layer in this model. Update the "
                    "`name` argument to pass a unique name.")
            self._layers.append(layer)
        self._graph = None
        self.built = False
        if rebuild:
            self._maybe_build()

    def pop(self):
        """Remove and return the top layer."""
        if not self._layers:
            raise TypeError(f"{self.name}: there are no layers in the model to pop")
        layer = self._layers.pop()
        self._graph = None
        self.built = False
        self._maybe_build()
        return layer

    def _maybe_build(self):
        if not self._layers:
            return
        if self._input_layer is not None:
            self.build(self._input_layer.batch_shape)
        elif self._layers[0].declared_input_shape is not None:
            self.build((None,) + self._layers[0].declared_input_shape)
        elif isinstance(self._layers[0], Model) and self._layers[0]._graph is not None:
            self.build(self._layers[0].input_shape)     # a built model first: its input

    @property
    def layers(self):
        """The model's layers, without the Input (as Keras lists them)."""
        return list(self._layers)

    def build(self, input_shape=None):
        """Call every layer on symbolic inputs of `input_shape` (batch first): the graph."""
        if not self._layers:
            raise ValueError(f"Sequential model {self.name!r} cannot be built because it has "
                             "no layers. Call `model.add(layer)`.")
        shape = tuple(input_shape)
        self.dtype = self.dtype or backend.floatx()
        if self._input_layer is None:
            self._input_layer = InputLayer(shape=shape[1:], dtype=self.dtype)
        elif tuple(self._input_layer.batch_shape[1:]) != tuple(shape[1:]):
            raise ValueError(
                f"Sequential model {self.name!r} has already been configured to use input "
                f"shape {self._input_layer.batch_shape}. You cannot build it with input_shape "
                f"{shape}")
        inputs = self._input_layer.output
        x = inputs
        for layer in self._layers:
            x = layer(x)
        self._set_graph(GraphData(inputs, x))

    def _input_count(self):
        return 1

    def _no_graph(self, what):
        if self._graph is None:
            raise AttributeError(f"Sequential model {self.name!r} has no defined {what} yet: "
                                 "give the first layer input_shape=..., start with an Input, "
                                 "or fit/call it on data first")

    @property
    def input(self):
        self._no_graph("input")
        return self._graph.input_struct

    @property
    def output(self):
        self._no_graph("output")
        return self._graph.output_struct

    @property
    def input_shape(self):
        self._no_graph("input shape")
        return self._graph.inputs[0].shape

    @property
    def output_shape(self):
        self._no_graph("output shape")
        return self._graph.outputs[0].shape

    # ---- saving: the stack as a config (Keras 3's format) ---------------------------------
    def get_config(self):
        """Keras's Sequential config: the layers' configs in order (the InputLayer first
        when the input shape is known) and the input shape the model was built with."""
        from scratchnet.saving.serialization import dtype_config, serialize_keras_object

        layers = [serialize_keras_object(layer) for layer in self._layers]
        config = {"name": self.name, "trainable": self.trainable,
                  "dtype": dtype_config(self.dtype or backend.floatx())}
        if self._graph is not None:
            layers.insert(0, serialize_keras_object(self._input_layer))
            config["build_input_shape"] = list(self.input_shape)
        config["layers"] = layers
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from scratchnet.saving.serialization import deserialize_keras_object

        where = f"{cls.__name__}.from_config"
        if isinstance(config, list):                     # tf.keras 1's form: the layers
            config = {"layers": config}
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"{where}: expected a config with a 'layers' list, received "
                             f"{str(config)[:200]}")
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for entry in config["layers"]:
            model.add(deserialize_keras_object(entry, "layers", custom_objects, where),
                      rebuild=False)
        shape = config.get("build_input_shape")
        if model._input_layer is None and shape is not None:
            model.build(tuple(shape))
        else:
            model._maybe_build()
        return model

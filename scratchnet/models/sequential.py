"""`Sequential`: a plain stack of layers, each feeding the next.

Lectures: all of them (`keras.Sequential([Flatten(input_shape=(28, 28)), Dense(128, ...), ...])`).

forward runs the layers in order; backward runs them in reverse, handing each layer the
gradient of the loss with respect to its output and getting back the gradient with respect
to its input. The chain stops at the first layer with weights: nothing earlier needs dL/dx.
"""
import numpy as np

from scratchnet import backend
from scratchnet.layers.base import Layer
from scratchnet.layers.input_layer import InputLayer
from scratchnet.models.model import Model


class Sequential(Model):
    def __init__(self, layers=None, name=None):
        super().__init__(name=name)
        self._layers = []
        self._input_layer = None
        self.built = False
        self.input_shape = self.output_shape = None
        self.dtype = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer):
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer:
                raise ValueError(f"{self.name}: an Input can only be the first layer")
            self._input_layer = layer
            self.build((None,) + layer.declared_input_shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{self.name}.add: expected a scratchnet layer, received {layer!r}"
            )
        self._layers.append(layer)
        if self.built:
            self.output_shape = layer.ensure_built(self.output_shape)
        elif len(self._layers) == 1 and layer.declared_input_shape is not None:
            self.build((None,) + layer.declared_input_shape)

    @property
    def layers(self):
        """The model's layers, without the Input (as Keras 3 lists them)."""
        return list(self._layers)

    def build(self, input_shape):
        """Build every layer for inputs of `input_shape` (batch first, None allowed)."""
        self.dtype = self.dtype or backend.floatx()
        shape = (None,) + tuple(input_shape[1:])
        self.input_shape = shape
        for layer in self._layers:
            shape = layer.ensure_built(shape)
        self.output_shape = shape
        self.built = True
        self._first_weighted = next(
            (i for i, layer in enumerate(self._layers) if layer.trainable_weights),
            len(self._layers),
        )

    def _output_layer(self):
        return self._layers[-1] if self._layers else None

    def _forward(self, x, training):
        # Each layer but the last hands its output straight to the next one, so it may write
        # it into a buffer reused from call to call (`Layer._result_array`). A layer may also
        # run the next one inside its own loop (`fuses_with`: Conv2D + MaxPooling2D), so the
        # big intermediate result never goes to memory.
        layers, last = self._layers, len(self._layers) - 1
        scratch = []
        i = 0
        while i <= last:
            layer = layers[i]
            fused = i < last and layer.fuses_with(layers[i + 1], training)
            i_out = i + 1 if fused else i          # the layer whose output this is
            layer._scratch_results = i_out < last
            try:
                if fused:
                    x = layer.forward_fused(x, layers[i + 1], training)
                else:
                    x = layer.forward(x, training=training)
            finally:
                layer._scratch_results = False
            if i_out < last:
                scratch.append(x)
            i = i_out + 1
        # a pass-through last layer (Flatten, Dropout at inference) may return a view of a
        # reused buffer: what the model returns is always its own array
        if any(np.may_share_memory(x, y) for y in scratch):
            x = x.copy()
        return x

    def _backward(self, grad, from_logits=False):
        last = len(self._layers) - 1
        for i in range(last, self._first_weighted - 1, -1):
            layer = self._layers[i]
            need_input_grad = i > self._first_weighted
            layer._scratch_results = True          # dx goes straight to layer i - 1
            try:
                if i == last and from_logits:
                    grad = layer.backward_from_logits(grad, need_input_grad)
                else:
                    grad = layer.backward(grad, need_input_grad)
            finally:
                layer._scratch_results = False

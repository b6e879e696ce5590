"""`Dense`: the fully connected layer, y = f(x W + b).

Lectures: ML Zero to Hero 1-2 (Dense(1) learning y = 2x - 1; the Fashion-MNIST MLP),
Coursera C1 W2, Python ML ch. 13.

Shapes (n = batch, i = input features, u = units; extra middle axes are allowed and treated
as more rows, as Keras does):

    x: (n, i)    W (kernel): (i, u)    b (bias): (u,)    z = x W + b: (n, u)    y = f(z): (n, u)

Backward, given dy = dL/dy:

    dz = f'(z) * dy          (the activation's rule)
    dW = x^T dz              (i, u)    sum over the batch of outer products x_n dz_n
    db = sum_n dz            (u,)
    dx = dz W^T              (n, i)    skipped for the first layer: nothing needs it

The matrix products are BLAS calls (numpy matmul; `threads.matmul` cuts a big one into row
blocks for the cores): they are the work; everything else is bookkeeping. forward returns
y and its cache (x, z, y); backward reads them from the cache and ADDS dW, db to the
layer's gradients (a layer called twice in a step gets both calls' share).
`backward_from_logits(dz, cache)` starts from dz directly: when the model ends in
softmax/sigmoid and the loss is a crossentropy, the loss hands over dL/dz (see losses.py).
"""
import numpy as np

from scratchnet import activations, constraints, initializers, regularizers, threads
from scratchnet.layers.base import Layer


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, received {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        # penalties and projections of the weights (regularizers.py, constraints.py)
        self.kernel_regularizer = regularizers.get(kernel_regularizer,
                                                   f"{self.name}: kernel_regularizer")
        self.bias_regularizer = regularizers.get(bias_regularizer, f"{self.name}: bias_regularizer")
        self.kernel_constraint = constraints.get(kernel_constraint, f"{self.name}: kernel_constraint")
        self.bias_constraint = constraints.get(bias_constraint, f"{self.name}: bias_constraint")
        self.kernel = self.bias = None

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None or input_shape[-1] == 0:
            raise ValueError(
                f"Dense {self.name!r} needs inputs of shape (batch, features) with a known, "
                f"non-zero feature size, received shape {input_shape}"
            )
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      name="kernel", regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, name="bias",
                                        regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def _input_spec(self):
        return None, {-1: self.kernel.shape[0]}

    def forward(self, x, training=False):
        self._require_built()
        x2 = x.reshape(-1, x.shape[-1])          # (n, i) view
        z = threads.matmul(x2, self.kernel)      # x W (big products split over the cores)
        if self.use_bias:
            z += self.bias
        y = self.activation(z)
        if x.ndim != 2:                          # extra middle axes: back to their shape
            y = y.reshape(x.shape[:-1] + (self.units,))
        return y, (x.shape, x2, z, y.reshape(z.shape))

    def logits(self, cache):
        """z = x W + b: what a fused crossentropy differentiates."""
        return cache[2]

    def backward(self, dy, cache, need_input_grad=True):
        _, _, z, y = cache
        dz = self.activation.backward(z, y, dy.reshape(z.shape) if dy.ndim != 2 else dy)
        return self.backward_from_logits(dz, cache, need_input_grad)

    def backward_from_logits(self, dz, cache, need_input_grad=True):
        x_shape, x2, z, _ = cache
        if dz.ndim != 2:
            dz = dz.reshape(z.shape)
        if self.trainable:                       # (a frozen layer computes no dW, db)
            self.add_grad(0, threads.matmul(x2.T, dz, reuse="dW"))   # dW = x^T dz
            if self.use_bias:
                self.add_grad(1, dz.sum(axis=0))             # db = sum over the batch
        if not need_input_grad:
            return None
        dx = threads.matmul(dz, self.kernel.T)                        # dx = dz W^T
        return dx if len(x_shape) == 2 else dx.reshape(x_shape)

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **_regularization_config(self)}


def _regularization_config(layer):
    """The regularizer/constraint entries of a Dense or Conv2D config (Keras's keys)."""
    return {"kernel_regularizer": regularizers.serialize(layer.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(layer.bias_regularizer),
            "activity_regularizer": regularizers.serialize(layer.activity_regularizer),
            "kernel_constraint": constraints.serialize(layer.kernel_constraint),
            "bias_constraint": constraints.serialize(layer.bias_constraint)}

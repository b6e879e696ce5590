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

The matrix products are BLAS calls (numpy matmul): they are the work; everything else is
bookkeeping. `backward_from_logits(dz)` starts from dz directly: when the model ends in
softmax/sigmoid and the loss is a crossentropy, the loss hands over dL/dz (see losses.py).
"""
import numpy as np

from scratchnet import activations, initializers, threads
from scratchnet.layers.base import Layer


# Split a Dense layer's products over threads (one piece per thread: each piece reads all
# of W) only from _MIN_SPLIT_RATIO * threads.MIN_WORK_PER_THREAD multiply-adds per piece:
# the MLP's 784 -> 128 at batch 32 stays on one thread.
_MIN_SPLIT_RATIO = 16


class Dense(Layer):
    def __init__(self, units, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units <= 0:
            raise ValueError(f"Dense: units must be a positive int, received {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel = self.bias = None

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None or input_shape[-1] == 0:
            raise ValueError(
                f"Dense {self.name!r} needs inputs of shape (batch, features) with a known, "
                f"non-zero feature size, received shape {input_shape}"
            )
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, x, training=False):
        self._require_built()
        self._x_shape = x.shape
        x2 = x.reshape(-1, x.shape[-1])          # (n, i) view
        n, (inputs, units) = x2.shape[0], self.kernel.shape
        pieces = threads.parts(n, n * inputs * units / _MIN_SPLIT_RATIO,
                              per_thread=1)
        if pieces == 1:
            z = x2 @ self.kernel
            if self.use_bias:
                z += self.bias
        else:                                    # big layers: batch rows split over threads
            z = np.empty((n, units), np.result_type(x2, self.kernel))

            def rows(start, stop, _):
                np.matmul(x2[start:stop], self.kernel, out=z[start:stop])
                if self.use_bias:
                    z[start:stop] += self.bias

            threads.run_split(rows, n, pieces=pieces)
        y = self.activation(z)
        self._x2, self._z, self._y = x2, z, y
        return y.reshape(x.shape[:-1] + (self.units,))

    def logits(self):
        """z = x W + b of the last forward pass: what a fused crossentropy differentiates."""
        return self._z

    def backward(self, dy, need_input_grad=True):
        dz = self.activation.backward(self._z, self._y, dy.reshape(self._z.shape))
        return self.backward_from_logits(dz, need_input_grad)

    def backward_from_logits(self, dz, need_input_grad=True):
        dz = dz.reshape(self._z.shape)
        x2, kernel = self._x2, self.kernel
        n, (inputs, units) = x2.shape[0], kernel.shape
        pieces = threads.parts(min(n, inputs), n * inputs * units / _MIN_SPLIT_RATIO,
                              per_thread=1)
        if self.use_bias:
            np.sum(dz, axis=0, out=self.grads[1])
        if pieces == 1:
            np.matmul(x2.T, dz, out=self.grads[0])
            return (dz @ kernel.T).reshape(self._x_shape) if need_input_grad else None
        # big layers: piece k computes rows i0:i1 of dW = x^T dz and rows r0:r1 of dx = dz W^T
        dx = np.empty(x2.shape, dz.dtype) if need_input_grad else None

        def piece(k, _, __):
            i0, i1 = threads.bounds(inputs, pieces)[k]
            np.matmul(x2[:, i0:i1].T, dz, out=self.grads[0][i0:i1])
            if need_input_grad:
                r0, r1 = threads.bounds(n, pieces)[k]
                np.matmul(dz[r0:r1], kernel.T, out=dx[r0:r1])

        threads.run_split(piece, pieces, pieces=pieces)
        return dx.reshape(self._x_shape) if need_input_grad else None

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.name_of(self.kernel_initializer),
                "bias_initializer": initializers.name_of(self.bias_initializer)}

"""`tf.nn`: activations, convolution, pooling, crossentropies, dropout -- as operations.

These are the layers' own math, called as functions on tensors (NHWC images, TensorFlow's
'SAME'/'VALID' padding, strides as an int or a list of 1, 2 or 4 numbers):

    tf.nn.conv2d(x, filters, strides, padding)     Conv2D's convolution without bias or
                                                   activation: kernels/conv_fast.py, the same
                                                   im2col + matrix products, forward and back
    tf.nn.max_pool2d(x, ksize, strides, padding)   MaxPooling2D's kernels (pool_fast.py): dy
                                                   goes back to each window's largest cell
    tf.nn.avg_pool2d(x, ksize, strides, padding)   AveragePooling2D's: dy / (real cells)
                                                   shared by the window's cells
    tf.nn.bias_add(x, b)                           x + b on the last axis; db = dy summed
    tf.nn.relu / sigmoid / tanh / softmax          activations.py's f and backward
    tf.nn.log_softmax(z)                           z - log sum e^z;  dz = dy - softmax * sum dy
    tf.nn.softmax_cross_entropy_with_logits        -sum labels * log_softmax(logits), per row;
                                                   dlogits = (softmax - labels) * dy (TF's)
    tf.nn.sparse_softmax_cross_entropy_with_logits the same with integer labels
    tf.nn.sigmoid_cross_entropy_with_logits        max(z,0) - z*labels + log(1 + e^-|z|);
                                                   dz = (sigmoid(z) - labels) * dy
    tf.nn.dropout(x, rate)                         zeros a `rate` share, scales the rest by
                                                   1/(1-rate); dx = dy on the kept ones, scaled
"""
import numpy as np

from scratchnet import activations as _activations
from scratchnet.kernels import conv_fast, pool_fast
from scratchnet.layers.padding import output_length, paddings
from scratchnet.ops.core import axes_of, result, values


def _floats(x, what):
    a = values(x, what=what)
    return a if a.dtype.kind == "f" else a.astype(np.float32)


# ---- activations --------------------------------------------------------------------------
def activation(fn, x, axis=-1):
    """An activation of activations.py as an operation: y = fn.f(x), dx = fn.backward."""
    a = _floats(x, f"tf.nn.{fn.name}")
    (axis,) = axes_of(axis, a.ndim, f"tf.nn.{fn.name}")
    moved = a.ndim > 0 and axis != a.ndim - 1
    if moved:
        a = np.moveaxis(a, axis, -1)
    y = fn.f(a)
    y = y.copy() if y is a else y

    def backward(dy):
        dy = np.moveaxis(dy, axis, -1) if moved else dy
        dx = fn.backward(a, y, dy)
        return [np.moveaxis(dx, -1, axis) if moved else dx]

    return result(fn.name, [x], np.moveaxis(y, -1, axis) if moved else y, backward)


def relu(features, name=None):
    return activation(_activations.relu, features)


def sigmoid(x, name=None):
    return activation(_activations.sigmoid, x)


def tanh(x, name=None):
    return activation(_activations.tanh, x)


def softmax(logits, axis=None, name=None):
    return activation(_activations.softmax, logits, -1 if axis is None else axis)


def log_softmax(logits, axis=None, name=None):
    z = _floats(logits, "tf.nn.log_softmax")
    (axis,) = axes_of(-1 if axis is None else axis, z.ndim, "tf.nn.log_softmax")
    shifted = z - z.max(axis=axis, keepdims=True)
    y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    return result("LogSoftmax", [logits], y,
                  lambda dy: [dy - np.exp(y) * dy.sum(axis=axis, keepdims=True)])


# ---- convolution and pooling ----------------------------------------------------------------
def _spatial(value, what, name):
    """TensorFlow's strides/ksize/dilations: an int, or 1, 2 or 4 numbers (N, H, W, C)."""
    listed = np.asarray(value).reshape(-1).tolist()
    if len(listed) not in (1, 2, 4) or not all(isinstance(v, int) and v >= 1 for v in listed):
        raise ValueError(f"{what}: {name} must be a positive int or a list of 1, 2 or 4 of "
                         f"them, received {value!r}")
    if len(listed) == 4 and (listed[0] != 1 or listed[3] != 1):
        raise ValueError(f"{what}: {name} over the batch or channel axis must be 1, "
                         f"received {listed}")
    return (listed[0],) * 2 if len(listed) == 1 else tuple(listed[-3:-1] if len(listed) == 4
                                                           else listed)


def _padding(padding, data_format, what):
    if padding not in ("SAME", "VALID"):      # (TensorFlow takes upper case only)
        raise ValueError(f"{what}: padding must be 'SAME' or 'VALID' (upper case), received "
                         f"{padding!r}")
    if data_format not in (None, "NHWC"):
        raise ValueError(f"{what}: only data_format='NHWC' (channels last) is supported, "
                         f"received {data_format!r}")
    return padding.lower()


def _images(x, what):
    a = _floats(x, what)
    if a.ndim != 4:
        raise ValueError(f"{what}: input must be 4-D (batch, height, width, channels), "
                         f"received shape {a.shape}")
    return np.ascontiguousarray(a)


def conv2d(input, filters, strides, padding, data_format="NHWC", dilations=None,   # noqa: A002
           name=None):
    """tf.nn.conv2d: Conv2D's convolution (no bias, no activation) of NHWC images with
    filters (kh, kw, C, F)."""
    what = "tf.nn.conv2d"
    x = _images(input, what)
    w = np.ascontiguousarray(values(filters, x.dtype, what))
    if w.ndim != 4 or w.shape[2] != x.shape[3]:
        raise ValueError(f"{what}: filters must be (height, width, {x.shape[3]}, out "
                         f"channels) for inputs with {x.shape[3]} channels, received shape "
                         f"{w.shape}")
    strides = _spatial(strides, what, "strides")
    dilation = _spatial(1 if dilations is None else dilations, what, "dilations")
    mode = _padding(padding, data_format, what)
    kernel_size = w.shape[:2]
    out_hw = [output_length(n, k, s, mode, d) for n, k, s, d in
              zip(x.shape[1:3], kernel_size, strides, dilation)]
    if min(out_hw) < 1:
        raise ValueError(f"{what}: filters {kernel_size} do not fit in inputs of shape "
                         f"{x.shape} with padding {padding!r} (the output would be empty)")
    pads = paddings(x.shape[1:3], kernel_size, strides, mode, dilation)
    y, _ = conv_fast.conv2d_forward(x, w, None, strides, pads, dilation)

    def backward(dy):
        dx, dw, _ = conv_fast.conv2d_backward(x, w, np.ascontiguousarray(dy, x.dtype),
                                              strides, pads, dilation)
        return [dx, dw]

    return result("Conv2D", [input, filters], y, backward)


def _pool(kind, input, ksize, strides, padding, data_format):   # noqa: A002
    what = f"tf.nn.{kind}_pool2d"
    x = _images(input, what)
    pool_size = _spatial(ksize, what, "ksize")
    strides = _spatial(strides, what, "strides")
    mode = _padding(padding, data_format, what)
    out_hw = tuple(output_length(n, k, s, mode) for n, k, s in zip(x.shape[1:3], pool_size,
                                                                     strides))
    if min(out_hw) < 1:
        raise ValueError(f"{what}: ksize {pool_size} does not fit in inputs of shape "
                         f"{x.shape} with padding {padding!r}")
    (top, _), (left, _) = paddings(x.shape[1:3], pool_size, strides, mode)
    if kind == "max":
        y, argmax = pool_fast.max_pool_forward(x, pool_size, strides, (top, left), out_hw)
        return result("MaxPool", [input], y, lambda dy: [pool_fast.max_pool_backward(
            np.ascontiguousarray(dy, x.dtype), argmax, x.shape)])
    y = pool_fast.avg_pool_forward(x, pool_size, strides, (top, left), out_hw)
    return result("AvgPool", [input], y, lambda dy: [pool_fast.avg_pool_backward(
        np.ascontiguousarray(dy, x.dtype), x.shape, pool_size, strides, (top, left))])


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):   # noqa: A002
    return _pool("max", input, ksize, strides, padding, data_format)


def avg_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):   # noqa: A002
    return _pool("avg", input, ksize, strides, padding, data_format)


def max_pool(input, ksize, strides, padding, data_format=None, name=None):     # noqa: A002
    """tf.nn.max_pool (any rank in TF; 4-D NHWC images here)."""
    return _pool("max", input, ksize, strides, padding, data_format)


def avg_pool(input, ksize, strides, padding, data_format=None, name=None):     # noqa: A002
    return _pool("avg", input, ksize, strides, padding, data_format)


def bias_add(value, bias, data_format=None, name=None):
    x = values(value, what="tf.nn.bias_add")
    b = values(bias, x.dtype, "tf.nn.bias_add")
    if b.ndim != 1 or x.ndim < 2 or b.shape[0] != x.shape[-1]:
        raise ValueError(f"tf.nn.bias_add: bias must be 1-D with one value per channel "
                         f"({x.shape[-1] if x.ndim else '?'}), received shape {b.shape}")
    axes = tuple(range(x.ndim - 1))
    return result("BiasAdd", [value, bias], x + b, lambda dy: [dy, dy.sum(axis=axes)])


# ---- crossentropies from logits ---------------------------------------------------------------
def softmax_cross_entropy_with_logits(labels, logits, axis=-1, name=None):
    """-sum(labels * log_softmax(logits)) per row; TF's gradients: dlogits = (softmax -
    labels) * dy, dlabels = -log_softmax * dy."""
    z = _floats(logits, "tf.nn.softmax_cross_entropy_with_logits")
    t = values(labels, z.dtype, "tf.nn.softmax_cross_entropy_with_logits")
    if t.shape != z.shape:
        raise ValueError(f"tf.nn.softmax_cross_entropy_with_logits: labels {t.shape} and "
                         f"logits {z.shape} must have the same shape")
    shifted = z - z.max(axis=axis, keepdims=True)
    log_sm = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
    loss = -np.sum(t * log_sm, axis=axis)

    def backward(dy):
        dy = np.expand_dims(dy, axis)
        return [-log_sm * dy, (np.exp(log_sm) - t) * dy]

    return result("SoftmaxCrossEntropyWithLogits", [labels, logits], loss, backward)


def sparse_softmax_cross_entropy_with_logits(labels, logits, name=None):
    """-log_softmax(logits)[label] per row; dlogits = (softmax - one_hot(label)) * dy."""
    what = "tf.nn.sparse_softmax_cross_entropy_with_logits"
    z = _floats(logits, what)
    ids = values(labels, what=what)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{what}: labels must be integers, received dtype {ids.dtype}")
    if ids.shape != z.shape[:-1]:
        raise ValueError(f"{what}: labels of shape {ids.shape} must match logits "
                         f"{z.shape} without its last axis")
    if ids.size and (ids.min() < 0 or ids.max() >= z.shape[-1]):
        raise ValueError(f"{what}: labels must be in [0, {z.shape[-1]}), received "
                         f"{ids.reshape(-1)[:10].tolist()}")
    shifted = z - z.max(axis=-1, keepdims=True)
    log_sm = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    hot = ids[..., None] == np.arange(z.shape[-1])
    loss = -np.sum(np.where(hot, log_sm, 0), axis=-1)
    return result("SparseSoftmaxCrossEntropyWithLogits", [labels, logits], loss,
                  lambda dy: [None, (np.exp(log_sm) - hot) * dy[..., None]])


def sigmoid_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """max(z, 0) - z * labels + log(1 + e^-|z|) element-wise (TF's stable form);
    dz = (sigmoid(z) - labels) * dy, dlabels = -z * dy."""
    what = "tf.nn.sigmoid_cross_entropy_with_logits"
    z = _floats(logits, what)
    t = values(labels, z.dtype, what)
    if t.shape != z.shape:
        raise ValueError(f"{what}: labels {t.shape} and logits {z.shape} must have the same "
                         "shape")
    loss = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
    return result("SigmoidCrossEntropyWithLogits", [labels, logits], loss,
                  lambda dy: [-z * dy, (_activations.sigmoid.f(z) - t) * dy])


# ---- dropout ----------------------------------------------------------------------------------
def dropout(x, rate, noise_shape=None, seed=None, name=None):
    """Zero each element with probability `rate`, scale the rest by 1 / (1 - rate), so the
    expected value is unchanged (TF's inverted dropout); the gradient takes the same path.
    `seed` follows tf.random's rules (scratchnet/random.py): repeated calls with one seed
    differ, and the sequence repeats after tf.random.set_seed."""
    from scratchnet import random

    a = _floats(x, "tf.nn.dropout")
    rate = float(rate)
    if not 0 <= rate < 1:
        raise ValueError(f"tf.nn.dropout: rate must be in [0, 1), received {rate}")
    shape = a.shape if noise_shape is None else tuple(int(d) for d in noise_shape)
    keep = random.generator(seed, "tf.nn.dropout").random(shape) >= rate
    scale = (keep / (1 - rate)).astype(a.dtype)
    return result("Dropout", [x], a * scale, lambda dy: [dy * scale])


def l2_loss(t, name=None):
    """sum(t ** 2) / 2; dt = t * dy."""
    a = _floats(t, "tf.nn.l2_loss")
    return result("L2Loss", [t], np.asarray(np.sum(a * a) / 2, a.dtype), lambda dy: [a * dy])

"""`tf.nn`: the neural-network operations (ops/nn_ops.py has each one's forward and gradient).

    keras.layers.Dense(128, activation=tf.nn.relu)    # as an activation: the layer's own
    tf.nn.softmax(predictions).numpy()                # as an operation on a tensor
    tf.nn.conv2d(image, kernel, strides=1, padding='SAME')

As `activation=`, `tf.nn.relu` & co. name the activation (activations.get maps them to
activations.relu, which the layers differentiate themselves); called on values they are
operations that return Tensors and that a GradientTape records.
"""
from scratchnet.ops.nn_ops import (avg_pool, avg_pool2d, bias_add, conv2d, dropout, l2_loss,
                                   log_softmax, max_pool, max_pool2d, relu, sigmoid,
                                   sigmoid_cross_entropy_with_logits, softmax,
                                   softmax_cross_entropy_with_logits,
                                   sparse_softmax_cross_entropy_with_logits, tanh)

__all__ = ["avg_pool", "avg_pool2d", "bias_add", "conv2d", "dropout", "l2_loss",
           "log_softmax", "max_pool", "max_pool2d", "relu", "sigmoid",
           "sigmoid_cross_entropy_with_logits", "softmax", "softmax_cross_entropy_with_logits",
           "sparse_softmax_cross_entropy_with_logits", "tanh"]

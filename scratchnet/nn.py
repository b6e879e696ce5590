"""`scratchnet.nn` mirrors the few `tf.nn` functions lecture code passes as activations.

    keras.layers.Dense(128, activation=tf.nn.relu)   ->   layers.Dense(128, activation=nn.relu)

They are the very same objects as `scratchnet.activations.relu` etc.: callable on arrays, and
differentiable by the layers that use them.
"""
from scratchnet.activations import relu, sigmoid, softmax, tanh

__all__ = ["relu", "sigmoid", "softmax", "tanh"]

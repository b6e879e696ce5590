"""TensorFlow's operations on tensors, each with its gradient (see core.py for the pattern):
math_ops (tf.math), array_ops (creation, shapes, slicing), nn_ops (tf.nn), random_ops
(tf.random)."""

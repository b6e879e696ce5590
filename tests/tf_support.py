"""Import TensorFlow for parity tests.

Parity tests must really run against TensorFlow in CI: there SCRATCHNET_REQUIRE_TF=1 turns a
missing TensorFlow into an error instead of a skip. Locally, without TF, they are skipped.
"""
import os

import pytest


def import_tf():
    if os.environ.get("SCRATCHNET_REQUIRE_TF") == "1":
        import tensorflow as tf  # noqa: F401  (an ImportError here fails the test, as it should)
    else:
        tf = pytest.importorskip("tensorflow")
    # Parity needs true float32 matmuls on GPUs (TF32 would round inputs to 10 mantissa bits).
    tf.config.experimental.enable_tensor_float_32_execution(False)
    return tf


def keras_layer_grads(tf, layer, case):
    """A built Keras layer with case['kernel'] (and case['bias'] if case['use_bias']) as its
    weights, applied to case['x']: its output and dL/d(x, kernel[, bias]) for the upstream
    gradient case['dy'], as NumPy arrays."""
    import warnings

    layer.set_weights([case["kernel"], case["bias"]] if case["use_bias"] else [case["kernel"]])
    xt = tf.constant(case["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # e.g. "softmax over an axis of size 1" for units=1
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = layer(xt)
    sources = [xt, layer.kernel] + ([layer.bias] if case["use_bias"] else [])
    grads = tape.gradient(y, sources, output_gradients=tf.constant(case["dy"]))
    return y.numpy(), [g.numpy() for g in grads]

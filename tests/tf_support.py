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

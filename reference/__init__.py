"""`reference`: the real tf.keras twin of a scratchnet model, for parity checks and benchmarks.

    from reference import to_keras, from_keras, describe_device
    twin = to_keras(model)          # same layers, names, dtype, weights (and compile) in tf.keras
    back = from_keras(twin)         # and back again
    describe_device()               # e.g. 'TensorFlow 2.21.0 on CPU'

Unlike `scratchnet`, this package needs TensorFlow; it imports it lazily, on the first call
that needs it, so `import reference` alone stays cheap.
"""
from reference.convert import floatx_scope, from_keras, to_keras
from reference.device import describe_device, device

__all__ = ["describe_device", "device", "floatx_scope", "from_keras", "to_keras"]

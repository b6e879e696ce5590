"""Which device TensorFlow runs the reference models on.

The GPU when TensorFlow sees one, else the CPU. On a GPU, TensorFloat-32 is switched off
(it would round float32 matmul inputs to 10 mantissa bits, far outside the float32 parity
tolerance), which is the only setting parity needs.
"""
_DEVICE = None


def tensorflow():
    """Import TensorFlow (lazily: importing `reference` does not import it)."""
    import tensorflow as tf

    return tf


def device():
    """TensorFlow's device name for the reference computations: '/GPU:0' or '/CPU:0'."""
    global _DEVICE
    if _DEVICE is None:
        tf = tensorflow()
        if tf.config.list_physical_devices("GPU"):
            tf.config.experimental.enable_tensor_float_32_execution(False)
            _DEVICE = "/GPU:0"
        else:
            _DEVICE = "/CPU:0"
    return _DEVICE


def describe_device():
    """A short description, e.g. 'TensorFlow 2.21.0 on CPU' or '... on GPU (NVIDIA H100 ...)'."""
    tf = tensorflow()
    name = device()
    if name.startswith("/GPU"):
        gpu = tf.config.list_physical_devices("GPU")[0]
        try:
            details = tf.config.experimental.get_device_details(gpu)
        except Exception:  # details are best effort
            details = {}
        label = details.get("device_name")
        return f"TensorFlow {tf.__version__} on GPU" + (f" ({label})" if label else "")
    return f"TensorFlow {tf.__version__} on CPU"

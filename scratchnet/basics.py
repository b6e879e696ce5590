"""The TensorFlow names lecture code uses around Keras, as thin NumPy aliases:

    image = tf.cast(image, dtype=tf.float32)          # the university course
    image = image[tf.newaxis, ..., tf.newaxis]        # (28, 28) -> (1, 28, 28, 1)
    x = tf.constant([[1.0, 2.0]])

`tf.float32` and friends are NumPy dtypes, `tf.newaxis` is None (NumPy's newaxis), and
`cast` / `constant` / `convert_to_tensor` return NumPy arrays. This is not a TensorFlow
clone: these exist so that the code around a lecture's model runs as written.
"""
import numpy as np

float16, float32, float64 = np.float16, np.float32, np.float64
int8, int16, int32, int64 = np.int8, np.int16, np.int32, np.int64
uint8, bool_ = np.uint8, np.bool_
newaxis = np.newaxis


def _dtype(dtype, what):
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{what}: dtype must be a dtype such as tf.float32 or 'float32', "
                        f"received {dtype!r}") from None


def cast(x, dtype, name=None):
    """x as an array of `dtype` (floats to ints truncate toward zero, as TF's cast does)."""
    return np.asarray(x).astype(_dtype(dtype, "cast"))


def constant(value, dtype=None, shape=None, name=None):
    """An array of `value` (Python floats become float32, as in TensorFlow), optionally
    broadcast to `shape`."""
    array = np.array(value, dtype=_dtype(dtype, "constant"))
    if dtype is None and array.dtype == np.float64 and not isinstance(value, np.ndarray):
        array = array.astype(np.float32)
    if shape is not None:
        array = np.broadcast_to(array, tuple(shape)).copy()
    return array


def convert_to_tensor(value, dtype=None, name=None):
    """`value` as an array (no copy when it already is one of the right dtype)."""
    if isinstance(value, np.ndarray) and dtype is None:
        return value
    return constant(value, dtype=dtype)


__all__ = ["bool_", "cast", "constant", "convert_to_tensor", "float16", "float32", "float64",
           "int16", "int32", "int64", "int8", "newaxis", "uint8"]

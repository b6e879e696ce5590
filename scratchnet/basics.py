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


class TensorShape:
    """`tf.TensorShape([None, 28, 28])`: a shape whose sizes may be unknown (None). Indexing
    gives the sizes (ints or None), `as_list()` the list, `rank` their count; it equals a list
    or tuple of the same sizes."""

    def __init__(self, dims):
        if isinstance(dims, TensorShape):
            dims = dims.as_list()
        elif dims is None or isinstance(dims, (int, np.integer)):
            dims = [] if dims is None else [dims]
        try:
            self._dims = [None if d is None else int(d) for d in dims]
        except (TypeError, ValueError):
            raise TypeError(f"TensorShape: expected a list of ints or None, received "
                            f"{dims!r}") from None
        if any(d is not None and d < 0 for d in self._dims):
            raise ValueError(f"TensorShape: sizes must be >= 0 or None, received {dims!r}")

    @property
    def rank(self):
        return len(self._dims)

    ndims = rank

    def as_list(self):
        return list(self._dims)

    def is_fully_defined(self):
        return None not in self._dims

    def num_elements(self):
        """The number of elements, or None when a size is unknown."""
        return int(np.prod(self._dims)) if self.is_fully_defined() else None

    def __len__(self):
        return len(self._dims)

    def __iter__(self):
        return iter(self._dims)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return TensorShape(self._dims[key])
        return self._dims[key]

    def __eq__(self, other):
        if isinstance(other, TensorShape):
            other = other.as_list()
        if isinstance(other, (list, tuple)):
            return self._dims == list(other)
        return NotImplemented

    def __hash__(self):
        return hash(tuple(self._dims))

    def __repr__(self):
        return f"TensorShape({self._dims})"


__all__ = ["TensorShape", "bool_", "cast", "constant", "convert_to_tensor", "float16", "float32",
           "float64", "int16", "int32", "int64", "int8", "newaxis", "uint8"]

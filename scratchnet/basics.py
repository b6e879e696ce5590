"""TensorFlow's dtypes, `tf.newaxis` and `tf.TensorShape`:

    image = tf.cast(image, dtype=tf.float32)          # the university course
    image = image[tf.newaxis, ..., tf.newaxis]        # (28, 28) -> (1, 28, 28, 1)
    image.shape                                       # TensorShape([1, 28, 28, 1])

`tf.float32` and friends are NumPy's dtypes (so `t.dtype == tf.float32` holds for a NumPy
array and a Tensor alike), `tf.newaxis` is None (NumPy's newaxis). The tensors themselves are
in tensors.py, the operations in ops/.
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


class TensorShape(tuple):
    """`tf.TensorShape([None, 28, 28])`: a shape whose sizes may be unknown (None). It is a
    tuple of the sizes (ints or None) -- so NumPy and `x.shape[1:]` work on it -- with
    TensorFlow's `as_list()`, `rank`, `is_fully_defined()`, `num_elements()`; it also equals
    a list of the same sizes. `tensor.shape` of a scratchnet Tensor is one."""

    def __new__(cls, dims):
        if isinstance(dims, TensorShape):
            return dims
        if dims is None or isinstance(dims, (int, np.integer)):
            dims = [] if dims is None else [dims]
        try:
            sizes = [None if d is None else int(d) for d in dims]
        except (TypeError, ValueError):
            raise TypeError(f"TensorShape: expected a list of ints or None, received "
                            f"{dims!r}") from None
        if any(d is not None and d < 0 for d in sizes):
            raise ValueError(f"TensorShape: sizes must be >= 0 or None, received {dims!r}")
        return super().__new__(cls, sizes)

    @property
    def rank(self):
        return len(self)

    ndims = rank

    @property
    def dims(self):
        return list(self)

    def as_list(self):
        return list(self)

    def is_fully_defined(self):
        return None not in self

    def num_elements(self):
        """The number of elements, or None when a size is unknown."""
        return int(np.prod(self, dtype=np.int64)) if self.is_fully_defined() else None

    def __getitem__(self, key):
        if isinstance(key, slice):
            return TensorShape(tuple.__getitem__(self, key))
        return tuple.__getitem__(self, key)

    def __eq__(self, other):
        if isinstance(other, list):
            other = tuple(other)
        return tuple.__eq__(self, other)

    def __ne__(self, other):
        equal = self.__eq__(other)
        return equal if equal is NotImplemented else not equal

    __hash__ = tuple.__hash__

    def __repr__(self):
        return f"TensorShape({list(self)})"

    def __str__(self):
        return tuple.__repr__(self)


__all__ = ["TensorShape", "bool_", "float16", "float32", "float64", "int16", "int32", "int64",
           "int8", "newaxis", "uint8"]

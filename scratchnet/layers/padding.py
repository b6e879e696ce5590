"""Window arithmetic shared by convolution and pooling: output sizes and TF's SAME padding.

Lectures: Hands-On CV ch. 3 (padding 'valid' vs 'same', strides), the university course
(`Conv2D(3, 3, 1, 'SAME')`, `MaxPool2D(..., padding='SAME')`).

Along one spatial axis of size n, with window k, stride s and dilation d (effective window
k_eff = (k - 1) d + 1):

    VALID:  out = floor((n - k_eff) / s) + 1         no padding; needs n >= k_eff
    SAME:   out = ceil(n / s)
            total pad = max((out - 1) s + k_eff - n, 0)
            pad_before = total // 2,  pad_after = total - pad_before

TensorFlow puts the odd extra padded row/column AFTER (bottom/right); e.g. n=4, k=2, s=1:
out 4, total 1, before 0, after 1.
"""
import math

import numpy as np


def normalize_tuple(value, n, what):
    """An int or a sequence of n positive ints -> a tuple of n ints (Keras accepts both)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = (int(value),) * n
    else:
        try:
            values = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise TypeError(f"{what} must be an int or a tuple of {n} ints, received {value!r}") from None
        if len(values) != n or any(isinstance(v, bool) for v in value):
            raise ValueError(f"{what} must be an int or a tuple of {n} ints, received {value!r}")
    if any(v <= 0 for v in values):
        raise ValueError(f"{what} must be positive, received {value!r}")
    return values


def normalize_padding(padding, what):
    """'valid' / 'same' in any case (Keras lowercases), else a clear error."""
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"{what}: padding must be 'valid' or 'same', received {padding!r}")
    return padding.lower()


def output_length(n, k, s, padding, d=1):
    """Output size along one axis (None stays None: unknown input size)."""
    if n is None:
        return None
    k_eff = (k - 1) * d + 1
    if padding == "same":
        return math.ceil(n / s)
    return (n - k_eff) // s + 1 if n >= k_eff else 0


def same_padding(n, k, s, d=1):
    """(pad_before, pad_after) of TF's SAME rule along one axis."""
    k_eff = (k - 1) * d + 1
    out = math.ceil(n / s)
    total = max((out - 1) * s + k_eff - n, 0)
    return total // 2, total - total // 2


def paddings(spatial, kernel, strides, padding, dilation=(1, 1)):
    """((top, bottom), (left, right)) for an (H, W) input; zeros for 'valid'."""
    if padding == "valid":
        return (0, 0), (0, 0)
    return tuple(same_padding(n, k, s, d) for n, k, s, d in zip(spatial, kernel, strides, dilation))

"""Checking and preparing the arrays given to fit / evaluate / predict.

Everything here runs once per call, on the whole data set, so the per-batch loop does no
checking and no casting: x is cast to the model's float dtype once (Keras does the same per
batch), shapes are checked against what the model expects, and bad data fails early with a
message naming the argument, what was received and what was expected.
"""
import math

import numpy as np


def as_float_array(x, dtype, what):
    """x as a float array of `dtype`, refusing what cannot be numbers (with the reason)."""
    if x is None:
        raise ValueError(f"{what} is required, received None")
    if isinstance(x, dict):
        raise TypeError(f"{what}: expected one array (a single-input model), received a dict")
    try:
        array = np.asarray(x)
    except ValueError as error:  # ragged nested lists
        raise ValueError(f"{what} could not be turned into an array: {error}") from None
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{what} must be numeric, received an array of dtype {array.dtype}")
    if array.ndim == 0:  # checked before ascontiguousarray, which turns a scalar into (1,)
        raise ValueError(f"{what} must have a batch axis, received a scalar")
    array = np.ascontiguousarray(array, dtype=dtype)
    if array.shape[0] == 0:
        raise ValueError(f"{what} is empty: received shape {array.shape}, expected at least 1 sample")
    check_finite(array, what)
    return array


def check_finite(array, what):
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{what} contains NaN or infinity (first at index {tuple(int(i) for i in bad)}: "
            f"{array[tuple(bad)]}); expected finite numbers"
        )


def match_input_shape(x, expected, model_name, what, input_name=None):
    """Check x (batch first) against a model input's expected shape (None = any).

    Keras 3's input-rank rule: data with one axis fewer than the input, where the input's
    last axis is 1, gets that axis (the Coursera notebook feeds (N, 28, 28) images to
    `Input(shape=(28, 28, 1))`; ML Zero to Hero's 1-D xs to `Dense(1, input_shape=[1])`);
    data with one axis more, of size 1, loses it."""
    if expected is None:
        return x
    expected = tuple(expected)
    if x.ndim == len(expected) - 1 and expected[-1] == 1:
        x = x.reshape(x.shape + (1,))
    elif x.ndim == len(expected) + 1 and x.shape[-1] == 1:
        x = x.reshape(x.shape[:-1])
    if x.ndim != len(expected) or any(
        e is not None and e != s for e, s in zip(expected[1:], x.shape[1:])
    ):
        named = f" {input_name!r}" if input_name else ""
        raise ValueError(
            f"{what}: model {model_name!r} expects input{named} of shape {expected} "
            f"(batch first), received shape {x.shape}"
        )
    return x


def check_same_length(x, y, what):
    if len(x) != len(y):
        raise ValueError(
            f"{what}: x and y must have the same number of samples, received x with "
            f"{len(x)} (shape {x.shape}) and y with {len(y)} (shape {np.shape(y)})"
        )


def as_target_array(y, what):
    if y is None:
        raise ValueError(f"{what}: y is required, received None")
    array = np.asarray(y)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"{what}: y must be numeric, received an array of dtype {array.dtype}")
    if array.ndim == 0 or array.shape[0] == 0:
        raise ValueError(f"{what}: y is empty or a scalar, received shape {array.shape}")
    check_finite(array, f"{what}: y")
    return array


def check_batch_size(batch_size, what):
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{what}: batch_size must be a positive int, received {batch_size!r}")
    return int(batch_size)


def validation_split_arrays(x, y, validation_split):
    """Keras's rule: the LAST fraction of the samples (before any shuffling) validates.
    x and y are lists of arrays (several inputs / outputs), all of the same length."""
    if isinstance(validation_split, bool) or not isinstance(
            validation_split, (int, float, np.number)):
        raise TypeError(
            f"fit: validation_split must be a float in (0, 1), received {validation_split!r}"
        )
    if not 0.0 < validation_split < 1.0:
        raise ValueError(f"fit: validation_split must be in (0, 1), received {validation_split}")
    n = len(x[0])
    split_at = int(math.floor(n * (1.0 - validation_split)))
    if split_at == 0 or split_at == n:
        raise ValueError(
            f"fit: validation_split={validation_split} leaves no training or no validation "
            f"samples out of {n}"
        )
    return (([a[:split_at] for a in x], [t[:split_at] for t in y]),
            ([a[split_at:] for a in x], [t[split_at:] for t in y]))


def batches(n, batch_size, order=None):
    """Index slices (or index arrays, when shuffled) of consecutive batches."""
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        yield slice(start, stop) if order is None else order[start:stop]

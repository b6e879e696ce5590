"""Merge and reshaping layers vs TensorFlow: forward and dL/d(every input).

Add, Subtract, Multiply, Average, Maximum, Minimum (same shapes, broadcast shapes, one
tensor fed twice, ties for Maximum/Minimum), Concatenate (every non-batch axis), Reshape
(with -1), Permute, ZeroPadding2D, Cropping2D, UpSampling2D -- each called as a layer on
Hypothesis-drawn inputs and differentiated with a random upstream dL/dy, on both sides.
Values are drawn from a small grid (multiples of 1/8) in float32, so sums and products are
exact and even ties happen; float64 uses ordinary random numbers.

The batch is 5, larger than any drawn feature size, for a Keras 3 quirk met here:
`keras.ops.add` (TensorFlow backend) turns x1 + x2 into `tf.nn.bias_add` whenever x2
squeezes to a vector as long as x1's last (or second) axis -- so a (2, 1) tensor added to a
(2, 2) one is added along the wrong axis ([[1, 2], [3, 4]] + [[10], [20]] gives
[[11, 22], [13, 24]] in Keras, [[11, 12], [23, 24]] in NumPy and scratchnet).
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import parity_log
from scratchnet import layers
from tf_support import import_tf

tf = import_tf()
import keras  # noqa: E402

DTYPES = ("float32", "float64")
BATCH = 5                                  # > every feature size drawn (see the docstring)


def values(rng, shape, dtype):
    if dtype == "float32":
        return (rng.integers(-16, 17, shape) / 8).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def tf_forward_backward(layer, xs, dy):
    ts = [tf.constant(x) for x in xs]
    with tf.GradientTape() as tape:
        for t in ts:
            tape.watch(t)
        y = layer(ts if len(ts) > 1 or isinstance(layer, keras.layers.Concatenate) else ts[0])
    grads = tape.gradient(y, ts, output_gradients=tf.constant(dy))
    return y.numpy(), [np.zeros_like(x) if g is None else g.numpy() for g, x in zip(grads, xs)]


def compare(ours, theirs, xs, dtype, rng, area, takes_list=True):
    arg = xs if takes_list else xs[0]
    y = ours(arg)
    assert ours.compute_output_shape([(None,) + x.shape[1:] for x in xs] if takes_list
                                     else (None,) + xs[0].shape[1:])[1:] == y.shape[1:]
    y, cache = ours.forward(arg)
    dy = values(rng, y.shape, dtype)
    dx = ours.backward(dy, cache)
    dx = dx if takes_list else [dx]
    y_tf, dx_tf = tf_forward_backward(theirs, xs, dy)
    parity_log.check(y, y_tf, dtype, f"{area} forward", area)
    assert len(dx) == len(dx_tf)
    for i, (a, b) in enumerate(zip(dx, dx_tf)):
        parity_log.check(np.ascontiguousarray(a), b, dtype, f"{area} dL/dx{i}", area)


MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


@pytest.mark.parametrize("kind", MERGES)
@given(dtype=st.sampled_from(DTYPES), rank=st.integers(1, 3), count=st.integers(2, 4),
       broadcast=st.booleans(), twice=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_merge_layers_match_keras(kind, dtype, rank, count, broadcast, twice, seed):
    rng = np.random.default_rng(seed)
    if kind == "Subtract":
        count = 2
    shape = tuple(rng.integers(1, 4, rank))
    xs = [values(rng, (BATCH,) + shape, dtype) for _ in range(count)]
    if broadcast:                                     # a size-1 axis against a full one
        axis = int(rng.integers(1, rank + 1))
        xs[-1] = np.ascontiguousarray(xs[-1].take([0], axis=axis))
    if twice:
        xs[1] = xs[0]                                 # one tensor fed in twice
    ours = getattr(layers, kind)(dtype=dtype)
    theirs = getattr(keras.layers, kind)(dtype=dtype)
    compare(ours, theirs, xs, dtype, rng, f"merge {kind}")


@given(dtype=st.sampled_from(DTYPES), rank=st.integers(2, 4), count=st.integers(2, 3),
       seed=st.integers(0, 2**32 - 1), data=st.data())
def test_concatenate_matches_keras(dtype, rank, count, seed, data):
    rng = np.random.default_rng(seed)
    axis = data.draw(st.sampled_from([-1] + list(range(1, rank)) + [-(rank - 1)]))
    base = list(rng.integers(1, 4, rank))
    xs = []
    for _ in range(count):
        shape = list(base)
        shape[axis] = int(rng.integers(1, 4))
        xs.append(values(rng, (2,) + tuple(shape[1:]), dtype))
    compare(layers.Concatenate(axis=axis, dtype=dtype),
            keras.layers.Concatenate(axis=axis, dtype=dtype), xs, dtype, rng, "Concatenate")


@given(dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_reshape_and_permute_match_keras(dtype, seed, data):
    rng = np.random.default_rng(seed)
    shape = tuple(int(d) for d in rng.integers(1, 4, 3))
    x = values(rng, (2,) + shape, dtype)
    size = int(np.prod(shape))
    target = data.draw(st.sampled_from([(size,), (-1,), (size, 1), (1, -1), shape[::-1]]))
    compare(layers.Reshape(target, dtype=dtype), keras.layers.Reshape(target, dtype=dtype),
            [x], dtype, rng, "Reshape", takes_list=False)
    dims = tuple(int(d) for d in data.draw(st.permutations([1, 2, 3])))
    compare(layers.Permute(dims, dtype=dtype), keras.layers.Permute(dims, dtype=dtype),
            [x], dtype, rng, "Permute", takes_list=False)


SIDES = st.one_of(st.integers(0, 2), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                  st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                            st.tuples(st.integers(0, 2), st.integers(0, 2))))


@given(dtype=st.sampled_from(DTYPES), padding=SIDES, cropping=SIDES,
       size=st.tuples(st.integers(1, 3), st.integers(1, 3)), seed=st.integers(0, 2**32 - 1))
def test_padding_cropping_upsampling_match_keras(dtype, padding, cropping, size, seed):
    rng = np.random.default_rng(seed)
    x = values(rng, (2, int(rng.integers(5, 8)), int(rng.integers(5, 8)),
                     int(rng.integers(1, 3))), dtype)
    compare(layers.ZeroPadding2D(padding, dtype=dtype),
            keras.layers.ZeroPadding2D(padding, dtype=dtype), [x], dtype, rng, "ZeroPadding2D",
            takes_list=False)
    compare(layers.Cropping2D(cropping, dtype=dtype),
            keras.layers.Cropping2D(cropping, dtype=dtype), [x], dtype, rng, "Cropping2D",
            takes_list=False)
    compare(layers.UpSampling2D(size, dtype=dtype), keras.layers.UpSampling2D(size, dtype=dtype),
            [x], dtype, rng, "UpSampling2D", takes_list=False)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match="Subtract.*exactly 2"):
        layers.Subtract()([np.ones((1, 2))] * 3)
    with pytest.raises(ValueError, match="Add.*list of at least 2"):
        layers.Add()(np.ones((1, 2)))
    with pytest.raises(ValueError, match="cannot be combined"):
        layers.Add()([np.ones((1, 2)), np.ones((1, 3))])
    with pytest.raises(ValueError, match="matching shapes except for the concatenation axis"):
        layers.Concatenate()([np.ones((1, 2, 3)), np.ones((1, 3, 3))])
    with pytest.raises(ValueError, match="cannot be reshaped"):
        layers.Reshape((5,))(np.ones((1, 2, 3)))
    with pytest.raises(ValueError, match="at most one -1"):
        layers.Reshape((-1, -1))
    with pytest.raises(ValueError, match="permutation of 1..2"):
        layers.Permute((1, 3))
    with pytest.raises(ValueError, match="padding"):
        layers.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="leaves nothing"):
        layers.Cropping2D(2)(np.ones((1, 4, 4, 1)))
    with pytest.raises(ValueError, match="interpolation='nearest'"):
        layers.UpSampling2D(interpolation="bilinear")
    with pytest.raises(ValueError, match="rank 4"):
        layers.ZeroPadding2D()(np.ones((1, 4, 4)))

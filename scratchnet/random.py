"""`tf.random`: seeding (`tf.random.set_seed`, TF1's `tf.set_random_seed`) and random tensors.

    tf.random.set_seed(0)
    tf.random.normal((2, 3), mean=0.0, stddev=1.0)       # float32, as in TensorFlow
    tf.random.uniform((2,), minval=0, maxval=10, dtype=tf.int32, seed=1)

The numbers come from NumPy's generator, not TensorFlow's Philox, so they differ from
TensorFlow's -- but the rules are TensorFlow's: after `set_seed(s)` the sequence of draws is
the same on every run; an op-level `seed=` gives its own reproducible sequence (two calls with
the same seed differ, a re-run repeats them); without any seed the draws are fresh.
"""
import numpy as np

from scratchnet import backend
from scratchnet.basics import _dtype
from scratchnet.tensors import Tensor, plain

_seeded = {}        # op seed -> its generator (restarted by set_seed)


def set_seed(seed):
    """Seed scratchnet's generator (initializers, shuffling, dropout, tf.random.*)."""
    backend.set_random_seed(_seed(seed, "tf.random.set_seed"))
    _seeded.clear()
    _global_seed[0] = _seed(seed, "tf.random.set_seed")


_global_seed = [None]


def _seed(seed, what):
    """An int seed (negative ones too, as TensorFlow takes them) as a NumPy seed (>= 0)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"{what}: seed must be an int, received {seed!r}")
    return int(seed) % 2**64


def generator(seed, what):
    """The generator an operation with op seed `seed` draws from: scratchnet's own when seed
    is None, else the seed's own generator (restarted by set_seed), so that the calls with
    one seed continue one sequence."""
    if seed is None:
        return backend.rng()
    key = _seed(seed, what)
    if key not in _seeded:
        base = 0 if _global_seed[0] is None else _global_seed[0]
        _seeded[key] = np.random.default_rng([base, key])
    return _seeded[key]


def _shape(shape, what):
    try:
        return tuple(int(d) for d in np.asarray(plain(shape)).reshape(-1))
    except (TypeError, ValueError):
        raise TypeError(f"{what}: shape must be a list of ints, received {shape!r}") from None


def normal(shape, mean=0.0, stddev=1.0, dtype=np.float32, seed=None, name=None):
    """Samples of N(mean, stddev^2) (float32 unless `dtype` says otherwise)."""
    what = "tf.random.normal"
    values = generator(seed, what).normal(plain(mean), plain(stddev), _shape(shape, what))
    return Tensor._from(np.asarray(values, dtype=_dtype(dtype, what)))


def uniform(shape, minval=0, maxval=None, dtype=np.float32, seed=None, name=None):
    """Samples of U[minval, maxval) (maxval defaults to 1 for floats; integers need it)."""
    what = "tf.random.uniform"
    dtype = _dtype(dtype, what)
    gen = generator(seed, what)
    size = _shape(shape, what)
    if dtype.kind in "iu":
        if maxval is None:
            raise ValueError(f"{what}: maxval is required for integer dtypes")
        return Tensor._from(gen.integers(plain(minval), plain(maxval), size).astype(dtype))
    high = 1.0 if maxval is None else plain(maxval)
    return Tensor._from(gen.uniform(plain(minval), high, size).astype(dtype))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=np.float32, seed=None, name=None):
    """N(mean, stddev^2) samples, redrawn while more than 2 stddev from the mean."""
    what = "tf.random.truncated_normal"
    gen = generator(seed, what)
    size = _shape(shape, what)
    z = gen.standard_normal(size)
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return Tensor._from((plain(mean) + plain(stddev) * z).astype(_dtype(dtype, what)))


def shuffle(value, seed=None, name=None):
    """The tensor with its first axis in a random order."""
    a = np.asarray(plain(value))
    return Tensor._from(a[generator(seed, "tf.random.shuffle").permutation(len(a))])


__all__ = ["normal", "set_seed", "shuffle", "truncated_normal", "uniform"]

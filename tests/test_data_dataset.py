"""scratchnet.data.Dataset against tf.data: deterministic pipelines yield exactly TF's elements
(values, dtypes, structure) and TF's cardinality; shuffle is a seeded permutation; prefetch's
thread never outlives its iteration."""
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from tf_support import import_tf

tf = import_tf()

X = np.arange(24, dtype=np.float32).reshape(12, 2)
Y = np.arange(12, dtype=np.int64) % 5
IDS = np.arange(12, dtype=np.int32)


# --- functions used inside pipelines (work on TF tensors and NumPy arrays alike) -----------

def add_pair(x, y):
    return x * 2.0, y + 1


def from_dict(d):
    return {"s": d["x"][..., 0] + d["x"][..., 1], "y": d["y"]}


def as_list(x, y):
    return [y, x]


def not_multiple_of_3(x, y):
    return y % 3 != 0


def odd(v):
    return v % 2 == 1


def square(v):
    return v * v


# --- deterministic pipelines, each built with tf and with scratchnet -----------------------

PIPELINES = {
    "slices_array": lambda t: t.data.Dataset.from_tensor_slices(X),
    "slices_tuple": lambda t: t.data.Dataset.from_tensor_slices((X, Y)),
    "slices_dict": lambda t: t.data.Dataset.from_tensor_slices({"x": X, "y": Y}),
    "slices_nested": lambda t: t.data.Dataset.from_tensor_slices((X, {"y": Y, "i": IDS})),
    "slices_python_ints": lambda t: t.data.Dataset.from_tensor_slices([3, 1, 4, 1, 5]),
    "slices_python_floats": lambda t: t.data.Dataset.from_tensor_slices([[1.5, 2.0], [0.5, 3.0]]),
    "from_tensors": lambda t: t.data.Dataset.from_tensors((X, Y)),
    "from_tensors_list": lambda t: t.data.Dataset.from_tensors([1, 2, 3]),
    "range": lambda t: t.data.Dataset.range(2, 17, 3),
    "batch": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).batch(5),
    "batch_drop": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).batch(5, True),
    "batch_dict": lambda t: t.data.Dataset.from_tensor_slices({"x": X, "y": Y}).batch(4),
    "map_tuple": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).map(add_pair),
    "map_dict": lambda t: t.data.Dataset.from_tensor_slices({"x": X, "y": Y}).map(from_dict),
    "map_list_to_tuple": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).map(as_list),
    "map_parallel": lambda t: t.data.Dataset.range(9).map(square,
                                                          num_parallel_calls=t.data.AUTOTUNE),
    "filter": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).filter(not_multiple_of_3),
    "take": lambda t: t.data.Dataset.range(10).take(4),
    "take_all": lambda t: t.data.Dataset.range(10).take(-1),
    "take_more": lambda t: t.data.Dataset.range(10).take(25),
    "skip": lambda t: t.data.Dataset.range(10).skip(7),
    "skip_all": lambda t: t.data.Dataset.range(10).skip(-1),
    "skip_more": lambda t: t.data.Dataset.range(10).skip(25),
    "repeat": lambda t: t.data.Dataset.range(4).repeat(3),
    "repeat_0": lambda t: t.data.Dataset.range(4).repeat(0),
    "repeat_forever_take": lambda t: t.data.Dataset.range(4).repeat().take(10),
    "repeat_empty_forever": lambda t: t.data.Dataset.range(0).repeat(),
    "unbatch": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).batch(5).unbatch(),
    "unbatch_drop": lambda t: t.data.Dataset.range(10).batch(3, drop_remainder=True).unbatch(),
    "unbatch_slices": lambda t: t.data.Dataset.from_tensor_slices(X).unbatch(),
    "zip_args": lambda t: t.data.Dataset.zip(t.data.Dataset.range(5),
                                             t.data.Dataset.from_tensor_slices(X)),
    "zip_tuple": lambda t: t.data.Dataset.zip((t.data.Dataset.range(8).repeat(),
                                               t.data.Dataset.from_tensor_slices((X, Y)))),
    "zip_dict": lambda t: t.data.Dataset.zip({"a": t.data.Dataset.range(3),
                                              "b": t.data.Dataset.range(10, 20)}),
    "enumerate": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).enumerate(),
    "enumerate_start": lambda t: t.data.Dataset.range(5, 9).enumerate(start=100),
    "cache_twice": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).map(add_pair)
                                                                  .cache().repeat(2),
    "prefetch": lambda t: t.data.Dataset.from_tensor_slices((X, Y)).batch(3).prefetch(
        t.data.AUTOTUNE),
    "prefetch_1": lambda t: t.data.Dataset.range(7).prefetch(1),
    "chain": lambda t: (t.data.Dataset.from_tensor_slices((X, Y)).map(add_pair)
                        .filter(not_multiple_of_3).batch(2).repeat(2).take(5)
                        .prefetch(t.data.AUTOTUNE)),
    "chain_unbatch_filter": lambda t: (t.data.Dataset.range(20).batch(6).unbatch()
                                       .filter(odd).skip(2).enumerate(1)),
}

# Pipelines that never end (or are not worth running): compared by cardinality only.
CARDINALITY_ONLY = {
    "repeat_forever": lambda t: t.data.Dataset.range(4).repeat(),
    "filter_forever": lambda t: t.data.Dataset.range(4).repeat().filter(odd),
    "repeat_unknown": lambda t: t.data.Dataset.range(4).filter(odd).repeat(),
    "repeat_unknown_0": lambda t: t.data.Dataset.range(4).filter(odd).repeat(0),
    "repeat_unknown_2": lambda t: t.data.Dataset.range(4).filter(odd).repeat(2),
    "repeat_infinite_0": lambda t: t.data.Dataset.range(4).repeat().repeat(0),
    "take_unknown": lambda t: t.data.Dataset.range(4).filter(odd).take(2),
    "take_infinite": lambda t: t.data.Dataset.range(4).repeat().take(9),
    "take_infinite_all": lambda t: t.data.Dataset.range(4).repeat().take(-1),
    "skip_infinite": lambda t: t.data.Dataset.range(4).repeat().skip(3),
    "skip_unknown": lambda t: t.data.Dataset.range(4).filter(odd).skip(1),
    "batch_infinite": lambda t: t.data.Dataset.range(4).repeat().batch(3),
    "batch_unknown": lambda t: t.data.Dataset.range(4).filter(odd).batch(3),
    "zip_infinite_unknown": lambda t: t.data.Dataset.zip(t.data.Dataset.range(3).repeat(),
                                                         t.data.Dataset.range(4).filter(odd)),
    "zip_all_infinite": lambda t: t.data.Dataset.zip(t.data.Dataset.range(3).repeat(),
                                                     t.data.Dataset.range(4).repeat()),
    "shuffle_infinite": lambda t: t.data.Dataset.range(4).repeat().shuffle(3, seed=1),
    "enumerate_infinite": lambda t: t.data.Dataset.range(4).repeat().enumerate(),
    "map_unknown": lambda t: t.data.Dataset.range(4).filter(odd).map(square),
    "cache_prefetch_unknown": lambda t: t.data.Dataset.range(4).filter(odd).cache().prefetch(2),
    "unbatch_infinite": lambda t: t.data.Dataset.range(9).batch(3).repeat().unbatch(),
}


def assert_same_element(ours, theirs, where):
    assert type(ours) is type(theirs) or not isinstance(theirs, (tuple, dict)), \
        f"{where}: structure {type(ours).__name__} vs TF's {type(theirs).__name__}"
    if isinstance(theirs, tuple):
        assert len(ours) == len(theirs), where
        for i, (a, b) in enumerate(zip(ours, theirs)):
            assert_same_element(a, b, f"{where}[{i}]")
    elif isinstance(theirs, dict):
        assert sorted(ours) == sorted(theirs), where
        for key in theirs:
            assert_same_element(ours[key], theirs[key], f"{where}[{key!r}]")
    else:
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        assert ours.dtype == theirs.dtype, f"{where}: dtype {ours.dtype} vs TF's {theirs.dtype}"
        assert ours.shape == theirs.shape, f"{where}: shape {ours.shape} vs TF's {theirs.shape}"
        np.testing.assert_array_equal(ours, theirs, err_msg=where)


def assert_same_dataset(ours, theirs):
    assert ours.cardinality() == int(theirs.cardinality())
    expected = list(theirs.as_numpy_iterator())
    for run in range(2):                       # iterating twice gives the same elements again
        got = list(ours.as_numpy_iterator())
        assert len(got) == len(expected), f"run {run}: {len(got)} elements, TF {len(expected)}"
        for i, (a, b) in enumerate(zip(got, expected)):
            assert_same_element(a, b, f"run {run}, element {i}")
    assert_same_len(ours, theirs)


def assert_same_len(ours, theirs):
    """len() as TF: the count, or TypeError with TF's message when infinite / unknown."""
    if int(theirs.cardinality()) >= 0:
        assert len(ours) == len(theirs)
        return
    with pytest.raises(TypeError) as theirs_error:
        len(theirs)
    with pytest.raises(TypeError) as ours_error:
        len(ours)
    assert str(ours_error.value) == str(theirs_error.value)


@pytest.mark.parametrize("name", sorted(PIPELINES))
def test_pipeline_matches_tf(name):
    assert_same_dataset(PIPELINES[name](sn), PIPELINES[name](tf))


@pytest.mark.parametrize("name", sorted(CARDINALITY_ONLY))
def test_cardinality_matches_tf(name):
    ours, theirs = CARDINALITY_ONLY[name](sn), CARDINALITY_ONLY[name](tf)
    assert ours.cardinality() == int(theirs.cardinality())
    assert_same_len(ours, theirs)


def test_constants_and_namespace():
    assert sn.data.AUTOTUNE == tf.data.AUTOTUNE
    assert sn.data.INFINITE_CARDINALITY == tf.data.INFINITE_CARDINALITY
    assert sn.data.UNKNOWN_CARDINALITY == tf.data.UNKNOWN_CARDINALITY
    assert sn.data.experimental.AUTOTUNE == tf.data.experimental.AUTOTUNE
    assert bool(sn.data.Dataset.range(0)) and bool(tf.data.Dataset.range(0))


@given(n=st.integers(0, 30), batch_size=st.integers(1, 12), drop=st.booleans(),
       take=st.integers(-1, 35), skip=st.integers(-1, 35))
def test_drawn_batch_take_skip_match_tf(n, batch_size, drop, take, skip):
    def pipeline(t):
        x = np.arange(2 * n, dtype=np.float32).reshape(n, 2)
        ds = t.data.Dataset.from_tensor_slices((x, np.arange(n)))
        return ds.skip(skip).take(take).batch(batch_size, drop_remainder=drop)

    assert_same_dataset(pipeline(sn), pipeline(tf))
    assert_same_dataset(pipeline(sn).unbatch(), pipeline(tf).unbatch())


# --- shuffle -----------------------------------------------------------------------------

def shuffled(n, buffer_size, seed, reshuffle=None, epochs=1):
    ds = sn.data.Dataset.range(n).shuffle(buffer_size, seed=seed,
                                          reshuffle_each_iteration=reshuffle)
    return [[int(v) for v in ds] for _ in range(epochs)]


@given(n=st.integers(0, 60), buffer_size=st.integers(1, 80), seed=st.integers(0, 2**32))
def test_shuffle_is_a_reproducible_permutation(n, buffer_size, seed):
    (order,) = shuffled(n, buffer_size, seed)
    assert sorted(order) == list(range(n))
    assert shuffled(n, buffer_size, seed) == [order]
    ds = sn.data.Dataset.range(n).shuffle(buffer_size, seed=seed)
    assert ds.cardinality() == n


def test_shuffle_mixes_and_buffer_one_keeps_order():
    assert shuffled(50, 1, seed=3) == [list(range(50))]
    (order,) = shuffled(50, 50, seed=3)
    assert order != list(range(50))
    # a buffer of b elements can only pick among what it has read so far: element i comes
    # out at position i - (b - 1) or later.
    (order,) = shuffled(200, 5, seed=7)
    assert all(order.index(i) >= i - 4 for i in range(200))


def test_shuffle_reshuffles_each_epoch_or_not():
    first, second = shuffled(40, 40, seed=11, epochs=2)
    assert first != second and sorted(first) == sorted(second) == list(range(40))
    assert shuffled(40, 40, seed=11, epochs=2) == [first, second]      # still reproducible
    same = shuffled(40, 40, seed=11, reshuffle=False, epochs=3)
    assert same[0] == same[1] == same[2] != list(range(40))
    # repeat() after shuffle runs the shuffle again each time: a new order per repetition
    ds = sn.data.Dataset.range(30).shuffle(30, seed=5).repeat(2)
    values = [int(v) for v in ds]
    assert values[:30] != values[30:] and sorted(values[30:]) == list(range(30))


def test_shuffle_without_seed_follows_the_global_seed():
    sn.random.set_seed(123)
    a = shuffled(40, 40, seed=None)
    sn.random.set_seed(123)
    b = shuffled(40, 40, seed=None)
    assert a == b and a != [list(range(40))]


# --- prefetch's background thread ---------------------------------------------------------

def test_prefetch_leaves_no_thread_after_an_early_break():
    before = threading.active_count()
    ds = sn.data.Dataset.range(10).repeat().map(square).prefetch(2).batch(3).prefetch(
        sn.data.AUTOTUNE)
    for i, batch in enumerate(ds):
        assert threading.active_count() >= before + 2        # both prefetch threads run
        if i == 3:
            break
    assert threading.active_count() == before
    iterator = iter(ds)
    next(iterator)
    iterator.close()
    assert threading.active_count() == before
    assert [int(v) for v in sn.data.Dataset.range(50).prefetch(1)] == list(range(50))
    assert threading.active_count() == before


def test_prefetch_raises_upstream_errors_in_the_consumer():
    def fails_at_3(v):
        if v == 3:
            raise RuntimeError("element 3 is bad")
        return v

    before = threading.active_count()
    got = []
    with pytest.raises(RuntimeError, match="element 3 is bad"):
        for v in sn.data.Dataset.range(10).map(fails_at_3).prefetch(4):
            got.append(int(v))
    assert got == [0, 1, 2]
    assert threading.active_count() == before


def test_cache_runs_the_upstream_once():
    calls = []

    def counted(v):
        calls.append(int(v))
        return v

    ds = sn.data.Dataset.range(5).map(counted).cache()
    for _ in ds.take(2):              # a partial run caches nothing
        pass
    assert [int(v) for v in ds] == list(range(5))
    assert [int(v) for v in ds] == list(range(5))
    assert calls == [0, 1, 0, 1, 2, 3, 4]


# --- bad input -------------------------------------------------------------------------------

def test_bad_arguments_raise_clear_errors():
    D = sn.data.Dataset
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 2\)"):
        D.from_tensor_slices((np.zeros(3), np.zeros((2, 2))))
    with pytest.raises(ValueError, match="scalar"):
        D.from_tensor_slices(np.float32(1.0))
    with pytest.raises(ValueError, match="batch_size must be >= 1, received 0"):
        D.range(3).batch(0)
    with pytest.raises(TypeError, match="batch_size must be an int"):
        D.range(3).batch(2.5)
    with pytest.raises(ValueError, match="buffer_size must be >= 1, received 0"):
        D.range(3).shuffle(0)
    with pytest.raises(ValueError, match="buffer_size must be >= 0"):
        D.range(3).prefetch(-5)
    with pytest.raises(ValueError, match="count must be >= -1"):
        D.range(3).take(-2)
    with pytest.raises(TypeError, match="expected a function"):
        D.range(3).map(3)
    with pytest.raises(TypeError, match="tuple or dict of Datasets"):
        D.zip(D.range(3), np.arange(3))
    with pytest.raises(ValueError, match=r"shape \(2,\) and element 1 had shape \(3,\)"):
        list(D.range(2).map(lambda a: np.zeros(2 + int(a))).batch(2))
    with pytest.raises(ValueError, match="scalar boolean"):
        list(D.range(3).filter(lambda v: v))
    with pytest.raises(NotImplementedError, match="memory only"):
        D.range(3).cache("/tmp/somewhere")

"""Conv2D + MaxPooling2D fused (`Conv2D.forward_fused`, which Sequential uses in fit,
evaluate and predict) gives exactly what the two layers give one after the other: the
pooled output and, in training, dL/dx, dL/dkernel and dL/dbias through both layers; after an
inference pass nothing is lost for a backward pass either.

The fused pass runs the same kernels on the same numbers (only where y lives changes: a
per-thread chunk buffer instead of the full batch; in training the ReLU's gradient is
applied by dropping the argmax of windows whose max is 0), so the comparison is exact, in
both dtypes, serial and split over two threads into many small chunks.
"""
import contextlib

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import scratchnet as sn
from scratchnet import threads
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.padding import output_length
from scratchnet.layers.pooling import AveragePooling2D, MaxPooling2D

DTYPES = ("float32", "float64")


@contextlib.contextmanager
def chunking(split):
    """Inside compute_threads(); split=True: two threads, one image per chunk (so a thread's
    last chunk is shorter than its buffer), whatever else runs on the machine."""
    saved = threads.CHUNK_BYTES, threads._num_threads, threads._judge
    if split:
        judge = threads._Judge()
        judge.MAX_OTHERS = float("inf")
        threads.CHUNK_BYTES, threads._num_threads, threads._judge = 1, 2, judge
    try:
        with threads.compute_threads():
            yield
    finally:
        threads.CHUNK_BYTES, threads._num_threads, threads._judge = saved


SPLIT = pytest.mark.parametrize("split", (False, True), ids=("serial", "split"))


@st.composite
def conv_pool(draw, dtype):
    """A Conv2D (ReLU or linear, with or without bias; one-channel cases reach the direct
    kernel) followed by a MaxPooling2D that fits its output, with weights and a batch."""
    batch = draw(st.integers(1, 5))
    height, width = draw(st.integers(2, 12)), draw(st.integers(2, 12))
    channels = draw(st.sampled_from((1, 1, 2, 3)))
    filters = draw(st.sampled_from((1, 3, 6, 16, 17)))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    strides = draw(st.sampled_from(((1, 1), (1, 1), (2, 1), (2, 2))))
    padding = draw(st.sampled_from(("valid", "same")))
    conv_out = tuple(output_length(n, k, s, padding)
                     for n, k, s in zip((height, width), kernel, strides))
    assume(min(conv_out) > 0)
    pool_size = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    pool_strides = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    pool_padding = draw(st.sampled_from(("valid", "same")))
    pool_out = tuple(output_length(n, k, s, pool_padding)
                     for n, k, s in zip(conv_out, pool_size, pool_strides or pool_size))
    assume(min(pool_out) > 0)
    conv = Conv2D(filters, kernel, strides, padding, activation=draw(st.sampled_from(
        (None, "relu"))), use_bias=draw(st.booleans()), dtype=dtype)
    pool = MaxPooling2D(pool_size, pool_strides, pool_padding, dtype=dtype)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((batch, height, width, channels)).astype(dtype)
    conv(x)
    conv.set_weights([rng.standard_normal(w.shape).astype(dtype) for w in conv.get_weights()])
    return conv, pool, x


@SPLIT
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_fused_equals_conv_then_pool(dtype, split, data):
    conv, pool, x = data.draw(conv_pool(dtype))
    with chunking(split):
        assert conv.fuses_with(pool)
        expected = pool.forward(conv.forward(x, training=False)[0], training=False)[0].copy()
        fused, _ = conv.forward_fused(x, pool)
    assert fused.dtype == np.dtype(dtype) and fused.shape == expected.shape
    np.testing.assert_array_equal(fused, expected)


@SPLIT
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_backward_after_a_fused_pass_equals_backward_after_training(dtype, split, data):
    """Nothing is kept by a fused pass; a backward afterwards recomputes the conv output
    and the pool's argmax, and gets the gradients a training forward would give."""
    conv, pool, x = data.draw(conv_pool(dtype))
    rng = np.random.default_rng(0)
    with chunking(split):
        z, conv_cache = conv.forward(x, training=True)
        y, pool_cache = pool.forward(z, training=True)
        dy = rng.standard_normal(y.shape).astype(dtype)
        conv.zero_grads()
        expected = ([conv.backward(pool.backward(dy, pool_cache), conv_cache)]
                    + [g.copy() for g in conv.grads])
        _, fused_cache = conv.forward_fused(x, pool)
        conv.zero_grads()
        got = ([conv.backward_fused(dy, fused_cache, pool)]
               + [g.copy() for g in conv.grads])
    for what, a, b in zip(("dL/dx", "dL/dkernel", "dL/dbias"), got, expected):
        np.testing.assert_array_equal(a, b, err_msg=what)


@SPLIT
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("first", (False, True), ids=("with_dx", "first_layer"))
@given(data=st.data())
def test_fused_training_equals_conv_then_pool(dtype, split, first, data):
    """`first`: a first layer, no dL/dx asked for (its own fused backward: per chunk of
    images, the pool's backward and dL/dw while the chunk's dz is in cache)."""
    conv, pool, x = data.draw(conv_pool(dtype))
    assert conv.fuses_with(pool, training=True)       # the direct one-channel kernel too
    # ties: ReLU zeros, and (float64) repeated values in the input, so windows tie too
    results = []
    for fused in (False, True):
        with chunking(split):
            conv.zero_grads()
            if fused:
                y, cache = conv.forward_fused(x, pool, training=True)
                dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
                dx = conv.backward_fused(dy, cache, pool, need_input_grad=not first)
            else:
                z, conv_cache = conv.forward(x, training=True)
                y, pool_cache = pool.forward(z, training=True)
                dy = np.random.default_rng(2).standard_normal(y.shape).astype(dtype)
                dx = conv.backward(pool.backward(dy, pool_cache), conv_cache,
                                   need_input_grad=not first)
            assert (dx is None) == first
            results.append([y.copy(), np.zeros(0) if first else dx]
                           + [g.copy() for g in conv.grads])
    for what, a, b in zip(("pooled y", "dL/dx", "dL/dkernel", "dL/dbias"), *results):
        np.testing.assert_array_equal(a, b, err_msg=what)


def test_a_subclass_that_overrides_forward_or_backward_is_not_fused():
    class ScaledPool(MaxPooling2D):
        def forward(self, x, training=False):
            y, cache = super().forward(x, training)
            return 2 * y, cache

    class ShiftedConv(Conv2D):
        def backward(self, dy, cache, need_input_grad=True):
            return super().backward(dy, cache, need_input_grad)

    conv, shifted = Conv2D(4, 3, activation="relu"), ShiftedConv(4, 3, activation="relu")
    for layer in (conv, shifted):
        layer(np.zeros((1, 6, 6, 2), "float32"))
    assert conv.fuses_with(MaxPooling2D(2))
    assert not conv.fuses_with(ScaledPool(2))
    assert not shifted.fuses_with(MaxPooling2D(2), training=True)
    model = sn.keras.Sequential([Conv2D(4, 3, activation="relu", input_shape=(6, 6, 2)),
                                 ScaledPool(2)])
    x = np.random.default_rng(0).random((3, 6, 6, 2)).astype("float32")
    by_layers = model.layers[1].forward(model.layers[0].forward(x)[0])[0].copy()
    np.testing.assert_array_equal(model.predict(x, verbose=0), by_layers)


def test_only_relu_or_linear_conv_into_max_pooling_fuses():
    conv = Conv2D(4, 3, activation="relu")
    assert not conv.fuses_with(MaxPooling2D(2))                     # not built yet
    conv(np.zeros((1, 6, 6, 2), "float32"))
    assert conv.fuses_with(MaxPooling2D(2)) and conv.fuses_with(MaxPooling2D(2), True)
    assert not conv.fuses_with(AveragePooling2D(2))
    sigmoid = Conv2D(4, 3, activation="sigmoid")
    sigmoid(np.zeros((1, 6, 6, 2), "float32"))
    assert not sigmoid.fuses_with(MaxPooling2D(2))
    assert not conv.fuses_with(MaxPooling2D(2, dtype="float64"))      # float32 conv
    conv.implementation = "naive"
    assert not conv.fuses_with(MaxPooling2D(2))
    assert not MaxPooling2D(2).fuses_with(conv)
    one_channel = Conv2D(6, 5, padding="same", activation="relu")
    one_channel(np.zeros((1, 8, 8, 1), "float32"))
    assert one_channel.fuses_with(MaxPooling2D(2))                      # the direct kernel,
    assert one_channel.fuses_with(MaxPooling2D(2), training=True)       # in training too


@SPLIT
@pytest.mark.parametrize("dtype", DTYPES)
def test_predict_fuses_and_matches_the_layers_one_by_one(dtype, split):
    """The Coursera CNN's predict (two Conv2D + MaxPooling2D pairs, fused) equals running
    its layers one at a time; a batch that does not divide the data is included."""
    sn.utils.set_random_seed(3)
    model = sn.keras.Sequential([
        sn.keras.layers.Conv2D(8, (3, 3), activation="relu", input_shape=(12, 12, 1),
                               dtype=dtype),
        sn.keras.layers.MaxPooling2D(2, 2, dtype=dtype),
        sn.keras.layers.Conv2D(8, (3, 3), activation="relu", dtype=dtype),
        sn.keras.layers.MaxPooling2D(2, 2, dtype=dtype),
        sn.keras.layers.Flatten(dtype=dtype),
        sn.keras.layers.Dense(5, activation="softmax", dtype=dtype),
    ])
    fused_calls = []
    conv = model.layers[0]
    original = type(conv).forward_fused

    def spy(layer, x, pool, training=False):
        fused_calls.append(layer.name)
        return original(layer, x, pool, training)

    # (float32 values: the model, built under the default floatx, takes its input as float32)
    x = np.random.default_rng(1).random((7, 12, 12, 1)).astype("float32").astype(dtype)
    step_by_step = []
    for start in range(0, len(x), 3):       # the same batches (BLAS may round by batch size)
        out = x[start:start + 3]
        for layer in model.layers:
            out = layer.forward(out, training=False)[0].copy()
        step_by_step.append(out)
    step_by_step = np.concatenate(step_by_step)
    try:
        type(conv).forward_fused = spy
        with chunking(split):
            predicted = model.predict(x, batch_size=3, verbose=0)
    finally:
        type(conv).forward_fused = original
    assert fused_calls == [model.layers[0].name, model.layers[2].name] * 3   # 3 batches
    np.testing.assert_array_equal(predicted, step_by_step)


@pytest.mark.parametrize("dtype", DTYPES)
def test_one_filter_gives_the_same_bits_whichever_thread_takes_a_chunk(dtype):
    """A one-filter Conv2D's product is a matrix-vector product, which OpenBLAS rounds
    differently for differently laid-out operands. Its im2col buffers come per thread: a
    one-channel layer's (transposed, row stride = its length) must never serve a 3-channel
    layer of the same depth on one thread while the other thread has a plain one."""
    rng = np.random.default_rng(12)
    first = Conv2D(16, (3, 3), strides=2, dtype=dtype)     # one channel: depth 9, transposed
    second = Conv2D(1, (1, 3), strides=(2, 1), dtype=dtype)   # three channels: depth 9
    x1 = rng.standard_normal((4, 28, 28, 1)).astype(dtype)     # a larger buffer
    x3 = rng.standard_normal((4, 11, 9, 3)).astype(dtype)
    first(x1)
    second(x3)
    pool = MaxPooling2D((1, 2), dtype=dtype)
    with chunking(False):
        first.forward_fused(x1, pool)          # only the calling thread gets its buffer
    results = set()
    for _ in range(30):
        with chunking(True):                  # one image per chunk, either thread
            results.add(second.forward_fused(x3, pool)[0].tobytes())
    assert len(results) == 1

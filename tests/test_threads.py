"""scratchnet.threads: work split over threads gives the same answers as one thread.

Inside fit / evaluate / predict, Conv2D, Dense and the max-pooling kernels cut the batch into
chunks that the calling thread and a helper thread take turns on (`threads.run_split`). These
tests force a split on tiny shapes (MIN_WORK_PER_THREAD = 1) and compare with the serial path:
pooling and the forward passes bit for bit (each chunk does exactly the serial arithmetic on
its rows), the weight gradients within the float tolerances (they are sums of per-chunk
partial sums).
"""
import functools
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import scratchnet.keras as keras
from scratchnet import backend, threads
from scratchnet.kernels import pool_fast, spin
from scratchnet.layers.conv import Conv2D
from scratchnet.layers.dense import Dense
from tolerances import assert_close

DTYPES = ("float32", "float64")


@pytest.fixture
def split_everything(monkeypatch):
    """Within the test: 2 threads, and every bit of work big enough to be split."""
    monkeypatch.setattr(threads, "MIN_WORK_PER_THREAD", 1)
    monkeypatch.setattr(threads, "_num_threads", 2)
    monkeypatch.setattr(threads, "_MIN_SPLIT_RATIO", 1e-9)
    judge = threads._Judge()
    judge.MAX_OTHERS = float("inf")       # whatever else runs on the machine: split
    monkeypatch.setattr(threads, "_judge", judge)


def serial_and_split(fn):
    """fn() computed once on one thread and once split over two."""
    before = threads.num_threads()
    try:
        threads.set_num_threads(1)
        with threads.compute_threads():
            serial = fn()
        threads.set_num_threads(2)
        with threads.compute_threads():
            split = fn()
    finally:
        threads.set_num_threads(before)
    return serial, split


def test_run_split_covers_every_item_once_in_order(split_everything):
    seen = []
    pieces = min(10, threads.CHUNKS_PER_THREAD * threads._CORES)
    with threads.compute_threads():
        assert threads.parts(10) == pieces and threads.parts(1) == 1
        out = threads.run_split(lambda a, b, k: (seen.extend(range(a, b)), (a, b, k))[1], 10)
    assert sorted(seen) == list(range(10))
    assert [k for _, _, k in out] == list(range(pieces)) and out[0][0] == 0
    assert out[-1][1] == 10
    # the chunks depend on the sizes only: outside compute_threads the same chunks, serially
    assert threads.parts(10) == pieces and not threads._can_split()


def test_run_split_reraises_a_chunks_error_after_the_running_chunks_finish(split_everything):
    """Chunk 0 is slow, chunk 1 fails at once. Whichever thread takes which: the error
    reaches the caller only after chunk 0 has finished, and chunks claimed after the error
    (2 and 3) are skipped, not run."""
    started, finished = [], []

    def task(start, stop, k):
        started.append(k)
        if k == 1:
            raise ZeroDivisionError("chunk 1")
        if k == 0:
            time.sleep(0.05)
        finished.append(k)

    with threads.compute_threads(), pytest.raises(ZeroDivisionError, match="chunk 1"):
        threads.run_split(task, 4, pieces=4)
    assert sorted(started) == [0, 1] and finished == [0]


def test_splitting_pauses_while_other_programs_keep_a_core_busy(split_everything, monkeypatch):
    clock = {"now": 100.0, "busy": 0.0, "ours": 0.0}   # seconds: wall, busy cores, this process
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["now"])
    clock["cores"] = 2
    monkeypatch.setattr(threads, "_cpu_sample",
                        lambda now: (now, clock["busy"], clock["ours"], clock["cores"]))
    judge = threads._Judge()
    monkeypatch.setattr(threads, "_judge", judge)

    def window(ours, others):
        clock["now"] += judge.WINDOW_S
        clock["ours"] += ours * judge.WINDOW_S
        clock["busy"] += (ours + others) * judge.WINDOW_S

    with threads.compute_threads():
        assert threads._can_split()                     # the first sample: no verdict yet
        window(ours=1.8, others=0.1)                    # both cores ours: split
        assert threads._can_split()
        window(ours=1.0, others=1.0)                    # a busy program on the other core
        assert not threads._can_split()
        clock["now"] += judge.WINDOW_S / 2              # within the window: no new reading
        assert not threads._can_split()
        window(ours=1.0, others=0.3)                    # it stopped: split again
        assert threads._can_split()
        clock["cores"] = 16                             # a big machine: 14 cores to spare
        window(ours=1.8, others=3.0)                    # others on those: keep splitting
        assert threads._can_split()


def test_cpu_sample_reads_this_machine():
    sample = threads._cpu_sample(1.0)
    if sample is None:
        pytest.skip("no /proc/stat here")
    now, busy, ours, cores = sample
    assert now == 1.0 and busy > 0 and ours > 0 and cores >= 1


def test_no_split_off_the_main_thread(split_everything):
    result = []
    with threads.compute_threads():
        worker = threading.Thread(target=lambda: result.append(threads._can_split()))
        worker.start()
        worker.join()
        assert result == [False] and threads._can_split()


def test_set_num_threads_none_leaves_blas_alone_and_runs_serially(split_everything):
    threads.set_num_threads(None)
    try:
        with threads.compute_threads():
            assert not threads._can_split()
    finally:
        threads.set_num_threads(2)
    with pytest.raises(ValueError):
        threads.set_num_threads(0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ("relu", None, "tanh"))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])   # it never changes
@given(batch=st.integers(1, 5), padding=st.sampled_from(("valid", "same")),
       kernel=st.integers(1, 3), strides=st.integers(1, 2), channels=st.integers(1, 3),
       seed=st.integers(0, 2**32 - 1))
def test_conv_layer_split_equals_serial(split_everything, dtype, activation, batch, padding,
                                        kernel, strides, channels, seed):
    rng = np.random.default_rng(seed)
    x = (rng.integers(-8, 9, (batch, 7, 6, channels)) / 8).astype(dtype)
    layer = Conv2D(3, kernel, strides, padding, activation=activation, dtype=dtype)
    layer(x)
    layer.set_weights([(rng.integers(-8, 9, layer.kernel.shape) / 8).astype(dtype),
                       (rng.integers(-8, 9, 3) / 8).astype(dtype)])
    dy = (rng.integers(-8, 9, layer.compute_output_shape(x.shape)) / 8).astype(dtype)

    def step():
        y, cache = layer.forward(x, training=True)
        layer.zero_grads()
        dx = layer.backward(dy, cache)
        return [y.copy(), dx] + [g.copy() for g in layer.grads]

    serial, split = serial_and_split(step)
    np.testing.assert_array_equal(split[0], serial[0])              # forward: bit for bit
    for what, a, b in zip(("dL/dx", "dL/dkernel", "dL/dbias"), split[1:], serial[1:]):
        assert a.dtype == np.dtype(dtype)
        assert_close(a, b, dtype, what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("units", (4, 300))       # 300: x W and dz W^T cut by columns
def test_dense_layer_split_equals_serial(split_everything, dtype, units):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7)).astype(dtype)
    layer = Dense(units, activation="relu", dtype=dtype)
    layer(x)
    dy = rng.standard_normal((5, units)).astype(dtype)

    def step():
        y, cache = layer.forward(x, training=True)
        layer.zero_grads()
        return [y.copy(), layer.backward(dy, cache)] + [g.copy() for g in layer.grads]

    serial, split = serial_and_split(step)
    for what, a, b in zip(("y", "dL/dx", "dL/dkernel", "dL/dbias"), split, serial):
        assert_close(a, b, dtype, what)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes, cut", [(((5, 7), (7, 300)), "column_block"),
                                         (((200, 7), (7, 4)), "row_block"),
                                         (((200, 7), (7, 300)), "row_block"),
                                         (((130, 7), (7, 1100)), "column_block")])
def test_matmul_blocks_equal_numpy(split_everything, monkeypatch, dtype, shapes, cut):
    """threads.matmul cuts a product of few rows, or a much wider than tall one, by columns,
    others by rows; either way the blocks make a @ b."""
    monkeypatch.setattr(threads, "_CORES", 2)             # two blocks on any machine
    rng = np.random.default_rng(8)
    a, b = (rng.standard_normal(s).astype(dtype) for s in shapes)
    used = []
    run_split = threads.run_split

    def spy(task, count, work=None, pieces=None):
        used.append((task.__name__, pieces))
        return run_split(task, count, work, pieces)

    monkeypatch.setattr(threads, "run_split", spy)
    with threads.compute_threads():
        product = threads.matmul(a, b)
        reused = threads.matmul(a, b.T.copy().T)          # b as a transposed view (dz W^T)
    assert used == [(cut, 2), (cut, 2)]
    assert_close(product, a @ b, dtype, "a @ b")
    assert_close(reused, a @ b, dtype, "a @ (b^T)^T")


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_split_is_bit_identical(split_everything, dtype):
    rng = np.random.default_rng(4)
    x = np.maximum(rng.standard_normal((5, 7, 7, 3)), 0).astype(dtype)   # ties at 0

    def both():
        y, argmax = pool_fast.max_pool_forward(x, (2, 2), (2, 2), (0, 0), (3, 3))
        return y, argmax, pool_fast.max_pool_backward(y * 3, argmax, x.shape)

    for a, b in zip(*serial_and_split(both)):
        np.testing.assert_array_equal(a, b)


def test_cnn_fit_with_two_threads_matches_one(split_everything):
    """A whole float64 CNN training run: the split changes only rounding."""
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((24, 10, 10, 1)), rng.integers(0, 3, 24)
    backend.set_floatx("float64")
    results = []
    for count in (1, 2):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.layers.Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1)),
            keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"), keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        threads.set_num_threads(count)
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        results.append((history.history["loss"], model.get_weights(), model.predict(x, verbose=0)))
    threads.set_num_threads(2)
    (loss1, w1, p1), (loss2, w2, p2) = results
    assert_close(loss2, loss1, "float64", "loss")
    for a, b in zip(w2, w1):
        assert_close(a, b, "float64", "weights")
    assert_close(p2, p1, "float64", "predictions")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ("chunks", "bands", "winograd"))
def test_fit_gives_the_same_bits_at_1_2_and_3_threads(split_everything, monkeypatch, dtype,
                                                      path):
    """A fixed seed, 1, 2 or 3 threads: the same weights, losses and predictions, bit for bit
    (the chunks and every sum over them depend on the shapes only, `threads.parts`). The
    model has a one-channel direct Conv2D, Conv2D + MaxPooling2D pairs (by im2col in chunks
    of images or in row bands, or by Winograd), BatchNormalization, Dropout and Dense layers
    down to one unit."""
    from scratchnet.layers import conv_fast_paths
    monkeypatch.setattr(conv_fast_paths, "BAND_MIN_BYTES", 0 if path == "bands" else 1 << 62)
    monkeypatch.setattr(conv_fast_paths, "BAND_BYTES", 3000)
    monkeypatch.setattr(conv_fast_paths, "WINOGRAD_MIN_WORK",
                        0 if path == "winograd" else 1 << 62)
    monkeypatch.setattr(conv_fast_paths, "WINOGRAD_MIN_CHANNELS", 4)
    rng = np.random.default_rng(6)
    x, y = rng.random((40, 18, 18, 1)).astype(dtype), rng.integers(0, 2, 40).astype(dtype)
    backend.set_floatx(dtype)
    runs = []
    try:
        for count in (1, 2, 3):
            threads.set_num_threads(count)
            keras.utils.set_random_seed(0)
            model = keras.Sequential([
                keras.Input((18, 18, 1)),
                keras.layers.Conv2D(4, 3, activation="relu"),
                keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.MaxPooling2D(2),
                keras.layers.BatchNormalization(),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                keras.layers.Dropout(0.3), keras.layers.Dense(24, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid")])
            model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
            history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
            runs.append((history.history, model.get_weights(), model.predict(x, verbose=0)))
    finally:
        threads.set_num_threads(2)
        backend.set_floatx("float32")
    for history, weights, predictions in runs[1:]:
        assert history == runs[0][0]
        for a, b in zip(weights, runs[0][1]):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(predictions, runs[0][2])


def test_a_forked_child_gets_a_fresh_pool(split_everything):
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    with threads.compute_threads():
        threads.run_split(lambda a, b, k: None, 4)          # the parent's pool exists
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:
        assert pool.apply(_split_in_child) == list(range(4))


def _split_in_child():
    threads.MIN_WORK_PER_THREAD, threads._num_threads = 1, 2
    with threads.compute_threads():
        return [k for k in threads.run_split(lambda a, b, k: k, 4)]


def test_run_tasks_returns_every_result_in_order(split_everything):
    """The first two tasks meet at a barrier: they can only both pass it when two threads
    (the caller and a helper) run them at the same time."""
    ran_on = []
    meet = threading.Barrier(2, timeout=10)

    def task(k):
        ran_on.append(threading.get_ident())
        if k < 2:
            meet.wait()
        return k * k

    with threads.compute_threads():
        assert threads.run_tasks([functools.partial(task, k) for k in range(8)]) == \
            [k * k for k in range(8)]
    assert threading.get_ident() in ran_on and len(set(ran_on[:2])) == 2
    assert threads.run_tasks([lambda: 1, lambda: 2]) == [1, 2]   # outside: serially


def test_run_tasks_of_nothing_is_nothing(split_everything):
    with threads.compute_threads():
        assert threads.run_tasks([]) == []


def test_fewer_threads_after_more_uses_fewer(split_everything):
    """4 threads: the first 4 tasks meet at a barrier (so 4 threads ran them). Then 2: the
    first 2 meet (the caller and helper 1 work), and the 3 helpers that exist, spinning or
    woken by every split, must leave the other tasks to those two."""
    def idents(count):
        threads.set_num_threads(count)
        seen = []
        meet = threading.Barrier(count, timeout=10)

        def task(k):
            seen.append(threading.get_ident())
            if k < count:
                meet.wait()
            time.sleep(0.003)

        with threads.compute_threads():
            threads.run_tasks([functools.partial(task, k) for k in range(12)])
        return set(seen)

    try:
        assert len(idents(4)) == 4                    # helpers 1-3 exist now
        assert len(idents(2)) == 2                    # ... but only helper 1 works
    finally:
        threads.set_num_threads(2)


def test_spin_while_sees_another_threads_write():
    flag = np.zeros(1, np.int64)
    assert not spin.spin_while(flag, 0, 1000)           # unchanged: the rounds run out
    writer = threading.Timer(0.01, lambda: spin.publish(flag, 7))
    writer.start()
    assert spin.spin_while(flag, 0, 10**12)             # returns once the write lands
    writer.join()
    assert flag[0] == 7

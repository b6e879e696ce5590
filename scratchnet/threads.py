"""How scratchnet uses the cores: one pool of threads at a time, its own, and it never spins.

NumPy's OpenBLAS starts a pool of worker threads that *spin* (busy-wait) between matrix
products, waiting for the next one. scratchnet's training step is many small products with
Python and Numba code in between, so on a 2-core machine the spinning workers fight the main
thread -- and anything else running -- for the cores. Measured on the 2-core development
machine (another process busy on one core, `fit` throughput, float32):

    model               batch   1 BLAS thread   2 BLAS threads
    lecture MLP           32       90,251 img/s     13,207 img/s
    lecture MLP          256      135,458 img/s     15,033 img/s
    Coursera CNN          32        2,449 img/s        344 img/s

So while scratchnet computes (inside fit / evaluate / predict / train_on_batch) BLAS runs on
ONE thread (threadpoolctl; the old setting comes back afterwards, so your own NumPy code is
unaffected), and scratchnet uses the other cores itself: Conv2D (im2col, the products, bias
and ReLU, and backward's dz, dw share, dcols and col2im), max pooling and big Dense layers
cut the batch into chunks (`run_split`), which the calling thread and `num_threads() - 1`
persistent helper threads claim one at a time from a shared counter. Numba kernels are
`nogil`, NumPy's matmul drops the GIL, and a waiting helper sleeps on a lock, so:

* nobody spins: an idle helper costs nothing, and a helper whose core is busy elsewhere
  just claims fewer chunks (the caller does them) instead of holding everyone at a barrier;
* splitting stops while another program keeps a core busy (`_Judge`): every 0.2 s it reads
  the busy time of our cores from /proc/stat, minus this process's own CPU time; when
  others used more than half a core, the next 0.2 s run serially.

Why the judge: Linux shares the CPU per session ("autogroup") before per thread, so as soon
as one other program is busy, a 2-thread scratchnet gets one core's worth for both threads.
Measured (2-core AMD EPYC VM, other engineers' test suites running, float32, batch 32):

    two threads, each half of a (3872, 576) @ (576, 64) sgemm, BLAS at 1 thread:
        both cores ours (our session at nice -19)          1.84x the serial speed
        one other process busy                            1.05 - 1.23x
        np.sin over 1e6 doubles, the same two cases        1.90x / 1.16x

    `fit` / `predict` img/s, batch 32, median of 5-7 passes over 512 images; scratchnet on
    1 thread -> 2 threads, and TensorFlow 2.21 (XLA, its default threads), same process.
    Both cores ours (our session at nice -19):
                          fit                            predict
        Coursera 64     1,274 -> 1,713   TF 1,415        3,757 -> 4,874    TF 2,765
        Coursera 32     3,257 -> 3,645   TF 2,040        8,270 -> 9,676    TF 3,450
        LeNet-5         4,580 -> 5,110   TF 2,744        8,536 -> 10,477   TF 4,508
        Python-ML       1,420 -> 1,593   TF 1,446        4,088 -> 5,314    TF 3,024
        MLP (no split) 47,442 / 47,558   TF 5,314       94,304 / 93,100    TF 6,820
    A busy loop (`python -c 'while True: pass'`) plus other engineers' test suites running:
        Coursera 64     1,350 -> 1,342   TF   754        3,718 -> 3,866    TF 1,794
        Coursera 32     2,560 -> 2,846   TF 1,404        6,755 -> 6,503    TF 2,538
        LeNet-5         3,887 -> 4,279   TF 1,459        6,446 -> 7,807    TF 2,916
        Python-ML       1,387 -> 1,264   TF   757        3,754 -> 3,905    TF 2,602
        MLP (no split) 48,047 / 46,241   TF 4,488       91,687 / 84,109    TF 4,972
    (run-to-run noise on this shared machine is +-15%.) The split layers got 1.4 - 1.75
    CPU-seconds per second with the cores ours (Conv2D alone, 13x13x64 -> 64: forward 7.0 ->
    3.3 ms, backward 11.9 -> 6.3 ms), ~1.0 with other processes busy, when the judge turns
    splitting off: then 2 threads stay within the noise of 1 thread, where TensorFlow's speed
    halves. (An earlier judge went by that ratio itself -- CPU-seconds per second of split
    work -- and was fooled: a Numba kernel loading from its cache inside a chunk, the other
    thread waiting, made a quiet machine look busy, and the serial pause that followed
    covered whole benchmark runs, Coursera-32 predict 14-16k instead of 23-29k img/s.) Numba's own prange (OpenMP/workqueue threads) was 10-30x SLOWER under load in
    earlier measurements (see kernels/conv_fast.py): its threads wait at barriers for a
    thread that is not running.

`scratchnet.threads.set_num_threads(n)` or the environment variable SCRATCHNET_NUM_THREADS
picks the thread count (default: the usable cores, at most 2, the only case measured);
`set_num_threads(1)` computes serially with BLAS at 1 thread, `set_num_threads(None)` leaves
BLAS exactly as it is and splits nothing.
"""
import contextlib
import functools
import itertools
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def _default_threads():
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                      # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 2))


def _from_environment():
    value = os.environ.get("SCRATCHNET_NUM_THREADS")
    if value is None or value.strip() == "":
        return _default_threads()
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"SCRATCHNET_NUM_THREADS must be a positive int, received {value!r}")
    if count < 1:
        raise ValueError(f"SCRATCHNET_NUM_THREADS must be a positive int, received {value!r}")
    return count


_num_threads = _from_environment()
_active = 0                  # > 0 inside compute_threads(): splitting work is allowed
_lock = threading.Lock()
_executor = None             # the persistent pool: num_threads() - 1 helper threads
_executor_size = 0

# Below this much work (multiply-adds, or array elements for the memory-bound kernels), a
# split costs more than it saves: one hand-off to the helper thread is ~20 us.
MIN_WORK_PER_THREAD = 1 << 18
CHUNKS_PER_THREAD = 4
CHUNK_BYTES = 1 << 20        # Conv2D: im2col rows per chunk, for cache locality


def num_threads():
    """Threads scratchnet computes with (None: serial, BLAS left as it is)."""
    return _num_threads


def set_num_threads(count):
    global _num_threads
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"set_num_threads: expected a positive int or None, received {count!r}")
    _num_threads = count


@contextlib.contextmanager
def compute_threads():
    """Within this block BLAS runs single-threaded and scratchnet's layers may split their
    work over `num_threads()` threads; the old BLAS setting returns afterwards."""
    global _active
    if _num_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        _active += 1
        try:
            yield
        finally:
            _active -= 1


def limits_threads(method):
    """Decorator: run a model method inside `compute_threads()`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with compute_threads():
            return method(*args, **kwargs)

    return wrapper


def _can_split():
    """True inside `compute_threads()`, on the main thread, with 2+ threads, while the judge
    finds that splitting pays."""
    return (_active > 0 and _num_threads is not None and _num_threads >= 2
            and threading.current_thread() is threading.main_thread()
            and _judge.splitting_pays())


def parts(count, work=None, per_thread=CHUNKS_PER_THREAD):
    """How many chunks to cut `count` independent items (images, rows) into for the threads:
    1 when they cannot be used (`_can_split`) or the work (total multiply-adds or elements,
    default `count`) is too small to pay for a hand-off; otherwise up to `per_thread` chunks
    per thread, so that the threads can balance the load."""
    if not _can_split():
        return 1
    work = count if work is None else work
    if work < 2 * MIN_WORK_PER_THREAD:
        return 1
    return max(1, min(per_thread * _num_threads, count, int(work // MIN_WORK_PER_THREAD)))


def bounds(count, pieces):
    """[(start, stop), ...]: `count` items cut into `pieces` nearly equal contiguous runs."""
    return [(count * k // pieces, count * (k + 1) // pieces) for k in range(pieces)]


def run_split(task, count, work=None, pieces=None):
    """task(start, stop, k) for the k-th of `pieces` (default `parts(count, work)`) contiguous
    chunks of range(count); returns the results in chunk order.

    The calling thread and the pool's helpers take chunks from a shared counter until none
    is left, and the caller then waits only for chunks a helper has already started. So a
    helper that is slow to wake up (its core busy with another process) costs nothing: the
    caller simply does all the chunks itself. With one chunk this is `[task(0, count, 0)]`.
    """
    if pieces is None:
        pieces = parts(count, work)
    if pieces == 1:
        return [task(0, count, 0)]
    if not _can_split():             # chunks asked for their cache locality: one thread
        return [task(start, stop, k) for k, (start, stop) in enumerate(bounds(count, pieces))]
    split = _Split(task, bounds(count, pieces))
    pool = _pool(_num_threads - 1)
    for _ in range(min(_num_threads, pieces) - 1):
        pool.submit(split.work)
    split.work()
    split.finished.wait()
    if split.error is not None:
        raise split.error
    return split.results


class _Judge:
    """Splitting pays unless another program keeps one of our cores busy.

    Every WINDOW_S seconds (checked when a split is considered) it reads how long the cores
    this process may run on were busy (/proc/stat, all but idle and iowait) and subtracts
    this process's own CPU time (`time.process_time`, all threads): when the rest -- other
    programs -- used more than MAX_OTHERS cores' worth, the next window runs serially.
    Where /proc/stat cannot be read (not Linux), splitting stays on."""

    WINDOW_S, MAX_OTHERS = 0.2, 0.5

    def __init__(self):
        self.serial = False
        self.next_check = 0.0
        self.last = None               # the previous _cpu_sample()

    def splitting_pays(self):
        now = time.monotonic()
        if now >= self.next_check:
            self.next_check = now + self.WINDOW_S
            sample = _cpu_sample(now)
            if sample is not None and self.last is not None:
                wall = sample[0] - self.last[0]
                others = (sample[1] - self.last[1]) - (sample[2] - self.last[2])
                self.serial = others > self.MAX_OTHERS * wall
            self.last = sample
        return not self.serial


def _cpu_sample(now):
    """(now, busy CPU seconds of the cores this process may use, this process's CPU
    seconds), or None without a readable /proc/stat."""
    try:
        with open("/proc/stat", "rb") as stat:
            lines = stat.read().split(b"\n")
    except OSError:
        return None
    try:
        cores = os.sched_getaffinity(0)
    except AttributeError:
        cores = None
    busy = 0
    for line in lines:
        if not line.startswith(b"cpu") or line[3:4] == b" ":   # per-core lines only
            continue
        name, *fields = line.split()
        if cores is not None and int(name[3:]) not in cores:
            continue
        # user nice system idle iowait irq softirq steal (in clock ticks)
        ticks = [int(v) for v in fields[:8]]
        busy += sum(ticks) - ticks[3] - ticks[4]
    return now, busy / _TICKS_PER_SECOND, time.process_time()


_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


_judge = _Judge()


class _Split:
    """The chunks of one `run_split` call, claimed one at a time by whichever thread asks."""

    def __init__(self, task, spans):
        self.task, self.spans = task, spans
        self.results = [None] * len(spans)
        self.error = None
        self._claim = itertools.count()          # next() is atomic under the GIL
        self._done = 0
        self._lock = threading.Lock()
        self.finished = threading.Event()

    def work(self):
        count = len(self.spans)
        while True:
            k = next(self._claim)
            if k >= count:
                return
            try:
                if self.error is None:
                    self.results[k] = self.task(*self.spans[k], k)
            except BaseException as error:       # re-raised on the calling thread
                self.error = error
            with self._lock:
                self._done += 1
                if self._done == count:
                    self.finished.set()


def _forget_pool():
    """In a forked child the helper threads are gone: start a new pool when one is needed."""
    global _executor, _executor_size, _lock
    _executor, _executor_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _pool(helpers):
    global _executor, _executor_size
    with _lock:
        if _executor is None or _executor_size < helpers:
            old = _executor
            _executor = ThreadPoolExecutor(max_workers=helpers,
                                           thread_name_prefix="scratchnet")
            _executor_size = helpers
            if old is not None:
                old.shutdown(wait=False)
        return _executor

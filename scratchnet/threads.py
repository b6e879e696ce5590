"""How scratchnet uses the cores: one pool of threads at a time, and by default one thread.

NumPy's OpenBLAS starts a pool of worker threads that *spin* (busy-wait) between matrix
products, waiting for the next one. scratchnet's training step is many small products with
Python and Numba code in between, so on a 2-core machine the spinning workers fight the main
thread — and anything else running — for the cores. Measured on the 2-core development
machine (another process busy on one core, `fit` throughput, float32):

    model               batch   1 BLAS thread   2 BLAS threads
    lecture MLP           32       90,251 img/s     13,207 img/s
    lecture MLP          256      135,458 img/s     15,033 img/s
    Coursera CNN          32        2,449 img/s        344 img/s

So while scratchnet computes (inside fit / evaluate / predict / train_on_batch) it limits
the BLAS pool to `num_threads()` threads (default 1), through threadpoolctl — a well-kept
library that knows how to talk to OpenBLAS, MKL and BLIS — and gives the setting back
afterwards, so your own NumPy code is unaffected. scratchnet's Numba kernels are serial
(no prange): there is no second thread pool to oversubscribe the cores with.

Change it with `scratchnet.threads.set_num_threads(n)` or the environment variable
SCRATCHNET_NUM_THREADS (e.g. on a many-core, otherwise idle machine, where big batches gain
from a parallel BLAS). `set_num_threads(None)` leaves BLAS exactly as it is.
"""
import contextlib
import functools
import os

_num_threads = int(os.environ.get("SCRATCHNET_NUM_THREADS", "1"))


def num_threads():
    """BLAS threads scratchnet computes with (None: whatever BLAS is set to)."""
    return _num_threads


def set_num_threads(count):
    global _num_threads
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"set_num_threads: expected a positive int or None, received {count!r}")
    _num_threads = count


@contextlib.contextmanager
def compute_threads():
    """Within this block BLAS uses num_threads() threads; the old setting returns after."""
    if _num_threads is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=_num_threads, user_api="blas"):
        yield


def limits_threads(method):
    """Decorator: run a model method inside `compute_threads()`."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        with compute_threads():
            return method(*args, **kwargs)

    return wrapper

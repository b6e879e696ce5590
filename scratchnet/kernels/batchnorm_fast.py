r"""Batch normalization as Numba kernels: the arithmetic of `layers/normalization.py`'s NumPy
functions (`moments`, `normalize`, `backward_sums`, `input_gradient`), compiled.

Every array is laid out as (N, C): one row per normalized position (a sample after Dense;
a pixel of an image after Conv2D, channels last), one column per channel. The kernels walk
the rows in order with the channels innermost, so each per-channel sum is accumulated in
the same order as NumPy's `sum(axis=0, dtype=float64)` (row after row, float64 accumulators)
and the elementwise steps round the same way: NumPy and Numba agree bit for bit on one
thread (tests/test_dropout_batchnorm_parity.py), except with a single channel, whose
contiguous column NumPy sums pairwise.

Why kernels: NumPy reduces over axis 0 of an (N, C) array one row at a time, and with
LeNet-5's 6 or 16 channels a row is too short to vectorize; each sum also needs a full
temporary (x - mean, dy * (x - mean), xhat). A training call of the whole layer (forward,
then backward with dL/dx), float32, one thread, median of 7 x 30 calls, ms, on the 2-core
development machine while other test suites ran (load average ~3):

    shape                NumPy forward / backward     kernels forward / backward
    (32, 28, 28, 6)      1.60 / 1.99                  0.29 / 0.39     LeNet-5's first conv
    (32, 10, 10, 16)     0.21 / 0.28                  0.048 / 0.057   its second
    (256, 28, 28, 6)     15.4 / 21.3                  2.24 / 3.16
    (64, 1024)           0.098 / 0.149                0.041 / 0.041   after a Dense(1024)

(Spreading each row's channels over a flat, vectorizable run -- lanes of 64 values folded
into the channels at the end -- was slower: 0.17 ms instead of 0.09 for the sums of
(32, 28, 28, 6), so the row loops stay.)

Inside fit / evaluate / predict the rows are cut into chunks for `scratchnet.threads`
(`run_split`): each chunk sums its rows, and the partial sums are added in chunk order, so
with several threads the sums differ from one thread's in the last bits (not in the order
of the rows within a chunk).
"""
import numpy as np
from numba import njit

from scratchnet import threads

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- kernels
@njit(cache=True, nogil=True)
def _sums(x, start, stop, out):
    """out[c] = sum over rows start..stop of x[r, c] (float64)."""
    c = x.shape[1]
    for ch in range(c):
        out[ch] = 0.0
    for r in range(start, stop):
        row = x[r]
        for ch in range(c):
            out[ch] += row[ch]


@njit(cache=True, nogil=True)
def _centered_square_sums(x, mean, start, stop, out):
    """out[c] = sum over rows of (x[r, c] - mean[c])^2, the square in x's dtype."""
    c = x.shape[1]
    for ch in range(c):
        out[ch] = 0.0
    for r in range(start, stop):
        row = x[r]
        for ch in range(c):
            d = row[ch] - mean[ch]
            out[ch] += d * d


@njit(cache=True, nogil=True)
def _normalize(x, a, b, start, stop, y):
    c = x.shape[1]
    for r in range(start, stop):
        row, out = x[r], y[r]
        for ch in range(c):
            out[ch] = row[ch] * a[ch] + b[ch]


@njit(cache=True, nogil=True)
def _backward_sums(dy, x, mean, start, stop, out_dy, out_dyxc):
    """out_dy[c] = sum dy[r, c]; out_dyxc[c] = sum dy[r, c] * (x[r, c] - mean[c])."""
    c = x.shape[1]
    for ch in range(c):
        out_dy[ch] = 0.0
        out_dyxc[ch] = 0.0
    for r in range(start, stop):
        g, row = dy[r], x[r]
        for ch in range(c):
            out_dy[ch] += g[ch]
            out_dyxc[ch] += g[ch] * (row[ch] - mean[ch])


@njit(cache=True, nogil=True)
def _input_gradient(dy, x, mean, inv, a, dbeta_n, dgamma_n, start, stop, dx):
    """dx = a * (dy - dbeta_n - xhat * dgamma_n), xhat = (x - mean) * inv."""
    c = x.shape[1]
    for r in range(start, stop):
        g, row, out = dy[r], x[r], dx[r]
        for ch in range(c):
            xhat = (row[ch] - mean[ch]) * inv[ch]
            out[ch] = a[ch] * (g[ch] - dbeta_n[ch] - xhat * dgamma_n[ch])


# ---------------------------------------------------------------------------- wrappers
def _split(rows, channels):
    return threads.parts(rows, rows * channels)


def _column_sums(kernel, arrays, rows, channels, outputs):
    """Run a summing kernel over chunks of rows; the chunks' float64 sums added in order."""
    pieces = _split(rows, channels)
    if pieces == 1:
        outs = [np.empty(channels, np.float64) for _ in range(outputs)]
        kernel(*arrays, 0, rows, *outs)
        return outs

    def task(start, stop, k):
        outs = [np.empty(channels, np.float64) for _ in range(outputs)]
        kernel(*arrays, start, stop, *outs)
        return outs

    parts = threads.run_split(task, rows, pieces=pieces)
    total = parts[0]
    for part in parts[1:]:
        for t, p in zip(total, part):
            t += p
    return total


def _rowwise(kernel, arrays, rows, channels, out):
    pieces = _split(rows, channels)
    if pieces == 1:
        kernel(*arrays, 0, rows, out)
    else:
        threads.run_split(lambda start, stop, k: kernel(*arrays, start, stop, out), rows,
                          pieces=pieces)
    return out


def moments(x):
    """(mean, biased variance) of each column of x (N, C), in x's dtype."""
    n, c = x.shape
    (s,) = _column_sums(_sums, (x,), n, c, 1)
    mean = (s / n).astype(x.dtype)
    (q,) = _column_sums(_centered_square_sums, (x, mean), n, c, 1)
    return mean, (q / n).astype(x.dtype)


def normalize(x, a, b, out):
    """out = x * a + b per column (out: an (N, C) array of x's dtype)."""
    return _rowwise(_normalize, (x, a, b), x.shape[0], x.shape[1], out)


def backward_sums(dy, x, mean):
    """(sum dy, sum dy * (x - mean)) per column, in x's dtype."""
    n, c = x.shape
    s_dy, s_dyxc = _column_sums(_backward_sums, (dy, x, mean), n, c, 2)
    return s_dy.astype(x.dtype), s_dyxc.astype(x.dtype)


def input_gradient(dy, x, mean, inv, a, dbeta_n, dgamma_n, out):
    """out = a * (dy - dbeta_n - (x - mean) * inv * dgamma_n) per column."""
    return _rowwise(_input_gradient, (dy, x, mean, inv, a, dbeta_n, dgamma_n), x.shape[0],
                    x.shape[1], out)

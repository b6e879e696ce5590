"""Fashion-MNIST (Zalando), as `keras.datasets.fashion_mnist.load_data()` returns it.

`load_data()` gives `((x_train, y_train), (x_test, y_test))`: uint8 arrays of shapes
(60000, 28, 28), (60000,), (10000, 28, 28), (10000,). Labels: 0 T-shirt/top,
1 Trouser, 2 Pullover, 3 Dress, 4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot.

Sources, tried in order (the first that works is converted and cached):

a. scratchnet's cache `<data dir>/scratchnet-fashion-mnist.npz`, where the data dir is
   `$SCRATCHNET_DATA_DIR`, else `$KERAS_HOME/datasets` (default `~/.keras/datasets`).
   Then the four idx .gz files Keras downloads into `$KERAS_HOME/datasets/fashion-mnist/`.
b. The official Keras URLs (10 s network timeout; skipped when SCRATCHNET_OFFLINE=1).
c. Debian's package dataset-fashion-mnist: /usr/share/datasets/fashion-mnist/*.gz.
d. Otherwise DatasetUnavailableError, saying which commands fix it.

Verification: Keras itself checks no hash for these files. scratchnet checks the sha256
of each file's *uncompressed* idx bytes, from whichever source. The hashes were taken
from Debian's copy, whose .gz files differ from the upstream ones only in the gzip
header (no stored file name: each is 23-24 bytes shorter), so the data is the same.
"""
import os

from . import cache, sources
from .cache import SourceMissing

N_TRAIN, N_TEST = 60000, 10000
CACHE_NAME = "scratchnet-fashion-mnist.npz"
BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
# array -> (file name, idx dimensions, sha256 of the uncompressed idx bytes)
FILES = {
    "y_train": ("train-labels-idx1-ubyte.gz", 1,
                "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"),
    "x_train": ("train-images-idx3-ubyte.gz", 3,
                "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"),
    "y_test": ("t10k-labels-idx1-ubyte.gz", 1,
               "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"),
    "x_test": ("t10k-images-idx3-ubyte.gz", 3,
               "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b"),
}


def load_data():
    """Load Fashion-MNIST: `((x_train, y_train), (x_test, y_test))`, all uint8."""
    arrays, _ = _load(verbose=True)
    return cache.as_tuple(arrays)


def prepare(verbose=True):
    """Make sure Fashion-MNIST is in scratchnet's cache; returns the cache file's path."""
    _, path = _load(verbose)
    if path is None:
        raise OSError(f"Fashion-MNIST loaded but could not be cached in {cache.data_dir()}")
    return path


def _load(verbose):
    keras_dir = os.path.join(cache.keras_datasets_dir(), "fashion-mnist")
    hint = "\n".join([
        "  - run `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; as root)",
        "  - or connect to the internet (and unset SCRATCHNET_OFFLINE), then run "
        "`scratchnet data fetch`",
        f"  - or copy Keras's four fashion-mnist .gz files into {keras_dir}",
    ])
    return cache.load_or_build(
        "Fashion-MNIST", CACHE_NAME, N_TRAIN, N_TEST,
        [(f"Keras's files in {keras_dir}", lambda: _from_dir(keras_dir)),
         (f"download from {BASE_URL}", _from_url),
         (f"Debian's files in {DEBIAN_DIR}", lambda: _from_dir(DEBIAN_DIR))],
        hint, verbose)


def _from_dir(directory):
    paths = {key: os.path.join(directory, name) for key, (name, _, _) in FILES.items()}
    missing = [p for p in paths.values() if not os.path.isfile(p)]
    if missing:
        raise SourceMissing(f"{missing[0]} not found")
    return {key: sources.read_idx_gz(paths[key], ndim, sha)
            for key, (_, ndim, sha) in FILES.items()}


def _from_url():
    if cache.offline():
        raise SourceMissing("skipped (SCRATCHNET_OFFLINE=1)")
    # Scratchnet-owned names, removed once converted; the first failure stops the rest.
    directory = os.path.join(cache.data_dir(), "scratchnet-download-fashion-mnist")
    arrays = {}
    try:
        for key, (name, ndim, sha) in FILES.items():
            parsed = []  # verifying a download means parsing it: keep the result
            sources.download(BASE_URL + name, os.path.join(directory, name),
                             lambda tmp: parsed.append(sources.read_idx_gz(tmp, ndim, sha)))
            arrays[key] = parsed[0]
    finally:
        for name, _, _ in FILES.values():
            if os.path.exists(os.path.join(directory, name)):
                os.remove(os.path.join(directory, name))
        if os.path.isdir(directory) and not os.listdir(directory):
            os.rmdir(directory)
    return arrays

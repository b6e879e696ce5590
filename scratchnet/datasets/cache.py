"""Where datasets are cached, and how scratchnet reads and writes its cache files.

Cache directory (`data_dir()`): `$SCRATCHNET_DATA_DIR` if set, else Keras's own
datasets directory, `$KERAS_HOME/datasets` (KERAS_HOME defaulting to `~/.keras`, or
`/tmp/.keras` when the home directory is not writable, as Keras does).

scratchnet's cache files have their own names (`scratchnet-<dataset>.npz`), never
Keras's: a rebuilt `mnist.npz` would fail Keras's sha256 check and be re-downloaded.
Each file holds the four arrays plus a sha256 of their bytes, so a truncated or
bit-flipped file is detected and rebuilt instead of trusted. Writes are atomic: a temp
file in the same directory, then `os.replace`, so readers never see half a file.
"""
import hashlib
import os
import sys
import tempfile
import zipfile

import numpy as np

KEYS = ("x_train", "y_train", "x_test", "y_test")
TEMP_PREFIX = ".scratchnet-"  # every temp file we create starts with this


class DatasetUnavailableError(FileNotFoundError):
    """No source could provide a dataset; the message says what to run."""


def log(message, verbose=True):
    """One line of progress on stderr (stdout stays clean for the user's output)."""
    if verbose:
        print(f"scratchnet.datasets: {message}", file=sys.stderr, flush=True)


def offline():
    """True when SCRATCHNET_OFFLINE=1: skip every network source (downloads, pip)."""
    return os.environ.get("SCRATCHNET_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def keras_home():
    """Keras's home directory, resolved the way keras/src/backend/config.py does."""
    if "KERAS_HOME" in os.environ:
        return os.path.expanduser(os.environ["KERAS_HOME"])
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return os.path.join(base, ".keras")


def keras_datasets_dir():
    """Where `keras.utils.get_file` stores datasets (it falls back to /tmp/.keras)."""
    home = keras_home()
    if os.path.isdir(home) and not os.access(home, os.W_OK):
        home = os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")
    return os.path.join(home, "datasets")


def data_dir():
    """scratchnet's cache directory (not created here; writers create it)."""
    custom = os.environ.get("SCRATCHNET_DATA_DIR")
    return os.path.expanduser(custom) if custom else keras_datasets_dir()


def file_sha256(path):
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def arrays_sha256(arrays):
    """Hex sha256 over the bytes of the four arrays, in KEYS order."""
    digest = hashlib.sha256()
    for key in KEYS:
        digest.update(np.ascontiguousarray(arrays[key]).data)
    return digest.hexdigest()


def check_arrays(arrays, n_train, n_test, where):
    """Raise ValueError unless `arrays` look like a 28x28 uint8, 10-class dataset."""
    expected = {"x_train": (n_train, 28, 28), "y_train": (n_train,),
                "x_test": (n_test, 28, 28), "y_test": (n_test,)}
    for key, shape in expected.items():
        a = arrays.get(key)
        if a is None:
            raise ValueError(f"{where}: missing array {key!r}")
        if a.dtype != np.uint8 or a.shape != shape:
            raise ValueError(f"{where}: {key} is {a.dtype}{list(a.shape)}, "
                             f"expected uint8{list(shape)}")
    for key in ("y_train", "y_test"):
        if arrays[key].size and arrays[key].max() > 9:
            raise ValueError(f"{where}: {key} has label {arrays[key].max()}, "
                             "expected labels 0..9")


def read_cache(path, n_train, n_test):
    """The arrays in cache file `path`, or ValueError if it is unreadable or wrong."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {key: f[key] for key in KEYS}
            stored = str(f["sha256"]) if "sha256" in f.files else None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"cache file {path} is unreadable ({type(e).__name__}: {e})") from e
    check_arrays(arrays, n_train, n_test, f"cache file {path}")
    if stored != arrays_sha256(arrays):
        raise ValueError(f"cache file {path}: checksum mismatch (stored {stored!r})")
    return arrays


def write_cache(path, arrays):
    """Save the arrays (and their sha256) to `path` atomically; returns `path`."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX, suffix=".npz.tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, sha256=np.array(arrays_sha256(arrays)),
                     **{key: arrays[key] for key in KEYS})
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a cache is readable by all
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


class SourceMissing(LookupError):
    """A source that is simply not there (no file, offline): noted, not logged."""


def as_tuple(arrays):
    """Keras's return layout: ((x_train, y_train), (x_test, y_test))."""
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_or_build(title, cache_name, n_train, n_test, sources, hint, verbose=True):
    """Arrays from the cache, else from the first source that works (then cached).

    `sources` is a list of (label, callable returning the arrays dict). A callable raises
    SourceMissing when its source is absent, OSError/ValueError when it is broken; both
    are recorded, and if every source fails DatasetUnavailableError lists them with
    `hint` (the commands that fix it). Returns (arrays, cache path or None).
    """
    path = os.path.join(data_dir(), cache_name)
    tried = []
    if os.path.exists(path):
        try:
            return read_cache(path, n_train, n_test), path
        except ValueError as e:
            log(f"{e}; rebuilding it", verbose)
            tried.append(f"cache: {e}")
    else:
        tried.append(f"cache: {path} not found")
    for label, source in sources:
        try:
            arrays = source()
            check_arrays(arrays, n_train, n_test, label)
        except SourceMissing as e:
            tried.append(f"{label}: {e}")
            continue
        except (OSError, ValueError) as e:
            log(f"{label} failed ({type(e).__name__}: {e}); trying the next source", verbose)
            tried.append(f"{label}: {type(e).__name__}: {e}")
            continue
        try:
            write_cache(path, arrays)
            log(f"{title} from {label}, cached at {path}", verbose)
        except OSError as e:
            log(f"{title} from {label}; could not write the cache {path} ({e})", verbose)
            path = None
        return arrays, path
    lines = "\n".join(f"  - {t}" for t in tried)
    raise DatasetUnavailableError(
        f"could not load {title}; tried, in order:\n{lines}\nTo fix, do one of:\n{hint}")

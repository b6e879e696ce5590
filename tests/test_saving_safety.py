"""Files that can't hurt you (issue 9, item 4): scratchnet/saving/files.py and the loaders
built on it, against crashes during a save, damaged files and hostile files.

* kill during save: a saving process is SIGKILLed at random moments (and at every kind of
  line in the save code), many times; what is left must load as the previous save or the
  new one, never as a torn file, and killed saves' temporary files must not pile up;
* fuzz: byte flips and truncations of real saved files; the only outcomes allowed are the
  exact saved weights, different numbers only where no checksum covers the damaged bytes,
  or one ValueError naming the file with the model left untouched
  (`scripts/fuzz_saving.py` runs thousands and prints the counts);
* hostile zips and hostile HDF5 files, one by one.
"""
import contextlib
import io
import os
import queue
import random
import re
import signal
import stat
import struct
import subprocess
import sys
import threading
import warnings
import zipfile
from dataclasses import dataclass
from typing import Callable

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet.saving import files
from scratchnet.saving.files import check_h5_tree, open_h5, read_zip, write_atomically, write_zip

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERAS_MEMBERS = ("metadata.json", "config.json", "model.weights.h5", "assets/")


def has_load_model():
    """model.save / keras.models.load_model are being built (issue 9); test them once there."""
    return hasattr(sn.keras.models, "load_model")


def small_model():
    """A small model with every kind of weight (Conv2D, BatchNormalization's four, Dense):
    its files are mostly HDF5 metadata, which is what a fuzz should hit."""
    K = sn.keras
    return K.Sequential([K.Input((8, 8, 1)), K.layers.Conv2D(3, 3, activation="relu"),
                         K.layers.BatchNormalization(), K.layers.MaxPooling2D(),
                         K.layers.Flatten(), K.layers.Dense(5, activation="relu"),
                         K.layers.Dropout(0.5), K.layers.Dense(3, activation="softmax")])


def same_arrays(a, b):
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y)
                                    for x, y in zip(a, b))


# =========================================================================================
# 1. Killed while saving
# =========================================================================================
# A "zygote" process imports scratchnet and builds the model once, then forks one saver per
# round: forking is fast, so a test can kill 60 savers in seconds. A saver fills every weight
# with the value k, announces "begin k", saves, announces "done k", and goes on with k + 1
# until it is killed: by the test at a random moment, or by itself at the n-th line executed
# inside scratchnet/saving/ (a sweep over every step of a save: before the temporary file,
# while writing it, between fsync and rename), or at a named step of write_atomically (see
# NAMED_KILLS).
ZYGOTE = r'''
import os, signal, sys, time
import numpy as np
import scratchnet as sn
import scratchnet.saving

target, how = sys.argv[1], sys.argv[2]
K = sn.keras
model = K.Sequential([K.Input((256,)), K.layers.Dense(512), K.layers.Dense(512),
                      K.layers.Dense(256)])
if how == "model":
    model.compile("adam", "mse")
shapes = [(w.shape, w.dtype) for w in model.get_weights()]
saving_dir = os.path.dirname(os.path.abspath(scratchnet.saving.__file__))
files_py = os.path.join(saving_dir, "files.py")


def save(k):
    model.set_weights([np.full(shape, k, dtype) for shape, dtype in shapes])
    if how == "model":
        model.save(target)
    else:
        model.save_weights(target)


def say(message):
    os.write(1, (message + "\n").encode())


def trace_lines(action):
    """Call action() at every line executed in scratchnet/saving/."""
    def local(frame, event, arg):
        if event == "line":
            action(frame)
        return local

    def outer(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(saving_dir) else None

    sys.settrace(outer)


for line in sys.stdin:
    command = line.split()
    if command[0] == "count":             # one traced save: how many lines does it run?
        k, count = int(command[1]), [0]
        trace_lines(lambda frame: count.__setitem__(0, count[0] + 1))
        save(k)
        sys.settrace(None)
        say(f"events {count[0]}")
    elif command[0] == "go":              # fork a saver that the test kills
        k = int(command[1])
        pid = os.fork()
        if pid == 0:
            try:
                while True:
                    say(f"begin {k}")
                    start = time.perf_counter()
                    save(k)
                    say(f"done {k} {time.perf_counter() - start:.6f}")
                    k += 1
            finally:
                os._exit(1)
    elif command[0] == "self":            # fork a saver that kills itself at a point
        k, point = int(command[1]), command[2]
        pid = os.fork()
        if pid == 0:
            try:
                seen, lineno = [0], None
                if point.startswith("line:"):     # the line of files.py that starts so
                    source = open(files_py).read().splitlines()
                    lineno = 1 + next(i for i, text in enumerate(source)
                                      if text.strip().startswith(point[5:]))

                def tick(frame):
                    seen[0] += 1
                    if (str(seen[0]) == point or "func:" + frame.f_code.co_name == point
                            or (frame.f_lineno == lineno
                                and frame.f_code.co_filename == files_py)):
                        os.kill(os.getpid(), signal.SIGKILL)
                trace_lines(tick)
                for k in range(k, k + 3):
                    say(f"begin {k}")
                    save(k)
                    say(f"done {k} 0")
                sys.settrace(None)
                say("missed")                     # the point was never reached
            finally:
                os._exit(3)
    if command[0] in ("go", "self"):
        say(f"child {pid}")
        _, status = os.waitpid(pid, 0)
        say(f"reaped {pid} {status}")
'''


class Zygote:
    def __init__(self, target, how):
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        # A session of its own: close() can end the zygote and any saver it forked at once.
        self.proc = subprocess.Popen([sys.executable, "-c", ZYGOTE, str(target), how],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT,
                                     env=env, text=True, bufsize=1, start_new_session=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.split())
        self.lines.put(None)

    def send(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def next(self, timeout=120):
        line = self.lines.get(timeout=timeout)
        assert line is not None, f"the zygote died (exit code {self.proc.wait()})"
        return line

    def close(self):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.proc.stdin.close()


def _load_value(path, how):
    """The single value k that fills every weight of the file at `path`."""
    if how == "model":
        arrays = sn.keras.models.load_model(path).get_weights()
    else:
        K = sn.keras
        model = K.Sequential([K.Input((256,)), K.layers.Dense(512), K.layers.Dense(512),
                              K.layers.Dense(256)])
        model.load_weights(path)
        arrays = model.get_weights()
    values = {float(v) for a in arrays for v in np.unique(a)}
    assert len(values) == 1, f"a torn file: it mixes the values {sorted(values)[:5]}"
    return values.pop()


KILL_KINDS = [(".weights.h5", "weights"), (".h5", "weights"),
              pytest.param(".keras", "model", marks=pytest.mark.skipif(
                  not has_load_model(), reason="model.save/load_model not built yet")),
              pytest.param(".h5", "model", marks=pytest.mark.skipif(
                  not has_load_model(), reason="model.save/load_model not built yet"))]
SELF_KILLS, TIMED_KILLS = 12, 14          # per file kind: with NAMED_KILLS, 30 kills
# Steps of files.write_atomically, and what a kill there must leave: the file (the previous
# save, or the new one) and whether the killed save's temporary file is left.
NAMED_KILLS = {
    "func:_new_temp": ("old", False),                 # leftovers removed, nothing created
    "line:write(tmp)": ("old", True),                 # an empty temporary file
    "line:os.replace(tmp,": ("old", True),            # complete and fsynced, not renamed
    "func:_fsync_directory": ("new", False),          # just after the rename
}


@pytest.mark.skipif(os.name != "posix", reason="fork and SIGKILL are POSIX")
@pytest.mark.parametrize("suffix,how", KILL_KINDS)
def test_a_save_killed_at_any_moment_leaves_the_old_file_or_the_new_one(tmp_path, suffix,
                                                                         how):
    target = tmp_path / f"m{suffix}"
    prefix = files._temp_prefix(str(target))
    zygote = Zygote(target, how)
    rng = random.Random(9)
    try:
        zygote.send("count 0")                         # warm up (first-call imports)
        zygote.next()
        zygote.send("count 0")                         # lines run by one save
        events = int(zygote.next()[1])
        value, k, durations = 0.0, 1, []
        plan = ([("self", point) for point in NAMED_KILLS]
                + [("self", str(round(n))) for n in np.linspace(1, events, SELF_KILLS)]
                + [("go", "")] * TIMED_KILLS)
        outcomes, savers = {"old": 0, "new": 0, "temp left": 0}, []
        for mode, point in plan:
            zygote.send(f"{mode} {k} {point}")
            begun, done, pid, status = [], [], None, None
            wait_for = rng.randint(0, 2) if mode == "go" else None
            while status is None:
                line = zygote.next()
                if line[0] == "child":
                    pid = int(line[1])
                elif line[0] == "begin":
                    begun.append(int(line[1]))
                elif line[0] == "done":
                    done.append(int(line[1]))
                    if mode == "go":
                        durations.append(float(line[2]))
                elif line[0] == "missed":
                    pytest.fail(f"the save never reached the kill point {point!r}")
                elif line[0] == "reaped":
                    status = int(line[2])
                if wait_for is not None and pid is not None and len(begun) > wait_for:
                    # a random moment within about one save from now (the saver's "begin"
                    # can come before the zygote's "child <pid>": then it is killed later)
                    typical = np.median(durations) if durations else 0.02
                    threading.Event().wait(rng.uniform(0, 1.5 * typical))
                    os.kill(pid, signal.SIGKILL)
                    wait_for = None
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL

            loaded = _load_value(str(target), how)
            last = begun[-1] if begun else k - 1      # the save that was killed (or none)
            previous = done[-1] if done else value
            assert loaded in (previous, last), (
                f"killed during save {last}: the file holds {loaded}, expected the previous "
                f"complete save ({previous}) or the new one ({last})")
            outcome = "old" if loaded == previous and loaded != last else "new"
            outcomes[outcome] += 1

            leftovers = sorted(set(os.listdir(tmp_path)) - {target.name})
            # At most one temporary file: the killed save's own, or, if it was killed before
            # it came to clean up, the one an earlier killed save left. Every save first
            # removes the leftovers of earlier, killed saves of the same target.
            savers.append(pid)
            assert len(leftovers) <= 1, leftovers
            assert all(any(name.startswith(f"{prefix}{p}-") for p in savers)
                       for name in leftovers), leftovers
            own_temp = bool(leftovers) and leftovers[0].startswith(f"{prefix}{pid}-")
            outcomes["temp left"] += own_temp          # killed in the middle of writing
            if point in NAMED_KILLS:
                assert (outcome, own_temp) == NAMED_KILLS[point], point
            value, k = loaded, max(begun + [k]) + 1

        zygote.send(f"count {k}")                      # one more save, not killed
        zygote.next()
        assert _load_value(str(target), how) == k
        assert os.listdir(tmp_path) == [target.name]   # the last leftover is gone too
    finally:
        zygote.close()
    # The sweep of self-kills must have hit every phase, or this test proves nothing: kills
    # before the rename (old file), after it (new file), and in the middle of writing.
    assert outcomes["old"] and outcomes["new"] and outcomes["temp left"], outcomes
    print(f"\n{suffix} ({how}): {len(plan)} kills, {outcomes}")


def test_stale_temporary_files_are_removed_only_when_their_process_is_gone(tmp_path):
    target = tmp_path / "m.weights.h5"
    prefix = files._temp_prefix(str(target))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    alive = os.getppid()
    other_target = files._temp_prefix(str(tmp_path / "other.weights.h5"))
    names = [f"{prefix}{dead.pid}-abcd", f"{prefix}{alive}-abcd", f"{other_target}{dead.pid}-x",
             f"{prefix}notapid-x"]
    for name in names:
        (tmp_path / name).write_bytes(b"partial")
    write_atomically(target, lambda tmp: open(tmp, "wb").write(b"new"))
    assert target.read_bytes() == b"new"
    assert sorted(os.listdir(tmp_path)) == sorted([target.name] + names[1:])


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "m.keras"
    target.write_bytes(b"old")

    def half_then_fail(tmp):
        open(tmp, "wb").write(b"half of a new fi")
        raise KeyboardInterrupt                        # even Ctrl-C cleans up

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["m.keras"]


@pytest.mark.skipif(os.name != "posix", reason="umask and symlinks as POSIX has them")
def test_new_files_follow_the_umask_and_links_are_replaced_not_followed(tmp_path):
    umask = os.umask(0o027)
    try:
        write_atomically(tmp_path / "a.h5", lambda tmp: open(tmp, "wb").write(b"x"))
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(tmp_path / "a.h5").st_mode) == 0o640
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (tmp_path / "link.h5").symlink_to(victim)
    write_atomically(tmp_path / "link.h5", lambda tmp: open(tmp, "wb").write(b"model"))
    assert victim.read_bytes() == b"precious"
    assert not os.path.islink(tmp_path / "link.h5")


# =========================================================================================
# 2. Damaged files: byte flips and truncations of real saved files
# =========================================================================================
@dataclass
class FileKind:
    """How one kind of file is saved, loaded and checked. `load(path, model)` returns the
    loaded weights (and config, or None); `into` is True when it loads into an existing
    model, which must then be left untouched by a refused file."""
    suffix: str
    save: Callable
    load: Callable
    into: bool


def _load_weights_into(path, model):
    model.load_weights(path)
    return model.get_weights(), None


def _save_model(model, path):
    model.compile("adam", "mse")
    model.save(path)


def _load_model(path, model):
    loaded = sn.keras.models.load_model(path)
    return loaded.get_weights(), loaded.get_config()


FILE_KINDS = {
    "weights.h5": FileKind(".weights.h5", lambda m, p: m.save_weights(p), _load_weights_into,
                           True),
    "legacy weights .h5": FileKind(".h5", lambda m, p: m.save_weights(p), _load_weights_into,
                                   True),
}
if has_load_model():
    FILE_KINDS["model .keras"] = FileKind(".keras", _save_model, _load_model, False)
    FILE_KINDS["model .h5"] = FileKind(".h5", _save_model, _load_model, False)


def protected_ranges(raw, suffix):
    """Byte ranges [start, end) of `raw` that a checksum covers: every chunk of a Fletcher-32
    dataset in an HDF5 file; every member's data in a zip (CRC-32). And the ranges of arrays
    no checksum covers (HDF5 stores scalars and empty arrays unchunked, without one)."""
    covered, bare = [], []
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            for info in archive.infolist():
                extra = struct.unpack("<H", raw[info.header_offset + 28:
                                               info.header_offset + 30])[0]
                start = info.header_offset + 30 + len(files._raw_name(info)) + extra
                covered.append((start, start + info.compress_size))
        return covered, bare
    with h5py.File(io.BytesIO(raw), "r") as f:
        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset):
                return
            if obj.chunks and obj.fletcher32:
                for i in range(obj.id.get_num_chunks()):
                    chunk = obj.id.get_chunk_info(i)
                    covered.append((chunk.byte_offset, chunk.byte_offset + chunk.size))
            elif obj.id.get_offset() is not None:
                bare.append((obj.id.get_offset(), obj.id.get_offset()
                             + obj.id.get_storage_size()))
        f.visititems(visit)
    return covered, bare


DAMAGES = ("truncation", "flips anywhere", "flips outside checksums")


def damage(original, how, draw_int):
    """Damage the original file's bytes `how` (one of DAMAGES); returns (bytes, damaged
    ranges). A truncation keeps a prefix; flips XOR 1-8 bytes, anywhere or only where no
    checksum covers (the HDF5 metadata, the zip headers and directory: what a random flip
    rarely hits in a file made mostly of array bytes). draw_int(lo, hi) draws in [lo, hi]."""
    raw = bytearray(original.raw)
    if how == "truncation":
        keep = draw_int(0, len(raw) - 1)
        return bytes(raw[:keep]), [(keep, len(raw))]
    places = [(0, len(raw))]
    if how == "flips outside checksums":
        places, start = [], 0
        for a, b in sorted(original.covered):
            places.append((start, a))
            start = max(start, b)
        places = [(a, b) for a, b in places + [(start, len(raw))] if b > a]
    room = sum(b - a for a, b in places)
    ranges = []
    for _ in range(draw_int(1, 8)):
        at = draw_int(0, room - 1)
        for a, b in places:                     # the at-th byte of the chosen places
            if at < b - a:
                at += a
                break
            at -= b - a
        raw[at] ^= draw_int(1, 255)
        ranges.append((at, at + 1))
    return bytes(raw), ranges


def _inside(ranges, within):
    return all(any(s >= a and e <= b for a, b in within) for s, e in ranges)


def _touches(ranges, within):
    return any(s < b and e > a for s, e in ranges for a, b in within)


class Violation(AssertionError):
    """An outcome the guarantees do not allow."""


@dataclass
class Original:
    """One saved file of a kind and what it holds."""
    kind: FileKind
    raw: bytes
    weights: list
    config: object
    covered: list
    bare: list


def make_original(kind, directory):
    model = small_model()
    rng = np.random.default_rng(1)
    model.set_weights([rng.normal(size=w.shape).astype(w.dtype) for w in model.get_weights()])
    path = os.path.join(directory, "original" + kind.suffix)
    kind.save(model, path)
    raw = open(path, "rb").read()
    covered, bare = protected_ranges(raw, kind.suffix)
    config = model.get_config() if not kind.into else None
    original = Original(kind, raw, model.get_weights(), config, covered, bare)
    # The undamaged file must load exactly, or every load would count as "changed".
    assert try_damaged(original, raw, [], directory) == "exact"
    return original


def try_damaged(original, damaged, ranges, directory):
    """Load one damaged file; return its outcome or raise Violation:

    'exact'              the saved weights (and config), bit for bit;
    'refused'            one ValueError naming the file, the model untouched;
    'changed: metadata'  other numbers (or, '... (config only)', the same numbers in a model
                         of another config), and some damaged byte lies outside every
                         checksummed range (HDF5 metadata and attributes have no checksum);
    'changed: unchecksummed array'  other numbers, a damaged byte inside a scalar/empty
                         array, which HDF5 cannot checksum.
    """
    kind = original.kind
    path = os.path.join(directory, "damaged" + kind.suffix)
    with open(path, "wb") as handle:
        handle.write(damaged)
    model = small_model()
    before = model.get_weights()
    try:
        weights, config = kind.load(path, model)
    except ValueError as error:
        if os.path.basename(path) not in str(error):
            raise Violation(f"the ValueError does not name the file: {error}") from error
        if kind.into and not same_arrays(before, model.get_weights()):
            raise Violation(f"half-loaded: a refused file changed the model ({error})")
        return "refused"
    except Exception as error:
        raise Violation(f"{type(error).__name__} instead of a ValueError: {error}") from error
    same_weights = same_arrays(weights, original.weights)
    if same_weights and config == original.config:
        return "exact"
    if _touches(ranges, original.bare):
        return "changed: unchecksummed array"
    if _inside(ranges, original.covered):
        raise Violation(f"only checksummed bytes were damaged ({ranges}), yet the file "
                        "loaded with other numbers")
    return "changed: metadata" + (" (config only)" if same_weights else "")


_ORIGINALS = {}


def original_of(name, tmp_path_factory):
    if name not in _ORIGINALS:
        _ORIGINALS[name] = make_original(FILE_KINDS[name], str(tmp_path_factory.mktemp("orig")))
    return _ORIGINALS[name]


@pytest.mark.parametrize("name", sorted(FILE_KINDS))
@given(data=st.data())
def test_damaged_files_load_exactly_or_raise_one_clear_error(tmp_path_factory, name, data):
    original = original_of(name, tmp_path_factory)
    damaged, ranges = damage(original, data.draw(st.sampled_from(DAMAGES)),
                             lambda lo, hi: data.draw(st.integers(lo, hi)))
    outcome = try_damaged(original, damaged, ranges, str(tmp_path_factory.mktemp("damaged")))
    assert outcome in ("exact", "refused", "changed: metadata",
                       "changed: metadata (config only)", "changed: unchecksummed array")


@pytest.mark.parametrize("name", sorted(FILE_KINDS))
def test_any_flipped_byte_of_a_stored_array_is_caught(tmp_path_factory, name):
    """Deterministic: flip one byte in every checksummed range (each array's chunk, each zip
    member); every such file must be refused."""
    original = original_of(name, tmp_path_factory)
    assert original.covered
    directory = str(tmp_path_factory.mktemp("flipped"))
    for start, end in original.covered:
        for at in sorted({start, (start + end) // 2, end - 1}):
            raw = bytearray(original.raw)
            raw[at] ^= 0x40
            assert try_damaged(original, bytes(raw), [(at, at + 1)], directory) == "refused"


def test_a_layer_name_that_is_not_utf8_is_refused_naming_the_file(tmp_path):
    """Found by the fuzz: h5py's UnicodeDecodeError escaped load_weights unnamed."""
    model = small_model()
    path = str(tmp_path / "hostile.h5")
    model.save_weights(path)
    with h5py.File(path, "r+") as f:
        names = list(f.attrs["layer_names"])
        f.attrs["layer_names"] = np.array([b"\xe3" + names[0]] + names[1:])
    before = model.get_weights()
    with pytest.raises(ValueError, match="hostile.h5"):
        model.load_weights(path)
    assert same_arrays(before, model.get_weights())


@pytest.mark.skipif(not has_load_model(), reason="model.save/load_model not built yet")
def test_a_damaged_model_config_is_refused_naming_the_file(tmp_path):
    """Found by the fuzz: a deserialization ValueError escaped load_model unnamed."""
    model = small_model()
    path = str(tmp_path / "hostile.h5")
    model.save(path)
    with h5py.File(path, "r+") as f:
        config = f.attrs["model_config"]
        config = config.decode() if isinstance(config, bytes) else config
        assert '"units"' in config
        f.attrs["model_config"] = config.replace('"units"', '"unitz"')
    with pytest.raises(ValueError, match="hostile.h5"):
        sn.keras.models.load_model(path)


# =========================================================================================
# 3. Hostile zips
# =========================================================================================
def _zip_bytes(entries, compression=zipfile.ZIP_STORED):
    """entries: (name or ZipInfo, bytes) pairs, written as given (duplicates too)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # zipfile warns about duplicates
        with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return buffer.getvalue()


def _good_entries():
    return [("metadata.json", b"{}"), ("config.json", b"{}"), ("model.weights.h5", b"HDF")]


def _with_info(name, **fields):
    info = zipfile.ZipInfo(name)
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def _headers(raw, name):
    """(local header offset, central directory entry offset) of member `name`."""
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        local = archive.getinfo(name).header_offset
    central = raw.find(b"PK\x01\x02")
    while raw[central + 46:central + 46 + len(name)] != name.encode():
        central = raw.find(b"PK\x01\x02", central + 4)
    return local, central


def _patch_sizes(raw, name, file_size):
    """Rewrite the declared uncompressed size of `name` in both of its headers."""
    local, central = _headers(raw, name)
    raw = bytearray(raw)
    struct.pack_into("<I", raw, local + 22, file_size)
    struct.pack_into("<I", raw, central + 24, file_size)
    return bytes(raw)


def _encrypted(raw, name):
    """Set the 'encrypted' flag of `name` (zipfile resets it when writing)."""
    local, central = _headers(raw, name)
    raw = bytearray(raw)
    raw[local + 6] |= 0x1
    raw[central + 8] |= 0x1
    return bytes(raw)


def _overlapping():
    """config.json's directory entry points at metadata.json's bytes."""
    raw = _zip_bytes(_good_entries())
    first, _ = _headers(raw, "metadata.json")
    _, central = _headers(raw, "config.json")
    raw = bytearray(raw)
    struct.pack_into("<I", raw, central + 42, first)
    return bytes(raw)


def _deflate_bomb():
    return _zip_bytes(_good_entries()[:2] + [("model.weights.h5", bytes(64 * files.MiB))],
                      compression=zipfile.ZIP_DEFLATED)


HOSTILE_ZIPS = {
    "traversal": (lambda: _zip_bytes(_good_entries() + [("assets/../../evil.py", b"x")]),
                  r"'\.\.'"),
    "traversal at the top": (lambda: _zip_bytes(_good_entries() + [("../evil.py", b"x")]),
                             r"'\.\.'"),
    "absolute name": (lambda: _zip_bytes(_good_entries() + [("/etc/cron.d/x", b"x")]),
                      "absolute"),
    "backslash": (lambda: _zip_bytes(_good_entries() + [("assets\\..\\..\\x", b"x")]),
                  "backslash"),
    "drive letter": (lambda: _zip_bytes(_good_entries() + [("C:/x", b"x")]), "drive"),
    "another spelling": (lambda: _zip_bytes(_good_entries() + [("./config.json", b"x")]),
                         "not a plain path"),
    "symlink": (lambda: _zip_bytes(_good_entries() + [(_with_info(
        "assets/link", external_attr=(stat.S_IFLNK | 0o777) << 16, create_system=3),
        b"/etc/passwd")]), "symbolic link"),
    "device": (lambda: _zip_bytes(_good_entries() + [(_with_info(
        "assets/dev", external_attr=(stat.S_IFCHR | 0o666) << 16, create_system=3), b"")]),
        "not a regular file"),
    "duplicate": (lambda: _zip_bytes(_good_entries() + [("config.json", b'{"x": 1}')]),
                  "more than once"),
    "encrypted": (lambda: _encrypted(_zip_bytes(_good_entries()), "model.weights.h5"),
                  "encrypted"),
    "bzip2": (lambda: _zip_bytes(_good_entries(), compression=zipfile.ZIP_BZIP2),
              "compressed with method 12"),
    "declared size lies (stored)": (lambda: _patch_sizes(_zip_bytes(_good_entries()),
                                                         "config.json", 1 << 31),
                                    "stored uncompressed but declares"),
    "deflate bomb (64 MiB of zeros)": (_deflate_bomb, "zip bomb"),
    "declared huge (deflate)": (lambda: _patch_sizes(_zip_bytes(
        _good_entries(), compression=zipfile.ZIP_DEFLATED), "config.json", 0xFFFFFFF0),
        "zip bomb"),
    "declares less than it holds": (lambda: _patch_sizes(_zip_bytes(
        _good_entries()[:2] + [("model.weights.h5", bytes(5000))],
        compression=zipfile.ZIP_DEFLATED), "model.weights.h5", 100), "(CRC|Bad|damaged)"),
    "overlapping entries": (_overlapping, "overlaps"),
    "unexpected member": (lambda: _zip_bytes(_good_entries() + [("payload.pkl", b"x")]),
                          "unexpected member 'payload.pkl'"),
    "missing member": (lambda: _zip_bytes(_good_entries()[:2]), "missing 'model.weights.h5'"),
    "empty file": (lambda: b"", "empty"),
    "not a zip": (lambda: b"just some text, not an archive\n" * 10, "not a valid zip"),
    "an HDF5 file": (lambda: b"\x89HDF\r\n\x1a\n" + bytes(600), "not a valid zip"),
    "truncated": (lambda: _zip_bytes(_good_entries())[:-30], "not a valid zip"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_ZIPS))
def test_hostile_zips_are_refused_with_one_clear_error(tmp_path, case):
    make, message = HOSTILE_ZIPS[case]
    path = tmp_path / "hostile.keras"
    path.write_bytes(make())
    with pytest.raises(ValueError, match="hostile.keras") as error:
        read_zip(path, "load_model", required=KERAS_MEMBERS[:3], allowed=KERAS_MEMBERS)
    assert error.type is ValueError
    assert re.search(message, str(error.value)), str(error.value)
    if has_load_model():                                # and through the real loader
        with pytest.raises(ValueError, match="hostile.keras"):
            sn.keras.models.load_model(str(path))
    assert sorted(os.listdir(tmp_path)) == ["hostile.keras"]   # nothing was extracted


def test_a_good_zip_reads_back_and_the_caps_apply(tmp_path):
    members = {"metadata.json": b"{}", "config.json": b'{"a": 1}',
               "model.weights.h5": bytes(range(256)) * 40, "assets/vocab.txt": b"a\nb\n"}
    write_zip(tmp_path / "m.keras", members)
    again = tmp_path / "again.keras"
    write_zip(again, members)
    assert (tmp_path / "m.keras").read_bytes() == again.read_bytes()    # deterministic
    assert read_zip(again, "load", KERAS_MEMBERS[:3], KERAS_MEMBERS) == members
    with zipfile.ZipFile(again) as archive:                 # what Keras itself writes
        assert {(i.compress_type, i.date_time, i.external_attr) for i in archive.infolist()} \
            == {(zipfile.ZIP_STORED, (1980, 1, 1, 0, 0, 0), 0o600 << 16)}
    with pytest.raises(ValueError, match="more than the limit of 1,000"):
        read_zip(again, "load", max_total=1000)
    with pytest.raises(ValueError, match=r"contains '\.\.'"):
        write_zip(tmp_path / "bad.keras", {"../x": b""})
    with pytest.raises(TypeError, match="must be bytes"):
        write_zip(tmp_path / "bad.keras", {"config.json": "{}"})
    assert not (tmp_path / "bad.keras").exists()


# =========================================================================================
# 4. Hostile HDF5
# =========================================================================================
def _saved_weights(directory, suffix=".weights.h5"):
    model = small_model()
    path = os.path.join(directory, "hostile" + suffix)
    model.save_weights(path)
    return path


def _replace(path, where, make):
    """Replace the object at `where` by make(f, where, old array)."""
    with h5py.File(path, "r+") as f:
        old = f[where][()]
        del f[where]
        make(f, where, old)


KERNEL = "layers/dense/vars/0"          # (27, 5) float32
BIAS = "layers/dense/vars/1"            # (5,)


def _external_file(directory, values):
    other = os.path.join(directory, "elsewhere.h5")
    with h5py.File(other, "w") as f:
        f["x"] = values
    return other


def _raw_file(directory, values):
    raw = os.path.join(directory, "secret.bin")
    values.tofile(raw)
    return raw


def _virtual(f, where, old, directory):
    other = _external_file(directory, old)
    layout = h5py.VirtualLayout(shape=old.shape, dtype=old.dtype)
    layout[...] = h5py.VirtualSource(other, "x", shape=old.shape)
    f.create_virtual_dataset(where, layout)


def _soft_link(f, where, old):
    """A soft link to a hidden array of the same shape with other numbers."""
    f["hidden/x"] = old + 1
    f[where] = h5py.SoftLink("/hidden/x")


# case: (make(f, where, old array, directory), message, what it is): "elsewhere" files make
# h5py read numbers from another place or file; "not numbers" and "not the model's" are
# plainly not the model's arrays.
HOSTILE_H5 = {
    "soft link": (lambda f, w, old, d: _soft_link(f, w, old), "soft link", "elsewhere"),
    "external link": (lambda f, w, old, d: f.__setitem__(
        w, h5py.ExternalLink(_external_file(d, old), "/x")), "external link", "elsewhere"),
    "external dataset": (lambda f, w, old, d: f.create_dataset(
        w, shape=old.shape, dtype=old.dtype,
        external=[(_raw_file(d, old), 0, old.nbytes)]), "external files", "elsewhere"),
    "virtual dataset": (lambda f, w, old, d: _virtual(f, w, old, d), "virtual", "elsewhere"),
    "strings": (lambda f, w, old, d: f.create_dataset(
        w, data=np.array([["w"] * 5] * 27, dtype=h5py.string_dtype())), "not an array of "
        "numbers|expected numbers", "not numbers"),
    "fixed-length bytes": (lambda f, w, old, d: f.create_dataset(
        w, data=np.full((27, 5), b"abcd")), "not an array of numbers|expected numbers",
        "not numbers"),
    "references": (lambda f, w, old, d: f.create_dataset(
        w, data=np.array([[f.ref] * 5] * 27, dtype=h5py.ref_dtype)),
        "not an array of numbers|expected numbers", "not numbers"),
    "wrong shape": (lambda f, w, old, d: f.create_dataset(w, data=np.zeros((5, 27), "f4")),
                    "shape", "not the model's"),
    "a group instead": (lambda f, w, old, d: f.create_group(w), "not an array",
                        "not the model's"),
    "missing array": (lambda f, w, old, d: None, "has 1 arrays, the model's layer has 2",
                      "not the model's"),
}


def _hostile_h5(directory, case):
    make, message, _ = HOSTILE_H5[case]
    path = _saved_weights(directory)
    _replace(path, KERNEL, lambda f, w, old: make(f, w, old, directory))
    return path, message


@pytest.mark.parametrize("case", sorted(c for c, v in HOSTILE_H5.items()
                                        if v[2] != "not the model's"))
def test_open_h5_refuses_files_that_point_elsewhere_or_hold_no_numbers(tmp_path, case):
    path, message = _hostile_h5(str(tmp_path), case)
    with pytest.raises(ValueError, match=f"hostile.weights.h5.*({message})"):
        with open_h5(path, "load_weights") as f:
            f[KERNEL][()]


@pytest.mark.parametrize("case", sorted(HOSTILE_H5))
def test_load_weights_refuses_hostile_hdf5_and_changes_nothing(tmp_path, case):
    path, message = _hostile_h5(str(tmp_path), case)
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=f"hostile.weights.h5.*({message})"):
        model.load_weights(path)
    assert same_arrays(before, model.get_weights())


def test_extra_arrays_are_refused(tmp_path):
    path = _saved_weights(str(tmp_path))
    with h5py.File(path, "r+") as f:
        f["layers/dense/vars/2"] = np.zeros(5, "f4")
    model = small_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match="hostile.weights.h5.*has 3 arrays.*has 2"):
        model.load_weights(path)
    assert same_arrays(before, model.get_weights())


def _odd_floats(f):
    """IEEE single-precision bytes stored under a float type with another bit layout (no
    implied leading 1): what a damaged datatype message does. h5py reads other numbers."""
    odd = h5py.h5t.IEEE_F32LE.copy()
    odd.set_norm(h5py.h5t.NORM_NONE)
    dataset = h5py.h5d.create(f.id, b"odd", odd, h5py.h5s.create_simple((3,)))
    dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array([1.0, 2.0, 3.0], "f4"), mtype=odd)
    assert f["odd"].dtype == np.float32 and f["odd"][()].tolist() != [1.0, 2.0, 3.0]


def test_check_h5_tree_refuses_what_a_weights_file_never_holds(tmp_path):
    path = str(tmp_path / "odd.h5")
    with h5py.File(path, "w") as f:
        f["a/x"] = np.ones(3, "f4")
        f["a/self"] = f["a"]                           # a cycle of hard links: walked once
    with open_h5(path, "load") as f:
        assert f["a/self/x"].shape == (3,)
    cases = {
        "committed datatype": (lambda f: f.__setitem__("t", np.dtype("f4")), "Datatype"),
        "compound records": (lambda f: f.create_dataset(
            "r", data=np.zeros(2, [("a", "f4"), ("b", "i4")])), "records"),
        "shape bomb": (lambda f: f.create_dataset("bomb", shape=(1 << 20, 1 << 20),
                                                  dtype="f4", chunks=(64, 64)), "shape bomb"),
        "plugin filter": (lambda f: f.create_dataset(
            "p", shape=(4,), dtype="f4", compression=32013, allow_unknown_filter=True),
            "filter 32013"),
        "empty dataspace": (lambda f: f.create_dataset("e", data=h5py.Empty("f4")),
                            "no shape"),
        # Arrays whose numbers are not all stored would read as zeros (the fill value).
        "never written": (lambda f: f.create_dataset("w", shape=(3,), dtype="f4"),
                          "stores 0 bytes where its shape and type need 12"),
        "half written": (lambda f: f.create_dataset("h", shape=(4,), dtype="f4", chunks=(2,))
                         .__setitem__(slice(0, 2), 1.0), "stores 1 of its 2 chunks"),
        "chunk outside": (lambda f: f.create_dataset("c", shape=(3,), dtype="f4", chunks=(3,))
                          .id.write_direct_chunk((3,), bytes(12)), "outside its shape"),
        "made-up float format": (_odd_floats, "non-standard format"),
        "complex numbers": (lambda f: f.create_dataset("z", data=np.ones(2, "c8")),
                            "complex"),
    }
    for name, (make, message) in cases.items():
        path = str(tmp_path / f"{name.replace(' ', '_')}.h5")
        with h5py.File(path, "w") as f:
            make(f)
        with pytest.raises(ValueError, match=f"{os.path.basename(path)}.*{message}"):
            with open_h5(path, "load"):
                pass
        with h5py.File(path, "r") as f, pytest.raises(ValueError, match=message):
            check_h5_tree(f, "load")


def test_two_arrays_may_not_share_stored_bytes(tmp_path):
    """What a damaged address in HDF5's metadata does: one array's numbers read from another
    array's intact bytes (no checksum can notice). Made here by copying one address."""
    path = str(tmp_path / "shared.h5")
    with h5py.File(path, "w") as f:
        f["a"] = np.arange(4, dtype="f4")
        f["b"] = np.arange(4, dtype="f4") + 10
        a, b = f["a"].id.get_offset(), f["b"].id.get_offset()
    original = open(path, "rb").read()

    def redirected(at):
        """The file with a's address at byte `at` replaced by b's, if h5py then reads b's
        numbers for a (the 8 bytes of a's layout message), else None."""
        raw = bytearray(original)
        raw[at:at + 8] = struct.pack("<Q", b)
        try:
            with h5py.File(io.BytesIO(bytes(raw)), "r") as f:
                if f["a"][()].tolist() == [10, 11, 12, 13]:
                    return bytes(raw)
        except Exception:
            return None

    places = [m.start() for m in re.finditer(re.escape(struct.pack("<Q", a)), original)]
    damaged = [raw for raw in map(redirected, places) if raw is not None]
    assert len(damaged) == 1
    open(path, "wb").write(damaged[0])
    with pytest.raises(ValueError, match="shared.h5.*same bytes"):
        with open_h5(path, "load"):
            pass


def _heap_objects(raw):
    """[(offset, index, size)] of the objects of the file's first global heap collection."""
    at = raw.find(b"GCOL")
    end = at + struct.unpack("<Q", raw[at + 8:at + 16])[0]
    objects, p = [], at + 16
    while p + 16 <= end:
        index, _, _, size = struct.unpack("<HHIQ", raw[p:p + 16])
        objects.append((p, index, size))
        p += size if index == 0 else 16 + (size + 7) // 8 * 8
    return objects


def test_a_damaged_string_heap_is_refused_before_hdf5_loops_forever(tmp_path):
    """One byte found by the fuzz: the size of a string in HDF5's global heap, 6 -> 213.
    HDF5 1.14.6 then walks the heap into its zeros and steps 0 bytes forever when the
    attribute is read (in C: not even Ctrl-C stops it). open_h5 walks the heap first."""
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as f:
        f.attrs["model_config"] = '{"class_name": "Sequential"}'
        f.attrs["keras_version"] = "3.15.1"
    raw = bytearray(buffer.getvalue())
    with open_h5(bytes(raw), "load_model", name="fine.h5") as f:
        assert f.attrs["keras_version"] == "3.15.1"
    (at, index, size) = _heap_objects(bytes(raw))[1]
    assert (index, size) == (2, 6)                    # "3.15.1"
    raw[at + 8] = 213
    path = tmp_path / "hangs.h5"
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="hangs.h5.*global heap"):
        with open_h5(str(path), "load_model"):
            pass
    if has_load_model():
        with pytest.raises(ValueError, match="hangs.h5.*global heap"):
            sn.keras.models.load_model(str(path))


def test_an_attribute_whose_type_is_damaged_is_refused_before_h5py_crashes(tmp_path):
    """One bit found by the fuzz: a variable-length *string* attribute's type made a
    variable-length *sequence* (type field 1 -> 2). h5py then crashes the process with a
    segmentation fault when it reads the attribute; check_h5_tree looks at every attribute's
    type class without reading it."""
    path = str(tmp_path / "crashes.h5")
    with h5py.File(path, "w") as f:
        f.attrs["training_config"] = '{"loss": "mse"}'
    raw = bytearray(open(path, "rb").read())
    string_type = bytes([0x19, 0x01, 0x01, 0x00, 0x10, 0, 0, 0])   # vlen, UTF-8 string
    assert raw.count(string_type) == 1
    raw[raw.index(string_type) + 1] = 0x02
    open(path, "wb").write(bytes(raw))
    with h5py.File(path, "r") as f:                   # the type only, not the value
        assert f.attrs.get_id("training_config").get_type().get_class() == h5py.h5t.VLEN
    with pytest.raises(ValueError, match="crashes.h5.*'training_config' of HDF5 type class 9"):
        with open_h5(path, "load_model"):
            pass


def test_open_h5_names_the_file_for_every_h5py_error(tmp_path):
    path = _saved_weights(str(tmp_path))
    raw = open(path, "rb").read()
    with open_h5(raw, "load_model", name="m.keras/model.weights.h5") as f:   # from bytes
        assert f[KERNEL].shape == (27, 5)
    for source in (b"", b"\x89HDF\r\n\x1a\n" + bytes(100), raw[:len(raw) // 2]):
        with pytest.raises(ValueError, match="m.keras/model.weights.h5"):
            with open_h5(source, "load_model", name="m.keras/model.weights.h5") as f:
                f[KERNEL][()]
    with pytest.raises(ValueError, match="no such file"):
        with open_h5(str(tmp_path / "missing.h5"), "load"):
            pass
    with pytest.raises(ValueError, match=r"load: .*hostile.weights.h5.*KeyError"):
        with open_h5(path, "load") as f:              # h5py errors inside the block too
            raise KeyError("no such object")
    with pytest.raises(ValueError, match="^load: my own message$"):
        with open_h5(path, "load"):                   # the caller's own message passes
            raise ValueError("load: my own message")

"""Files that can't hurt you: how scratchnet writes and reads the bytes of a saved model.

A model file comes from somewhere else -- a classmate, a course page, a download -- and a
loader is a parser of untrusted input. Everything in scratchnet's saving goes through the
few functions below, and each check in them exists because of one way a file can hurt:

**Writing: a crash never leaves half a file** (`write_atomically`, `write_zip`).
Writing a file in place and being killed half way (Ctrl-C, out of memory, a power cut) leaves
a torn file: the old model is gone and the new one is incomplete. So a save writes a
temporary file *in the same directory* (a rename is only atomic within one file system),
flushes and fsyncs it (the bytes are on the disk, not in a cache), and only then renames it
over the target with `os.replace`, which POSIX and Windows make atomic: anyone who opens the
target sees the complete old file or the complete new one. Then the directory itself is
fsynced (where the OS allows it), so that after a power cut the rename is not lost either.
If anything fails before the rename, the temporary file is removed and the target is
untouched. A process killed with SIGKILL cannot remove its temporary file; it is named
`.<target>.tmp-<host>-<pid>-<random>` (hidden, and not ending in `.h5` or `.keras`, so no
loader or glob for model files picks it up), and the next save of the same target removes
such leftovers whose process is gone. The new file gets the permissions any new file gets
(0666 minus your umask), and a target that is a symbolic link is replaced by the file, not
written through (writing through a link someone else planted is a classic attack).

**Reading a zip (a `.keras` file)** (`read_zip`). The zip format lets a file say a lot:
    * member names are paths: `../../.bashrc`, `/etc/passwd`, `C:\\x` or `a\\..\\b` would
      write outside the folder if someone extracts the archive (path traversal), and
      `./config.json` next to `config.json` is the same file twice; so a name must be a plain
      relative path of ordinary parts;
    * an entry can be a symbolic link (its Unix mode in `external_attr`); extracted, it points
      anywhere, so links (and devices, pipes) are refused;
    * two entries can have the same name: which one a reader takes is up to the reader, and
      two readers (scratchnet, Keras, `unzip`) could see two different models;
    * sizes are declared by the file: a few kilobytes can declare gigabytes (a "zip bomb",
      by a huge ratio of declared to stored size, or by entries that overlap and reuse the
      same stored bytes); so the total declared size has a cap, each member's expansion has a
      cap, entries may not overlap, and reading stops if a member yields more bytes than it
      declared;
    * encrypted members and compression methods other than stored (what Keras writes) and
      deflate are refused: scratchnet does not need them, and each is more parser to attack;
    * every member has a CRC-32, which Python's zipfile checks once the member is read to the
      end, so damaged bytes inside a member are an error, not a different model;
    * members that the format does not have (`allowed`) and missing ones (`required`) are
      refused by name.

**Reading HDF5 (`.h5`, `.weights.h5`)** (`open_h5`, `check_h5_tree`). HDF5 is a small file
system of its own, and some of its features reach outside the file:
    * a soft link names another object of the file, an *external link* another file (h5py
      would open `/etc/passwd` or a file on a network share for you when the link is read);
    * an *external dataset* keeps its numbers in other files, a *virtual dataset* assembles
      them from other datasets and files: loading weights from one would read a file the user
      never chose;
    * a dataset of object references, variable-length values, strings or compound records is
      not an array of weights, and some of these are pointers into the file;
    * a dataset can declare a huge shape and store nothing (a "shape bomb"), so the declared
      bytes have a total cap and may expand at most `max_ratio` times what is stored;
    * a dataset can ask for a compression filter that HDF5 does not have built in, which
      makes HDF5 search for and load a plugin library: only the built-in filters are read;
    * damage in the metadata that says where and how an array is stored (no checksum covers
      it) can make HDF5 read zeros instead of a lost chunk, another array's bytes, 4-byte
      floats as 8-byte ones, or floats in a made-up bit layout: so every array must be
      stored whole (every chunk, at a position inside the array), in the size its shape and
      type need, with its checksum applied, in a standard number format (IEEE floats, plain
      integers), and no two arrays may share bytes.
    * attributes (names, numbers, JSON text) must be integers, floats or strings: one
      flipped bit can turn a string's type into a "variable-length sequence", and h5py
      crashes the process (segmentation fault) reading it;
    * a damaged size in a "global heap" (where HDF5 keeps variable-length strings, such as
      Keras's `model_config` attribute) makes HDF5 1.14 loop forever when it reads one, in
      C, where not even Ctrl-C stops it: the heaps are walked in Python first.
Weights files hold groups and numeric arrays only, so every link is a hard link, every
object a group or an array. All of it is checked before a single number is read, and any
error h5py raises on a damaged file (OSError, RuntimeError, KeyError, ...) becomes one
ValueError that names the file.

Nothing here ever unpickles or evaluates anything from a file: zip members come back as
bytes, HDF5 arrays as NumPy numbers, and what a loader does with them is plain parsing.
"""
import contextlib
import errno
import io
import mmap
import os
import re
import secrets
import socket
import stat
import zipfile
import zlib

GiB = 1 << 30
MiB = 1 << 20

# ---- writing ------------------------------------------------------------------------------
_TEMP_MARK = ".tmp-"


def _host_token():
    """This machine's name as a safe file-name part (stale temporary files are only removed
    by a save on the machine that made them: a process id means nothing on another host)."""
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24] or "host"


def _temp_prefix(filepath):
    """`.<target name>.tmp-<host>-`: every temporary file of one target starts with it."""
    base = os.path.basename(filepath)[:100]              # file names are limited to 255 bytes
    return f".{base}{_TEMP_MARK}{_host_token()}-"


def _process_is_gone(pid):
    if os.name == "nt":          # os.kill(pid, 0) would *terminate* the process on Windows
        return False
    try:
        os.kill(pid, 0)          # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:              # exists, but belongs to someone else
        return False
    return False


def _remove_stale_temps(directory, prefix):
    """Remove temporary files of earlier saves of the same target whose process was killed
    before it could clean up. Best effort: a failure here never fails a save."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.startswith(prefix):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and _process_is_gone(int(pid)):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(directory, name))


def _new_temp(directory, prefix):
    """Create an empty file `<prefix><pid>-<random>` that did not exist (O_EXCL), with the
    permissions of any new file (0666 minus the umask, which the OS applies)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        path = os.path.join(directory, f"{prefix}{os.getpid()}-{secrets.token_hex(4)}")
        try:
            os.close(os.open(path, flags, 0o666))
            return path
        except FileExistsError:
            continue


def _fsync_directory(directory):
    """Make a rename in `directory` durable. Windows cannot open a directory for this, and
    some file systems refuse; a rename is still atomic without it, only not yet on disk."""
    if os.name == "nt":
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP, errno.EACCES,
                               errno.EPERM, errno.EISDIR):
            raise
    finally:
        os.close(fd)


def write_atomically(filepath, write):
    """Call `write(temp_path)` to write the whole file, then put it at `filepath` atomically.

    The temporary file sits next to the target; after `write` returns it is fsynced and
    renamed over the target (`os.replace`), then the directory is fsynced. If `write` or any
    step before the rename fails, the temporary file is removed, the target is untouched and
    the error propagates. Leftovers of earlier saves of the same target that were killed
    (their process is gone) are removed first.
    """
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    prefix = _temp_prefix(filepath)
    _remove_stale_temps(directory, prefix)
    tmp = _new_temp(directory, prefix)
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:       # write access: Windows needs it to flush
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    _fsync_directory(directory)


# Keras writes its .keras zip with zipfile's defaults: members stored (not compressed), mode
# 0600, made on Unix. A fixed date (zip's epoch) instead of "now" makes the bytes depend on
# the model only: save the same model twice and the files are identical.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)


def write_zip(filepath, members):
    """Write a zip archive of `members` (an ordered mapping name -> bytes) atomically, in that
    order, stored uncompressed with a fixed date: the same members give the same bytes."""
    for name, data in members.items():
        problem = _bad_name(name)
        if problem:
            raise ValueError(f"write_zip: member name {name!r} {problem}")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"write_zip: member {name!r} must be bytes, received "
                            f"{type(data).__name__}")

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as archive:
            for name, data in members.items():
                info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
                info.compress_type = zipfile.ZIP_STORED
                info.create_system = 3                 # Unix, on every OS: same bytes
                info.external_attr = 0o600 << 16       # as Keras's members
                archive.writestr(info, bytes(data))

    write_atomically(filepath, write)


# ---- reading a zip ------------------------------------------------------------------------
# What Python's zipfile (and zlib below it) raise on damaged or hostile archives.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
               NotImplementedError, RuntimeError, ValueError, KeyError, IndexError,
               OverflowError, TypeError, AttributeError)
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_DRIVE = re.compile(r"^[A-Za-z]:")


class _Refused(Exception):
    """A problem found in a file; read_zip turns it into its one ValueError."""


def _bad_name(name):
    """Why `name` is not a safe member name (a plain relative path), or None."""
    if not name:
        return "is empty"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "contains control characters"
    if "\\" in name:
        return "contains a backslash (a Windows path separator: path traversal)"
    if name.startswith("/"):
        return "is an absolute path"
    if _DRIVE.match(name):
        return "starts with a drive letter"
    parts = name[:-1].split("/") if name.endswith("/") else name.split("/")
    if ".." in parts:
        return "contains '..' (path traversal: it would land outside the folder)"
    if "." in parts or "" in parts:
        return "is not a plain path (it has '.' or empty parts, another spelling of a name)"
    return None


def _is_allowed(name, allowed):
    """`allowed`: exact names, and folders ending in '/' whose contents are all allowed."""
    if allowed is None:
        return True
    return any(name == a or (a.endswith("/") and name.startswith(a)) for a in allowed)


def _check_members(archive, infos, file_size, required, allowed, max_total, max_ratio,
                   ratio_floor):
    """Every check that needs only the archive's directory; raises _Refused."""
    names = [info.filename for info in infos]
    for info in infos:
        name = info.filename
        problem = _bad_name(name)
        if problem:
            raise _Refused(f"has a member named {name!r}, which {problem}")
        kind = stat.S_IFMT(info.external_attr >> 16)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise _Refused(f"has a member {name!r} that is a symbolic link")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise _Refused(f"has a member {name!r} that is not a regular file "
                           f"(file type {oct(kind)})")
        if info.flag_bits & 0x1:
            raise _Refused(f"has an encrypted member {name!r}")
        if info.compress_type not in _COMPRESSIONS:
            raise _Refused(f"has a member {name!r} compressed with method "
                           f"{info.compress_type}; only stored and deflate members are read")
        if not _is_allowed(name, allowed):
            raise _Refused(f"has an unexpected member {name!r} (expected only "
                           f"{', '.join(a + ('...' if a.endswith('/') else '') for a in allowed)})")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise _Refused(f"member {name!r} is stored uncompressed but declares "
                           f"{info.file_size} bytes and {info.compress_size} stored bytes")
        if info.file_size > ratio_floor and info.file_size > max_ratio * info.compress_size:
            raise _Refused(f"member {name!r} declares {info.file_size:,} bytes from only "
                           f"{info.compress_size:,} stored bytes (more than {max_ratio}x: "
                           "a zip bomb)")
        if name.endswith("/") and info.file_size:
            raise _Refused(f"has a folder entry {name!r} with contents")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise _Refused(f"holds the member(s) {duplicates} more than once")
    missing = [n for n in required if n not in names]
    if missing:
        raise _Refused(f"is missing {', '.join(map(repr, missing))}")
    total = sum(info.file_size for info in infos)
    if total > max_total:
        raise _Refused(f"declares {total:,} bytes of contents, more than the limit of "
                       f"{max_total:,} (max_total)")
    # Entries must not overlap: each member's header and data must end before the next one
    # starts (overlapping entries reuse the same bytes: the non-recursive zip bomb).
    ordered = sorted(infos, key=lambda i: i.header_offset)
    ends = [(i.header_offset, i.header_offset + 30 + len(_raw_name(i)) + i.compress_size,
             i.filename) for i in ordered]
    start_of_directory = getattr(archive, "start_dir", file_size)
    for (start, end, name), (next_start, _, next_name) in zip(ends, ends[1:] + [
            (start_of_directory, None, "the central directory")]):
        if end > next_start:
            raise _Refused(f"member {name!r} overlaps {next_name} (a damaged or "
                           "maliciously crafted archive)")


def _raw_name(info):
    """The member name's bytes as stored (zipfile decoded them as UTF-8 or as cp437)."""
    return info.orig_filename.encode("utf-8" if info.flag_bits & 0x800 else "cp437")


def _read_member(archive, info, budget):
    """The member's bytes, read in chunks; stop at once if it yields more than it declared
    or than the remaining budget (zipfile checks the CRC-32 when the end is reached)."""
    chunks, count = [], 0
    with archive.open(info, "r") as member:
        while True:
            chunk = member.read(MiB)
            if not chunk:
                break
            count += len(chunk)
            if count > info.file_size or count > budget:
                raise _Refused(f"member {info.filename!r} holds more bytes than it declares "
                               f"({info.file_size:,})")
            chunks.append(chunk)
    if count != info.file_size:
        raise _Refused(f"member {info.filename!r} holds {count:,} bytes, it declares "
                       f"{info.file_size:,}")
    data = b"".join(chunks)
    # zipfile checks the CRC only when it reaches the end of the compressed stream, which it
    # never does if the member declares fewer bytes than it holds: check it here, always.
    if zlib.crc32(data) != info.CRC:
        raise _Refused(f"member {info.filename!r} is damaged (its CRC-32 does not match)")
    return data


def read_zip(filepath, what, required=(), allowed=None, max_total=4 * GiB, max_ratio=100,
             ratio_floor=16 * MiB):
    """Read every member of the zip archive `filepath`: {name: bytes}, in archive order
    (folder entries left out), or one ValueError `"<what>: '<filepath>' <problem>"`.

    required: names that must be present. allowed: the names that may be present, a name
    ending in '/' allowing everything under that folder (None: any safe name). max_total: cap
    on the sum of the declared sizes. max_ratio: cap on declared / stored size of a member
    larger than ratio_floor bytes (Keras stores members uncompressed, ratio 1; deflate
    cannot exceed ~1032). Everything in the module docstring is checked before any member is
    read.
    """
    filepath = os.fspath(filepath)
    if allowed is not None:
        allowed = tuple(allowed)

    def fail(problem):
        raise ValueError(f"{what}: {filepath!r} {problem}") from None

    if not os.path.isfile(filepath):
        fail("does not exist or is not a file")
    try:
        with open(filepath, "rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            if file_size == 0:
                raise _Refused("is empty (0 bytes), not a zip archive")
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
                _check_members(archive, infos, file_size, tuple(required), allowed,
                               max_total, max_ratio, ratio_floor)
                contents, budget = {}, max_total
                for info in infos:
                    if info.filename.endswith("/"):
                        continue
                    contents[info.filename] = _read_member(archive, info, budget)
                    budget -= info.file_size
                return contents
    except _Refused as refusal:
        fail(str(refusal))
    except _ZIP_ERRORS as error:
        fail(f"is not a valid zip archive, or is damaged ({type(error).__name__}: {error})")


# ---- reading HDF5 -------------------------------------------------------------------------
# What h5py raises on damaged files: HDF5's own errors arrive as OSError / RuntimeError /
# KeyError, and malformed metadata can surface as TypeError, ValueError, IndexError, ...
_H5_ERRORS = (OSError, RuntimeError, KeyError, TypeError, ValueError, IndexError,
              OverflowError, AttributeError, NotImplementedError, SystemError, EOFError)

# HDF5's built-in filters (deflate, shuffle, fletcher32, szip, nbit, scaleoffset) and lzf,
# which h5py itself registers. Any other filter id makes HDF5 look for a plugin library.
_BUILTIN_FILTERS = {1: "deflate", 2: "shuffle", 3: "fletcher32", 4: "szip", 5: "nbit",
                    6: "scaleoffset", 32000: "lzf"}


def _h5py():
    import h5py

    return h5py


@contextlib.contextmanager
def open_h5(source, what, name=None, check=True):
    """`with open_h5(path_or_bytes, what) as f:` an h5py.File opened read-only.

    source: a path, or the bytes of an HDF5 file (a zip member: read through io.BytesIO).
    name: how the file is called in messages (default: the path, or '<bytes>').
    check: run check_h5_tree first (links, external and virtual data, dtypes, sizes).
    Any error h5py raises while opening *or inside the with block* becomes one ValueError
    naming the file; a ValueError that already starts with `what:` or names the file (the
    caller's own, precise message) passes unchanged.
    """
    h5py = _h5py()
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = name or "<bytes>"
        if not len(source):
            raise ValueError(f"{what}: {label!r} is empty (0 bytes), not an HDF5 file")
        if check:
            _check_global_heaps(source, what, label)

        def opener():
            return h5py.File(io.BytesIO(bytes(source)), "r")
    else:
        path = os.fspath(source)
        label = name or path
        if not os.path.isfile(path):
            raise ValueError(f"{what}: no such file {label!r}")
        if check and os.path.getsize(path):
            with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0,
                                                       access=mmap.ACCESS_READ) as data:
                _check_global_heaps(data, what, label)

        def opener():
            return h5py.File(path, "r")

    try:
        f = opener()
    except _H5_ERRORS as error:
        raise ValueError(f"{what}: {label!r} is not a readable HDF5 file "
                         f"({type(error).__name__}: {error})") from None
    try:
        with f:
            if check:
                check_h5_tree(f, what, label)
            yield f
    except ValueError as error:
        message = str(error)
        if message.startswith(f"{what}:") or label in message:
            raise
        raise ValueError(f"{what}: {label!r} is damaged or not a valid HDF5 file "
                         f"(ValueError: {error})") from None
    except _H5_ERRORS as error:
        raise ValueError(f"{what}: {label!r} is damaged or not a valid HDF5 file "
                         f"({type(error).__name__}: {error})") from None


def _check_global_heaps(data, what, label):
    """Refuse a damaged "global heap" before HDF5 parses it.

    Variable-length values -- the strings of Keras's attributes (`model_config`,
    `layer_names`, ...) -- live in global heap collections: blocks that start with b"GCOL",
    version 1, 3 reserved bytes and the block's size (8 bytes), followed by objects, each an
    index (2 bytes), a reference count (2), 4 reserved bytes, its size (8) and its data
    padded to 8 bytes; index 0 is the free space, whose size covers its own header. HDF5
    1.14 walks the objects of a block by their sizes, and a free-space object of size 0
    (easily made by one damaged size: the walk lands in the middle of the zeros) makes it
    step 0 bytes forever: reading a string attribute then hangs, in C, uninterruptibly.
    So the walk is done here first, and a block whose walk would stall or overrun is refused.
    (Searching for b"GCOL" finds every block HDF5 could load: it checks that signature.)
    """
    at = data.find(b"GCOL")
    while at != -1:
        end = at + int.from_bytes(data[at + 8:at + 16], "little")
        if data[at + 4:at + 5] == b"\x01" and at + 16 <= end <= len(data):
            p = at + 16
            while p + 16 <= end:                       # less room: HDF5 counts it as free
                index = int.from_bytes(data[p:p + 2], "little")
                size = int.from_bytes(data[p + 8:p + 16], "little")
                step = size if index == 0 else 16 + (size + 7) // 8 * 8
                if step == 0 or p + step > end:
                    raise ValueError(f"{what}: {label!r} is damaged: the global heap at "
                                     f"byte {at} (where its strings are stored) is corrupt")
                p += step
        at = data.find(b"GCOL", at + 1)


def check_h5_tree(f, what, name=None, max_total=4 * GiB, max_ratio=1000,
                  ratio_floor=16 * MiB):
    """Walk every link of the open file `f` and refuse, with one ValueError naming the file
    and the object, anything a weights file has no use for: soft and external links, objects
    that are neither groups nor arrays, external or virtual datasets, non-numeric datasets
    (strings, variable-length, references, compound), filters that need a plugin, and
    declared sizes beyond max_total bytes in all or max_ratio x the stored bytes for one
    dataset larger than ratio_floor. Reads no numbers; links are not followed.
    """
    h5py = _h5py()
    label = name or f.filename

    def refuse(path, problem):
        raise ValueError(f"{what}: {label!r}: /{path} {problem}")

    # An explicit stack, not recursion: a file may nest groups thousands deep.
    seen, total, stack, spans = {f.id}, 0, [(f, "")], []
    while stack:
        group, prefix = stack.pop()
        _check_attributes(h5py, group, prefix.rstrip("/"), refuse)
        for key in group:
            path = prefix + key
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.SoftLink):
                refuse(path, f"is a soft link (to {link.path!r}); a weights file holds "
                             "groups and arrays only")
            if isinstance(link, h5py.ExternalLink):
                refuse(path, f"is an external link to {link.filename!r} ({link.path!r}); "
                             "scratchnet never reads another file a file points to")
            if not isinstance(link, h5py.HardLink):
                refuse(path, f"is a link of an unknown kind ({type(link).__name__})")
            obj = group[key]
            if isinstance(obj, h5py.Group):
                if obj.id not in seen:                  # a group met twice: a cycle
                    seen.add(obj.id)
                    stack.append((obj, path + "/"))
            elif isinstance(obj, h5py.Dataset):
                if obj.id in seen:                      # one array under two names
                    continue
                seen.add(obj.id)
                _check_attributes(h5py, obj, path, refuse)
                total += _check_dataset(h5py, obj, path, refuse, max_ratio, ratio_floor,
                                        spans)
                if total > max_total:
                    refuse(path, f"brings the declared size of the arrays to {total:,} "
                                 f"bytes, more than the limit of {max_total:,}")
            else:
                refuse(path, f"is a {type(obj).__name__}, not a group or an array")
    # No two arrays may store their numbers in the same bytes: a damaged address that points
    # one array at another's (intact, checksummed) bytes would load other numbers silently.
    spans.sort()
    for (start, end, path), (next_start, _, next_path) in zip(spans, spans[1:]):
        if next_start < end:
            refuse(path, f"stores its numbers in the same bytes as /{next_path}")


# Attributes hold names, numbers and JSON text (Keras's layer_names, weight_names,
# model_config): integers, floats and strings, fixed or variable length, each at most this.
_ATTRIBUTE_CLASSES = {0: "integer", 1: "float", 3: "string"}
_MAX_ATTRIBUTE_BYTES = 64 * MiB


def _check_attributes(h5py, obj, path, refuse):
    """Look at every attribute's type and size without reading it. A damaged type can say
    "variable-length sequence" where a string was (one flipped bit), and h5py then crashes
    the whole process (a segmentation fault) when it reads the attribute."""
    for name in obj.attrs:
        attribute = obj.attrs.get_id(name)
        kind = attribute.get_type().get_class()
        if kind not in _ATTRIBUTE_CLASSES:
            refuse(path, f"has an attribute {name!r} of HDF5 type class {kind}, not an "
                         "integer, float or string: the file is damaged or not a weights "
                         "file")
        declared = attribute.get_type().get_size()
        for n in attribute.shape or ():
            declared *= int(n)
        if declared > _MAX_ATTRIBUTE_BYTES:
            refuse(path, f"has an attribute {name!r} of {declared:,} bytes, more than "
                         f"{_MAX_ATTRIBUTE_BYTES:,}")


def _check_dataset(h5py, dataset, path, refuse, max_ratio, ratio_floor, spans):
    """Refuse a dataset a weights file cannot hold; return its declared size in bytes."""
    if dataset.external:
        refuse(path, f"keeps its numbers in external files {dataset.external}; "
                     "scratchnet reads only the file it was given")
    if dataset.is_virtual:
        refuse(path, "is a virtual dataset (assembled from other datasets or files)")
    dtype = dataset.dtype
    if (h5py.check_vlen_dtype(dtype) is not None or h5py.check_ref_dtype(dtype) is not None
            or dtype.kind not in "biuf" or dtype.fields is not None):
        refuse(path, f"holds {dtype} values (strings, references, variable-length, complex "
                     "or records), not an array of numbers")
    if dtype.kind in "iuf" and not _standard_number_type(h5py, dataset.id.get_type()):
        refuse(path, "stores its numbers in a non-standard format (an HDF5 number type that "
                     "is not IEEE floating point or a plain integer: a damaged datatype, "
                     "whose numbers would be converted into other numbers)")
    if dataset.shape is None:
        refuse(path, "has no shape (an empty dataspace), not an array")
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    for code in filters:
        if code not in _BUILTIN_FILTERS:
            refuse(path, f"needs HDF5 filter {code}, which is not built in: HDF5 would load "
                         "a plugin library to read it")
    declared = int(dtype.itemsize)
    for n in dataset.shape:
        declared *= int(n)
    stored = dataset.id.get_storage_size()
    if declared > ratio_floor and declared > max_ratio * stored:
        refuse(path, f"declares {declared:,} bytes but stores {stored:,} (more than "
                     f"{max_ratio}x: a shape bomb)")
    if declared:
        _check_storage(h5py, dataset, path, refuse, plist, filters, declared, stored, spans)
    return declared


def _standard_number_type(h5py, type_id):
    """Is this HDF5 number type one that NumPy has: IEEE 754 half, single or double, or a
    two's-complement integer of 1-8 bytes, either byte order? HDF5 can describe any other
    layout of bits (where the exponent sits, its bias, ...), and converts such numbers to
    the nearest NumPy type: a damaged description silently gives other numbers."""
    names = [f"IEEE_F{bits}{order}" for bits in (16, 32, 64) for order in ("LE", "BE")]
    names += [f"STD_{sign}{bits}{order}" for sign in "IU" for bits in (8, 16, 32, 64)
              for order in ("LE", "BE")]
    return any(type_id.equal(getattr(h5py.h5t, name)) for name in names
               if hasattr(h5py.h5t, name))


def _check_storage(h5py, dataset, path, refuse, plist, filters, declared, stored, spans):
    """Are the array's numbers all stored, where it says, in the size its type needs?

    A weights file stores every number it declares (h5py and Keras write whole arrays), so
    an array with nothing or only part stored -- HDF5 would quietly read its "fill value",
    zeros -- or whose stored size does not fit its type and shape (a damaged datatype:
    4-byte floats read as 8-byte ones) is a damaged file. The stored ranges are collected in
    `spans` so that check_h5_tree can refuse two arrays sharing bytes."""
    layout = plist.get_layout()
    if layout == h5py.h5d.CONTIGUOUS:
        offset = dataset.id.get_offset()
        if offset is None or stored != declared:
            refuse(path, f"stores {stored:,} bytes where its shape and type need "
                         f"{declared:,}: the file is damaged")
        spans.append((offset, offset + stored, path))
    elif layout == h5py.h5d.CHUNKED and hasattr(dataset.id, "get_num_chunks"):
        shape, chunks = dataset.shape, dataset.chunks
        expected = 1
        for n, c in zip(shape, chunks):
            expected *= -(-int(n) // int(c))
        found = dataset.id.get_num_chunks()
        if found != expected:
            refuse(path, f"stores {found} of its {expected} chunks (the others would read "
                         "as zeros): the file is damaged")
        chunk_bytes = dataset.dtype.itemsize
        for c in chunks:
            chunk_bytes *= int(c)
        if set(filters) <= {3}:                         # unfiltered, or only Fletcher-32
            chunk_bytes += 4 if filters else 0
        else:
            chunk_bytes = None                          # compressed: any size
        places = set()
        for i in range(found):
            info = dataset.id.get_chunk_info(i)
            place = tuple(int(o) for o in info.chunk_offset)
            if any(o % int(c) or o >= int(n) for o, c, n in zip(place, chunks, shape)) or (
                    place in places):
                refuse(path, f"has a chunk at position {place}, outside its shape {shape} "
                             "or twice (the array would read zeros there): the file is "
                             "damaged")
            places.add(place)
            if info.filter_mask:
                refuse(path, "has a chunk stored without its filters (without its "
                             "checksum): the file is damaged")
            if chunk_bytes is not None and info.size != chunk_bytes:
                refuse(path, f"has a chunk of {info.size} bytes where its shape and type "
                             f"need {chunk_bytes}: the file is damaged")
            spans.append((info.byte_offset, info.byte_offset + info.size, path))

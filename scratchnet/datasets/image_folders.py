"""Image-folder datasets of the lectures: `horse-or-human` and `rps` (rock-paper-scissors).

Coursera C1 W4 and Zero to Hero part 4 read RGB images from class folders with
`ImageDataGenerator.flow_from_directory` / `image_dataset_from_directory`:

    horse-or-human/{horses,humans}/*.png              training, 300x300 RGB
    validation-horse-or-human/{horses,humans}/*.png   validation
    rps/{paper,rock,scissors}/*.png                   training
    rps-test-set/{paper,rock,scissors}/*.png          test

`prepare(name)` returns an `ImageFolders` whose `.train` and `.validation` are those two
directories. Sources, tried in order:

a. The official archives already in the cache, laid out as `keras.utils.get_file(fname,
   origin, extract=True)` lays them out: `<data dir>/horse-or-human.zip` extracted into
   `<data dir>/horse-or-human_extracted/` (and so on for each archive). `<data dir>` is
   `$SCRATCHNET_DATA_DIR`, else `$KERAS_HOME/datasets` (default `~/.keras/datasets`).
   A cached archive is accepted when its size is the official one and its folder holds
   the class folders (its sha256 was checked when it was downloaded); an archive not yet
   extracted is checked in full (size, sha256, class folders) before it is extracted.
b. The official downloads (the course's URLs, then the copies TensorFlow Datasets uses),
   each verified against the size and sha256 that TensorFlow Datasets records for it
   (tensorflow_datasets/url_checksums/{horses_or_humans,rock_paper_scissors}.txt), then
   checked to hold the expected class folders, then extracted. Skipped when
   SCRATCHNET_OFFLINE=1; a 10 s network timeout makes offline machines fall through fast.
c. A rebuilt stand-in, `<data dir>/scratchnet-<name>/`, made from the clip-art drawings
   of Debian's package openclipart-png (public domain), see `build_from_drawings`. These
   are drawings, not the official computer-generated renders: README.txt inside the
   folder says so and lists every source file. It is never written under an official
   name, so a later online run still downloads the real data and prefers it.
d. Otherwise DatasetUnavailableError, saying which commands fix it.

Every write is atomic: archives are downloaded to a temp file and renamed; folders are
built or extracted in a temp directory beside their destination and renamed into place,
so an interrupted run never leaves a half-made folder under a final name.
"""
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass

import numpy as np

from . import cache, sources
from .cache import TEMP_PREFIX, DatasetUnavailableError, SourceMissing

IMAGE_SIZE = 300  # the lectures' target_size: every image is 300x300 RGB
BUILD_VERSION = 1  # bump when the rebuilt folders change; older builds are then remade
BUILD_SEED = 20190201  # seeds every random view, so a rebuild gives the same images
MARKER = "BUILD.json"  # written last inside a rebuilt folder

# -- the official archives ------------------------------------------------------------


@dataclass(frozen=True)
class Archive:
    """One official zip: its cache name, URLs, size and sha256, and what it holds.

    `top` is the folder inside the zip that holds the class folders ("" when they sit at
    the top, as in horse-or-human.zip).
    """
    name: str
    urls: tuple
    size: int
    sha256: str
    top: str

    @property
    def extracted(self):
        """Keras's extraction folder name: `horse-or-human.zip` -> `horse-or-human_extracted`."""
        return self.name[: self.name.find(".")] + "_extracted"


COURSE_URL = "https://storage.googleapis.com/learning-datasets/"
TFDS_URL = "https://storage.googleapis.com/download.tensorflow.org/data/"


def _archive(name, size, sha256, top=""):
    return Archive(name, (COURSE_URL + name, TFDS_URL + name), size, sha256, top)


# Sizes and sha256s: TensorFlow Datasets' url_checksums files (recorded for the TFDS URLs;
# the course URLs serve the same files, and are accepted only if they match them).
ARCHIVES = {
    "horse-or-human.zip": _archive(
        "horse-or-human.zip", 149574867,
        "e2e6f70d3d549c5dd10a57165e55af253ee66ad750403f95c0fb76bb943633a9"),
    "validation-horse-or-human.zip": _archive(
        "validation-horse-or-human.zip", 11480187,
        "ae5fff2f4f5554791f05358108e2e05d9801b191f1896ea101402f0e7f6c32c0"),
    "rps.zip": _archive(
        "rps.zip", 200682221,
        "c2403444395842ad04c53612bad54b574443eae17a0723117a2ff87b9d72194f", top="rps"),
    "rps-test-set.zip": _archive(
        "rps-test-set.zip", 29516758,
        "c27ab9fa43ce40b2e453de711365b477f4424586edf0388116674fd320f07503",
        top="rps-test-set"),
}

# -- the rebuilt stand-in's source: Debian's openclipart-png ---------------------------

OPENCLIPART_PACKAGE = "openclipart-png"
OPENCLIPART_VERSION = "1:0.18+dfsg-19"
# The .deb's name as `apt-get download` writes it (the epoch "1:" escaped as "%3a").
OPENCLIPART_DEB = "openclipart-png_1%3a0.18+dfsg-19_all.deb"
# Debian's SHA256 for that .deb (from `apt-cache show openclipart-png=1:0.18+dfsg-19`).
OPENCLIPART_DEB_SHA256 = "f07f1545a2970c2cf3fa339bc2405da1a95cf2b1827bfa05bf73eb1c20291c02"
OPENCLIPART_LICENSE = "public domain (Creative Commons Public Domain Dedication), per " \
                      "/usr/share/doc/openclipart-png/copyright"
OPENCLIPART_DIR = "/usr/share/openclipart/png"  # where the package installs its PNGs


@dataclass(frozen=True)
class ImageFolderSpec:
    """A dataset: its class folders, its two splits and how to rebuild them.

    `splits` is ((train folder, archive name), (held-out folder, archive name)).
    `drawings[class]` is (training drawings, held-out-only drawings), paths relative to
    OPENCLIPART_DIR; when the held-out tuple is empty the held-out split uses other
    random views of the training drawings.
    """
    name: str
    classes: tuple
    splits: tuple
    per_class: tuple  # rebuilt images per class: (train, held-out)
    drawings: dict
    note: str


_HORSES = "animals/mammals/horses/"
_PEOPLE = "people/"
HORSE_OR_HUMAN = ImageFolderSpec(
    name="horse-or-human",
    classes=("horses", "humans"),
    splits=(("horse-or-human", "horse-or-human.zip"),
            ("validation-horse-or-human", "validation-horse-or-human.zip")),
    per_class=(256, 64),
    drawings={
        "horses": (
            tuple(_HORSES + f"cavallo_architetto_franc_0{i}.png" for i in range(1, 7))
            + (_HORSES + "horse_1_konstantin_r._01.png", _HORSES + "mechorse.png"),
            (_HORSES + "cavallo_architetto_franc_07.png",
             _HORSES + "horse_2_konstantin_r._01.png")),
        "humans": (
            tuple(_PEOPLE + f for f in (
                "a_boy_plays_soccer_01.png", "a_happy_boy_01.png", "a_man_singing_01.png",
                "a_youngster_01.png", "aerobics_architetto_fran_01.png",
                "architetto_architetto_fr_01.png", "architetto_francesco_ro_01.png",
                "bach_ganson.png", "ballerina_architetto_fra_01.png", "blue_girl_dirk_struve_.png",
                "boy_astrid_graeber_.png", "breakdance_juliane_krug_01.png",
                "brozo_the_clown_enrique__01.png", "bussiness_woman_donna_i_01.png",
                "card_figure_joker_nic_r.png", "card_figure_king_nicu_r.png", "cm1.png",
                "donna_incinta_architetto_01.png", "einstein_01.png",
                "fitness_architetto_franc_01.png", "golf_drive_ganson.png", "grandpa_01.png",
                "handstand_andrew_fitzsim_01.png", "head1.png", "head11.png", "head12.png",
                "head2.png", "kid_01.png", "man_01.png", "man_face_darek_adamkiewi_01.png",
                "martin_luther_king_jr._h_02.png", "nonno_sport_architetto_f_01.png",
                "pattinatrici_sul_ghiacc_01.png", "rich_young_man_counting_01.png",
                "signorina_architetto_fra_01.png", "silhouette_male_1.png",
                "woman_chemist_gerald_g._01.png", "woman_fashion_01_gerald__01.png",
                "woman_police_01_gerald_g_01.png", "woman_reading_gerald_g._01.png")),
            tuple(_PEOPLE + f for f in (
                "adult_astrid_graeber_01.png", "beethoveo_ganson.png",
                "bride1_jarno_vasamaa_01.png", "card_figure_queen_nic_r.png",
                "groom1_jarno_vasamaa_01.png", "handel_ganson.png", "head13.png", "head3.png",
                "manga_girl_dirk_struve_01.png", "wedding_couple_jarno_vas_.png",
                "woman_01.png", "woman_fashion_02_gerald__01.png",
                "woman_police_02_gerald_g_01.png", "yoga_architetto_francesc_01.png"))),
    },
    note="Horses: 10 clip-art drawings of horses (8 for training, 2 only in validation). "
         "Humans: 54 clip-art drawings of people (40 for training, 14 only in validation).",
)

RPS = ImageFolderSpec(
    name="rps",
    classes=("paper", "rock", "scissors"),
    splits=(("rps", "rps.zip"), ("rps-test-set", "rps-test-set.zip")),
    per_class=(120, 40),
    drawings={
        "rock": (("unsorted/rock_RPSWB.png", "unsorted/stones_01.png",
                  "geography/ayers_rock_ganson.png"), ()),
        "paper": (("unsorted/paper_RPSWB.png", "office/paper1.png", "office/paper2.png",
                   "office/paper3.png", "office/paper4.png", "education/paper_01.png",
                   "office/glossy_paper__gino_river_01.png",
                   "office/milimetered_paper_01.png",
                   "office/parchment_paper_portrai_.png"), ()),
        "scissors": (("unsorted/scissors_RPSWB.png", "education/scissors.png",
                      "education/scissors_02.png",
                      "office/scissors_forbici_franc_.png"), ()),
    },
    note="Each class has one drawing of a hand making the gesture (openclipart's "
         "rock/paper/scissors_RPSWB.png) and drawings of the object itself (stones, "
         "sheets of paper, scissors). Too few drawings to hold some out: the test set "
         "shows other random views of the same drawings.",
)

DATASETS = {spec.name: spec for spec in (HORSE_OR_HUMAN, RPS)}


@dataclass(frozen=True)
class ImageFolders:
    """Where a prepared dataset is: `train` and `validation` are class-folder directories.

    `kind` is "official" (the downloaded archives) or "rebuilt" (the clip-art stand-in).
    """
    name: str
    kind: str
    train: str
    validation: str


# -- public entry points -------------------------------------------------------------


def get_spec(name):
    """The ImageFolderSpec called `name`, or ValueError naming the choices."""
    if name not in DATASETS:
        raise ValueError(f"unknown image-folder dataset {name!r}; expected one of "
                         f"{', '.join(map(repr, DATASETS))}")
    return DATASETS[name]


def prepare(name, verbose=True, drawings=None):
    """Make dataset `name` ready (sources a-d in the module docstring); returns ImageFolders.

    `drawings` (optional) is an `OpenClipart` shared between datasets, so that the .deb
    is fetched and read once per `prepare_all`.
    """
    spec = get_spec(name)
    directory = cache.data_dir()
    drawings = drawings or OpenClipart(directory, verbose)
    tried = []
    for label, source in (("official archives in the cache", _official_cached),
                          ("official download", _official_download),
                          ("scratchnet's rebuilt folders in the cache", _rebuilt_cached),
                          (f"a rebuild from Debian's {OPENCLIPART_PACKAGE}",
                           lambda *args: _rebuild(*args, drawings))):
        try:
            folders = source(spec, directory, verbose)
        except SourceMissing as e:
            tried.append(f"{label}: {e}")
            continue
        except (OSError, ValueError) as e:
            cache.log(f"{name}: {label} failed ({type(e).__name__}: {e}); trying the next "
                      "source", verbose)
            tried.append(f"{label}: {type(e).__name__}: {e}")
            continue
        if folders.kind == "rebuilt":
            cache.log(f"{name}: using the REBUILT clip-art stand-in (not the official "
                      f"images); see {os.path.dirname(folders.train)}/README.txt", verbose)
        return folders
    lines = "\n".join(f"  - {t}" for t in tried)
    raise DatasetUnavailableError(
        f"could not prepare {name}; tried, in order:\n{lines}\nTo fix, do one of:\n"
        "  - connect to the internet (and unset SCRATCHNET_OFFLINE), then run "
        "`scratchnet data fetch`\n"
        f"  - run `apt-get update && apt-get install {OPENCLIPART_PACKAGE}` (or "
        f"`apt-get download {OPENCLIPART_PACKAGE}={OPENCLIPART_VERSION}` and set "
        "SCRATCHNET_OPENCLIPART_DEB to the .deb), then `scratchnet data fetch`")


def prepare_all(verbose=True):
    """Prepare every image-folder dataset; returns {name: ImageFolders}.

    Raises DatasetUnavailableError listing every dataset that could not be prepared,
    after trying them all.
    """
    result, errors = {}, []
    drawings = OpenClipart(cache.data_dir(), verbose)
    for name in DATASETS:
        try:
            result[name] = prepare(name, verbose, drawings)
        except DatasetUnavailableError as e:
            errors.append(f"{name}: {e}")
    if errors:
        raise DatasetUnavailableError("\n\n".join(errors))
    return result


# -- sources a and b: the official archives ---------------------------------------------


def official_folders(spec, directory):
    """ImageFolders for the official archives' extraction folders in `directory`."""
    dirs = []
    for _, archive_name in spec.splits:
        archive = ARCHIVES[archive_name]
        dirs.append(os.path.join(directory, archive.extracted, archive.top)
                    if archive.top else os.path.join(directory, archive.extracted))
    return ImageFolders(spec.name, "official", dirs[0], dirs[1])


def _official_cached(spec, directory, verbose):
    for _, archive_name in spec.splits:
        archive = ARCHIVES[archive_name]
        path = os.path.join(directory, archive.name)
        if not os.path.isfile(path):
            raise SourceMissing(f"{path} not found")
        if os.path.getsize(path) != archive.size:
            raise ValueError(f"{path} is {os.path.getsize(path)} bytes, the official "
                             f"archive is {archive.size}")
    folders = official_folders(spec, directory)
    for (_, archive_name), split in zip(spec.splits, (folders.train, folders.validation)):
        if not has_class_folders(split, spec.classes):  # not extracted yet: check, extract
            archive = ARCHIVES[archive_name]
            path = os.path.join(directory, archive.name)
            verify_archive(path, archive, spec.classes)
            extract_archive(path, archive, spec.classes, directory)
    return folders


def _official_download(spec, directory, verbose):
    if cache.offline():
        raise SourceMissing("skipped (SCRATCHNET_OFFLINE=1)")
    for _, archive_name in spec.splits:
        archive = ARCHIVES[archive_name]
        dest = os.path.join(directory, archive.name)
        if os.path.isfile(dest):
            try:
                verify_archive(dest, archive, spec.classes)
                continue  # already downloaded (say, for the other dataset's split)
            except ValueError as e:
                cache.log(f"{e}; downloading it again", verbose)
        errors = []
        for url in archive.urls:
            try:
                cache.log(f"downloading {url} ({archive.size / 2**20:.0f} MiB)", verbose)
                sources.download(url, dest, lambda p, a=archive: verify_archive(
                    p, a, spec.classes))
                break
            except (OSError, ValueError) as e:
                errors.append(f"{url}: {type(e).__name__}: {e}")
        else:
            raise OSError("; ".join(errors))
    for _, archive_name in spec.splits:
        archive = ARCHIVES[archive_name]
        extract_archive(os.path.join(directory, archive.name), archive, spec.classes,
                        directory)
    return official_folders(spec, directory)


def verify_archive(path, archive, classes):
    """Raise ValueError unless `path` is `archive`: its size, sha256 and class folders."""
    size = os.path.getsize(path)
    if size != archive.size:
        raise ValueError(f"{path}: {size} bytes, expected {archive.size} "
                         f"(the official {archive.name})")
    got = cache.file_sha256(path)
    if got != archive.sha256:
        raise ValueError(f"{path}: sha256 is {got}, expected {archive.sha256} "
                         f"(the official {archive.name})")
    check_zip_layout(path, archive, classes)


def check_zip_layout(path, archive, classes):
    """Raise ValueError unless the zip holds `<top>/<class>/` for every class, safely."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path}: not a readable zip file ({e})") from e
    prefix = archive.top + "/" if archive.top else ""
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if name.startswith("/") or ".." in parts:
            raise ValueError(f"{path}: unsafe member name {name!r}")
    found = {n[len(prefix):].split("/")[0] for n in names
             if n.startswith(prefix) and "/" in n[len(prefix):]}
    missing = [c for c in classes if c not in found]
    if missing:
        raise ValueError(f"{path}: no {', '.join(prefix + c + '/' for c in missing)} "
                         f"folder; expected class folders {list(classes)}")


def extract_archive(path, archive, classes, directory):
    """Extract `path` into `<directory>/<archive.extracted>` atomically; returns that path.

    The zip is extracted into a temp directory beside the destination, checked, then
    renamed into place. An existing extraction folder is left alone.
    """
    dest = os.path.join(directory, archive.extracted)
    check_zip_layout(path, archive, classes)
    if has_class_folders(os.path.join(dest, archive.top) if archive.top else dest, classes):
        return dest
    tmp = tempfile.mkdtemp(dir=directory, prefix=TEMP_PREFIX)
    try:
        with zipfile.ZipFile(path) as z:
            z.extractall(tmp)
        _replace_dir(tmp, dest)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def has_class_folders(directory, classes):
    """True when `directory` has a non-empty sub-folder for every class."""
    return all(os.path.isdir(os.path.join(directory, c)) and
               os.listdir(os.path.join(directory, c)) for c in classes)


# -- sources c and d: the rebuilt stand-in ------------------------------------------------


def rebuilt_root(spec, directory):
    """`<directory>/scratchnet-<name>`: never an official name."""
    return os.path.join(directory, f"scratchnet-{spec.name}")


def rebuilt_folders(spec, directory):
    root = rebuilt_root(spec, directory)
    return ImageFolders(spec.name, "rebuilt", os.path.join(root, spec.splits[0][0]),
                        os.path.join(root, spec.splits[1][0]))


def _rebuilt_cached(spec, directory, verbose):
    root = rebuilt_root(spec, directory)
    marker = os.path.join(root, MARKER)
    if not os.path.isfile(marker):
        raise SourceMissing(f"{root} not found")
    try:
        with open(marker, encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError) as e:
        raise ValueError(f"{marker} is unreadable ({e})") from e
    if info.get("build_version") != BUILD_VERSION:
        raise ValueError(f"{root} was built by build_version {info.get('build_version')}, "
                         f"this is {BUILD_VERSION}; rebuilding it")
    folders = rebuilt_folders(spec, directory)
    for split, count in zip((folders.train, folders.validation), spec.per_class):
        for c in spec.classes:
            d = os.path.join(split, c)
            n = len(os.listdir(d)) if os.path.isdir(d) else 0
            if n != count:
                raise ValueError(f"{d} has {n} images, expected {count}; rebuilding it")
    return folders


def _rebuild(spec, directory, verbose, drawings):
    images = drawings.images(spec)
    cache.log(f"building {rebuilt_root(spec, directory)} from {drawings.provenance}", verbose)
    build_from_drawings(spec, images, rebuilt_root(spec, directory), drawings.provenance)
    return rebuilt_folders(spec, directory)


def all_members():
    """Every drawing any dataset uses, as paths under OPENCLIPART_DIR, sorted."""
    return sorted({m for spec in DATASETS.values() for pair in spec.drawings.values()
                   for group in pair for m in group})


class OpenClipart:
    """The drawings of Debian's openclipart-png, fetched on first use and kept.

    Tries, in order: the installed package (OPENCLIPART_DIR); the .deb at
    $SCRATCHNET_OPENCLIPART_DEB or `<directory>/<OPENCLIPART_DEB>`; then (not when
    offline) `apt-get download openclipart-png=<version>` into a temp directory that is
    removed after use (the package is never installed). A .deb is accepted only with
    Debian's sha256. `provenance` says which one was used.
    """

    def __init__(self, directory, verbose=True):
        self.directory, self.verbose = directory, verbose
        self.data, self.provenance, self.error = None, None, None

    def images(self, spec):
        """{class: (training, held-out)} tuples of RGBA PIL images for `spec`."""
        if self.error is not None:  # failed for an earlier dataset: do not fetch again
            raise self.error
        if self.data is None:
            try:
                self.data, self.provenance = self._fetch(all_members())
            except (SourceMissing, OSError, ValueError) as e:
                self.error = e
                raise
        return _decode(spec, self.data)

    def _fetch(self, members):
        if all(os.path.isfile(os.path.join(OPENCLIPART_DIR, m)) for m in members):
            data = {}
            for m in members:
                with open(os.path.join(OPENCLIPART_DIR, m), "rb") as f:
                    data[m] = f.read()
            return data, f"the installed {OPENCLIPART_PACKAGE} ({OPENCLIPART_DIR})"
        candidates = [os.environ.get("SCRATCHNET_OPENCLIPART_DEB"),
                      os.path.join(self.directory, OPENCLIPART_DEB)]
        for deb in filter(None, candidates):
            if os.path.isfile(deb):
                try:
                    return (read_deb_members(deb, members),
                            f"{deb} ({OPENCLIPART_PACKAGE} {OPENCLIPART_VERSION})")
                except ValueError as e:
                    cache.log(f"skipping {deb}: {e}", self.verbose)
        if cache.offline():
            raise SourceMissing(f"{OPENCLIPART_DIR} lacks the drawings and no usable "
                                f"{OPENCLIPART_DEB} was found (apt-get download skipped: "
                                "SCRATCHNET_OFFLINE=1)")
        os.makedirs(self.directory, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.directory, prefix=TEMP_PREFIX) as tmp:
            data = read_deb_members(apt_download(tmp, self.verbose), members)
        return data, (f"Debian's {OPENCLIPART_PACKAGE} {OPENCLIPART_VERSION} "
                      "(apt-get download)")


def apt_download(directory, verbose=True):
    """`apt-get download openclipart-png=<version>` into `directory`; returns the .deb."""
    if shutil.which("apt-get") is None:
        raise SourceMissing("apt-get not found (not a Debian/Ubuntu machine)")
    cmd = ["apt-get", "download", "-q", f"{OPENCLIPART_PACKAGE}={OPENCLIPART_VERSION}"]
    cache.log(f"fetching drawings: {' '.join(cmd)} (131 MB)", verbose)
    try:
        result = subprocess.run(cmd, cwd=directory, capture_output=True, text=True,
                                timeout=900)
    except subprocess.TimeoutExpired as e:
        raise OSError(f"apt-get download timed out after {e.timeout} s") from e
    debs = sorted(f for f in os.listdir(directory)
                  if f.startswith(OPENCLIPART_PACKAGE + "_") and f.endswith(".deb"))
    deb = os.path.join(directory, debs[0]) if debs else None
    if result.returncode != 0 or deb is None:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise OSError(f"apt-get download {OPENCLIPART_PACKAGE}={OPENCLIPART_VERSION} "
                      f"failed (exit {result.returncode}): {last} (run `apt-get update` "
                      "first?)")
    return deb


def read_deb_members(deb, members):
    """Bytes of `members` (paths under OPENCLIPART_DIR) from the .deb, after its sha256.

    A .deb is an `ar` archive; its `data.tar.xz` member holds the files. It is streamed,
    so only the wanted files are kept in memory.
    """
    got = cache.file_sha256(deb)
    if got != OPENCLIPART_DEB_SHA256:
        raise ValueError(f"{deb}: sha256 is {got}, expected Debian's "
                         f"{OPENCLIPART_DEB_SHA256} ({OPENCLIPART_PACKAGE} "
                         f"{OPENCLIPART_VERSION})")
    wanted = {"./" + OPENCLIPART_DIR.strip("/") + "/" + m: m for m in members}
    found = {}
    with open(deb, "rb") as f:
        if f.read(8) != b"!<arch>\n":
            raise ValueError(f"{deb}: not a Debian package (no ar header)")
        while True:
            header = f.read(60)
            if len(header) < 60:
                raise ValueError(f"{deb}: no data.tar.xz member")
            name = header[:16].decode("ascii", "replace").strip().rstrip("/")
            size = int(header[48:58].decode("ascii").strip())
            if name == "data.tar.xz":
                with tarfile.open(fileobj=_Limited(f, size), mode="r|xz") as tar:
                    for info in tar:
                        if info.name in wanted and info.isfile():
                            found[wanted[info.name]] = tar.extractfile(info).read()
                break
            f.seek(size + (size & 1), os.SEEK_CUR)
    missing = [m for m in members if m not in found]
    if missing:
        raise ValueError(f"{deb}: lacks {', '.join(missing)}")
    return found


class _Limited(io.RawIOBase):
    """A read-only view of the next `size` bytes of a file (one ar member)."""

    def __init__(self, f, size):
        self.f, self.left = f, size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = self.f.readinto(memoryview(buffer)[: min(len(buffer), self.left)])
        self.left -= n
        return n


def _decode(spec, data):
    """{class: (train images, held-out images)} of RGBA PIL images from PNG bytes."""
    from PIL import Image

    def load(member):
        try:
            with Image.open(io.BytesIO(data[member])) as im:
                return crop_to_content(im.convert("RGBA"))
        except OSError as e:
            raise ValueError(f"{member}: not a readable PNG ({e})") from e

    return {c: (tuple(load(m) for m in train), tuple(load(m) for m in held))
            for c, (train, held) in spec.drawings.items()}


def crop_to_content(image):
    """Crop an RGBA drawing to the box of its non-transparent pixels."""
    box = image.getchannel("A").getbbox()
    return image.crop(box) if box else image


def render_view(drawing, rng, size=IMAGE_SIZE):
    """One 300x300 RGB picture of an RGBA drawing: a random view on a random background.

    Background: a light plain colour or a light vertical two-colour gradient. The drawing
    is flipped left-right with probability 1/2, rotated by up to 20 degrees, scaled so its
    longer side is 55-95% of the picture and placed at a random position that keeps it
    whole. `rng` is a numpy Generator; the same rng state gives the same picture.
    """
    from PIL import Image

    top, bottom = rng.integers(150, 256, 3), rng.integers(150, 256, 3)
    if rng.random() < 0.5:
        bottom = top
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    background = np.broadcast_to((1 - t) * top + t * bottom, (size, size, 3))
    canvas = Image.fromarray(np.round(background).astype(np.uint8), "RGB")
    if rng.random() < 0.5:
        drawing = drawing.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    drawing = drawing.rotate(float(rng.uniform(-20, 20)), resample=Image.Resampling.BICUBIC,
                             expand=True)
    scale = float(rng.uniform(0.55, 0.95)) * size / max(drawing.size)
    w = max(1, min(size, round(drawing.width * scale)))
    h = max(1, min(size, round(drawing.height * scale)))
    drawing = drawing.resize((w, h), Image.Resampling.LANCZOS)
    x, y = int(rng.integers(0, size - w + 1)), int(rng.integers(0, size - h + 1))
    canvas.paste(drawing, (x, y), drawing)
    return canvas


def build_from_drawings(spec, drawings, root, provenance, per_class=None, seed=BUILD_SEED):
    """Write the lectures' layout under `root` from RGBA drawings; returns `root`.

    `drawings[class]` = (training drawings, held-out-only drawings). Split i gets
    `per_class[i]` PNGs per class (default `spec.per_class`), 300x300 RGB, cycling through
    its drawings (training: the training drawings; held-out: the held-out drawings if
    any, else the training ones) with one random view each (`render_view`), seeded from
    (seed, split, class, index). Built in a temp directory beside `root`, with README.txt
    and BUILD.json written last, then renamed to `root` (an older `root` is replaced).
    """
    per_class = tuple(per_class or spec.per_class)
    parent = os.path.dirname(os.path.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=TEMP_PREFIX)
    counts = {}
    try:
        for s, ((folder, _), count) in enumerate(zip(spec.splits, per_class)):
            for ci, c in enumerate(spec.classes):
                train, held = drawings[c]
                pool = (held or train) if s == 1 else train
                if not pool:
                    raise ValueError(f"{spec.name}: no drawings for class {c!r}")
                os.makedirs(os.path.join(tmp, folder, c))
                for i in range(count):
                    rng = np.random.default_rng([seed, s, ci, i])
                    image = render_view(pool[i % len(pool)], rng)
                    image.save(os.path.join(tmp, folder, c, f"{c}-{i:04d}.png"))
                counts[f"{folder}/{c}"] = count
        _write_text(os.path.join(tmp, "README.txt"), readme_text(spec, provenance, counts))
        _write_text(os.path.join(tmp, MARKER), json.dumps(
            {"build_version": BUILD_VERSION, "dataset": spec.name, "source": provenance,
             "counts": counts, "seed": seed}, indent=1) + "\n")
        _replace_dir(tmp, root)
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return root


def readme_text(spec, provenance, counts):
    """README.txt of a rebuilt folder: what it is, what it is not, what it is made from."""
    lines = [
        f"scratchnet's REBUILT stand-in for the '{spec.name}' dataset: NOT the official images.",
        "",
        "The official dataset (Laurence Moroney, CC BY 2.0) is computer-generated renders;",
        "it needs the internet. These folders have the same layout, class names and image",
        f"size ({IMAGE_SIZE}x{IMAGE_SIZE} RGB PNG), made offline from public-domain clip-art",
        f"DRAWINGS (not photographs) in Debian's package {OPENCLIPART_PACKAGE} "
        f"{OPENCLIPART_VERSION},",
        f"read from {provenance}.",
        f"License of the drawings: {OPENCLIPART_LICENSE}.",
        "",
        "Each image is one drawing, flipped left-right at random, rotated by up to 20",
        "degrees, scaled to 55-95% of the picture and pasted at a random place on a light",
        "plain or two-colour gradient background (scratchnet/datasets/image_folders.py,",
        "render_view; seeded, so a rebuild gives the same images).",
        "",
        spec.note,
        "",
        "Images per folder:",
        *(f"  {k}: {v}" for k, v in counts.items()),
        "",
        "Source drawings (paths under /usr/share/openclipart/png):",
    ]
    for c, (train, held) in spec.drawings.items():
        lines.append(f"  {c}, training: {', '.join(train)}")
        if held:
            lines.append(f"  {c}, held out (validation/test only): {', '.join(held)}")
    lines += ["", "To get the official images, connect to the internet and run",
              "`scratchnet data fetch` (unset SCRATCHNET_OFFLINE): the checksum-verified",
              "archives go to the Keras cache under their official names, and are then",
              "preferred over this folder."]
    return "\n".join(lines) + "\n"


def _write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _replace_dir(tmp, dest):
    """Move directory `tmp` to `dest`; an existing `dest` is swapped out, then removed."""
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0700; a cache is readable by all
    old = None
    if os.path.exists(dest):
        old = tempfile.mkdtemp(dir=os.path.dirname(dest), prefix=TEMP_PREFIX)
        os.rmdir(old)
        os.replace(dest, old)
    os.replace(tmp, dest)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

"""Tests for scratchnet.datasets.image_folders (the horse-or-human and rps class folders).

Unit tests run offline in tmp_path: small zips stand in for the official archives (served
through file:// URLs, with their own sizes and sha256s patched in), and small drawings made
here with Pillow's shape drawing stand in for openclipart's (test fixtures only; nothing
built from them is ever called a photo). The real-data test checks the folders that
`scratchnet data fetch` prepared (CI runs it in scripts/setup.sh); it skips when they are
absent, unless SCRATCHNET_REQUIRE_DATA=1, where it fails.
"""
import dataclasses
import hashlib
import io
import json
import os
import shutil
import tarfile
import zipfile

import numpy as np
import pytest
from PIL import Image, ImageDraw

from scratchnet import cli, datasets
from scratchnet.datasets import cache, image_folders
from scratchnet.datasets.image_folders import Archive
from tf_support import import_tf

SMALL = (6, 3)  # images per class in the small builds: (train, held-out)


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """An empty data dir, offline, with no openclipart installed or downloadable."""
    directory = tmp_path / "data"
    monkeypatch.setenv("SCRATCHNET_DATA_DIR", str(directory))
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "1")
    monkeypatch.delenv("SCRATCHNET_OPENCLIPART_DEB", raising=False)
    monkeypatch.setattr(image_folders, "OPENCLIPART_DIR", str(tmp_path / "no-openclipart"))
    return directory


@pytest.fixture
def small_specs(monkeypatch):
    """Both datasets with SMALL counts, so a build takes well under a second."""
    small = {name: dataclasses.replace(spec, per_class=SMALL)
             for name, spec in image_folders.DATASETS.items()}
    monkeypatch.setattr(image_folders, "DATASETS", small)
    return small


def drawing(seed):
    """A test-fixture RGBA drawing: a few coloured shapes on a transparent background."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGBA", (int(rng.integers(40, 120)), int(rng.integers(40, 120))))
    pen = ImageDraw.Draw(image)
    for _ in range(3):
        x0, y0 = rng.integers(0, 20, 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,)
        pen.ellipse([int(x0), int(y0), image.width - 1, image.height - 1], fill=colour)
    return image


@pytest.fixture
def fake_openclipart(tmp_path, monkeypatch):
    """A directory laid out like /usr/share/openclipart/png with a drawing per member."""
    root = tmp_path / "openclipart"
    for i, member in enumerate(image_folders.all_members()):
        os.makedirs(root / os.path.dirname(member), exist_ok=True)
        drawing(i).save(root / member)
    monkeypatch.setattr(image_folders, "OPENCLIPART_DIR", str(root))
    return root


def png_bytes(seed):
    buffer = io.BytesIO()
    drawing(seed).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def make_zip(path, top, classes, per_class=2, extra=()):
    """A zip shaped like an official archive: <top>/<class>/<class>NN.png."""
    prefix = top + "/" if top else ""
    with zipfile.ZipFile(path, "w") as z:
        for ci, c in enumerate(classes):
            for i in range(per_class):
                z.writestr(f"{prefix}{c}/{c}{i:02d}.png", png_bytes(10 * ci + i))
        for name in extra:
            z.writestr(name, b"x")
    return path


def archive_for(path, name, top="", urls=()):
    data = open(path, "rb").read()
    return Archive(name, tuple(urls), len(data), hashlib.sha256(data).hexdigest(), top)


def tree_bytes(directory):
    """{relative path: bytes} of every file under `directory`."""
    out = {}
    for base, _, files in os.walk(directory):
        for f in files:
            p = os.path.join(base, f)
            out[os.path.relpath(p, directory)] = open(p, "rb").read()
    return out


def check_split(directory, classes, per_class):
    assert sorted(os.listdir(directory)) == sorted(classes)
    for c in classes:
        files = sorted(os.listdir(os.path.join(directory, c)))
        assert len(files) == per_class, (directory, c, len(files))
        for f in files[:3] + files[-2:]:
            with Image.open(os.path.join(directory, c, f)) as im:
                assert im.format == "PNG" and im.mode == "RGB" and im.size == (300, 300)


# ---------------------------------------------------------------- archive verification


@pytest.mark.parametrize("top", ["", "rps"])
def test_verify_archive_accepts_the_right_zip(tmp_path, top):
    path = make_zip(tmp_path / "a.zip", top, ("paper", "rock"))
    image_folders.verify_archive(str(path), archive_for(path, "a.zip", top), ("paper", "rock"))


def test_verify_archive_rejects_wrong_size_sha_layout_and_unsafe_names(tmp_path):
    path = make_zip(tmp_path / "a.zip", "", ("horses", "humans"))
    good = archive_for(path, "a.zip")
    classes = ("horses", "humans")
    with pytest.raises(ValueError, match=r"bytes, expected"):
        image_folders.verify_archive(str(path), dataclasses.replace(good, size=good.size + 1),
                                     classes)
    with pytest.raises(ValueError, match="sha256 is .*expected 0{64}"):
        image_folders.verify_archive(str(path), dataclasses.replace(good, sha256="0" * 64),
                                     classes)
    with pytest.raises(ValueError, match=r"no dogs/ folder"):
        image_folders.verify_archive(str(path), good, ("horses", "dogs"))
    bad = make_zip(tmp_path / "b.zip", "", classes, extra=("../evil.txt",))
    with pytest.raises(ValueError, match="unsafe member name '../evil.txt'"):
        image_folders.verify_archive(str(bad), archive_for(bad, "b.zip"), classes)
    not_zip = tmp_path / "c.zip"
    not_zip.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a readable zip"):
        image_folders.check_zip_layout(str(not_zip), good, classes)


def test_official_archive_table():
    """The four archives, with TFDS's sizes, Keras's extraction folder names and class tops."""
    a = image_folders.ARCHIVES
    assert a["horse-or-human.zip"].size == 149574867
    assert a["rps.zip"].sha256.startswith("c2403444")
    assert a["rps.zip"].extracted == "rps_extracted" and a["rps.zip"].top == "rps"
    assert a["validation-horse-or-human.zip"].extracted == "validation-horse-or-human_extracted"
    for archive in a.values():
        assert archive.urls[0].startswith(image_folders.COURSE_URL)
        assert all(u.endswith("/" + archive.name) for u in archive.urls)


def fake_official(tmp_path, monkeypatch, spec_name, corrupt_first_url=False):
    """Point the spec's archives at file:// copies of small zips; returns the Archives."""
    spec = image_folders.DATASETS[spec_name]
    served = tmp_path / "served"
    served.mkdir(exist_ok=True)
    table = dict(image_folders.ARCHIVES)
    for _, name in spec.splits:
        top = image_folders.ARCHIVES[name].top
        path = make_zip(served / name, top, spec.classes)
        urls = [served.as_uri() + "/" + name]
        if corrupt_first_url:
            (served / ("corrupt-" + name)).write_bytes(path.read_bytes()[:-1] + b"!")
            urls.insert(0, served.as_uri() + "/corrupt-" + name)
        table[name] = archive_for(path, name, top, urls)
    monkeypatch.setattr(image_folders, "ARCHIVES", table)
    return table


@pytest.mark.parametrize("name", ["horse-or-human", "rps"])
def test_official_download_is_verified_cached_keras_style_and_reused(
        tmp_path, monkeypatch, data_dir, name):
    table = fake_official(tmp_path, monkeypatch, name, corrupt_first_url=True)
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "0")
    spec = image_folders.DATASETS[name]
    folders = image_folders.prepare(name, verbose=False)
    assert folders.kind == "official"
    for (_, archive_name), split in zip(spec.splits, (folders.train, folders.validation)):
        archive = table[archive_name]
        assert cache.file_sha256(data_dir / archive.name) == archive.sha256
        expected = data_dir / archive.extracted / archive.top if archive.top \
            else data_dir / archive.extracted
        assert os.path.samefile(split, expected)
        assert sorted(os.listdir(split)) == sorted(spec.classes)
    assert not [f for f in os.listdir(data_dir) if f.startswith(cache.TEMP_PREFIX)]
    # Offline now: the cached archives are found again, without the network.
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "1")
    assert image_folders.prepare(name, verbose=False) == folders


def test_cached_archives_are_extracted_again_offline(tmp_path, monkeypatch, data_dir):
    """Official zips in the cache without their extraction folders: extracted, offline."""
    table = fake_official(tmp_path, monkeypatch, "rps")
    os.makedirs(data_dir)
    for name in ("rps.zip", "rps-test-set.zip"):
        shutil.copy(tmp_path / "served" / name, data_dir / name)
    folders = image_folders.prepare("rps", verbose=False)
    assert folders.kind == "official"
    assert folders.train == str(data_dir / "rps_extracted" / "rps")
    assert folders.validation == str(data_dir / "rps-test-set_extracted" / "rps-test-set")
    for split in (folders.train, folders.validation):
        assert sorted(os.listdir(split)) == ["paper", "rock", "scissors"]
        assert len(os.listdir(os.path.join(split, "rock"))) == 2
    assert cache.file_sha256(data_dir / "rps.zip") == table["rps.zip"].sha256


def test_cached_archive_with_wrong_bytes_is_not_extracted(tmp_path, monkeypatch, data_dir):
    """Right size, wrong sha256, not yet extracted: refused, nothing extracted or changed."""
    fake_official(tmp_path, monkeypatch, "rps")
    os.makedirs(data_dir)
    for name in ("rps.zip", "rps-test-set.zip"):
        data = (tmp_path / "served" / name).read_bytes()
        (data_dir / name).write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    before = tree_bytes(data_dir)
    with pytest.raises(datasets.DatasetUnavailableError, match="rps.zip: sha256 is"):
        image_folders.prepare("rps", verbose=False)
    assert tree_bytes(data_dir) == before


def test_official_download_with_no_matching_copy_falls_through(
        tmp_path, monkeypatch, data_dir, small_specs, fake_openclipart):
    table = fake_official(tmp_path, monkeypatch, "horse-or-human")
    bad = {n: dataclasses.replace(a, sha256="1" * 64) for n, a in table.items()}
    monkeypatch.setattr(image_folders, "ARCHIVES", bad)
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "0")
    folders = image_folders.prepare("horse-or-human", verbose=False)
    assert folders.kind == "rebuilt"
    assert not (data_dir / "horse-or-human.zip").exists()  # nothing unverified is kept


# ---------------------------------------------------------------- the rebuilt stand-in


@pytest.mark.parametrize("name", ["horse-or-human", "rps"])
def test_rebuilt_layout_counts_sizes_and_readme(data_dir, small_specs, fake_openclipart, name):
    spec = small_specs[name]
    folders = image_folders.prepare(name, verbose=False)
    assert folders.kind == "rebuilt"
    root = data_dir / f"scratchnet-{name}"
    assert os.path.dirname(folders.train) == str(root)
    assert os.path.basename(folders.train) == spec.splits[0][0]
    assert os.path.basename(folders.validation) == spec.splits[1][0]
    check_split(folders.train, spec.classes, SMALL[0])
    check_split(folders.validation, spec.classes, SMALL[1])
    readme = (root / "README.txt").read_text()
    assert "NOT the official images" in readme and "DRAWINGS (not photographs)" in readme
    assert "openclipart-png 1:0.18+dfsg-19" in readme
    for c, (train, held) in spec.drawings.items():
        assert all(m in readme for m in train + held)
    info = json.loads((root / "BUILD.json").read_text())
    assert info["build_version"] == image_folders.BUILD_VERSION
    assert sorted(os.listdir(data_dir)) == [f"scratchnet-{name}"]


def test_rebuild_is_reproducible_and_a_cached_build_is_reused(
        tmp_path, data_dir, small_specs, fake_openclipart):
    folders = image_folders.prepare("rps", verbose=False)
    first = tree_bytes(os.path.dirname(folders.train))
    image_folders.build_from_drawings(
        small_specs["rps"], image_folders.OpenClipart(str(data_dir)).images(small_specs["rps"]),
        str(tmp_path / "again"), "the installed openclipart-png (test)")
    again = tree_bytes(tmp_path / "again")
    assert {k: v for k, v in again.items() if k.endswith(".png")} == \
        {k: v for k, v in first.items() if k.endswith(".png")}
    # The cached build is used as it is (its files untouched), even with no source left.
    os.rename(fake_openclipart, str(fake_openclipart) + "-gone")
    assert image_folders.prepare("rps", verbose=False) == folders
    assert tree_bytes(os.path.dirname(folders.train)) == first


def test_incomplete_rebuilt_folder_is_rebuilt(data_dir, small_specs, fake_openclipart):
    folders = image_folders.prepare("horse-or-human", verbose=False)
    victim = os.path.join(folders.validation, "humans")
    os.remove(os.path.join(victim, sorted(os.listdir(victim))[0]))
    assert image_folders.prepare("horse-or-human", verbose=False) == folders
    check_split(folders.validation, ("horses", "humans"), SMALL[1])


def test_held_out_drawings_only_in_the_held_out_split(small_specs):
    """horse-or-human's validation drawings are disjoint from its training drawings."""
    for c, (train, held) in small_specs["horse-or-human"].drawings.items():
        assert held and not set(train) & set(held), c


def test_a_rebuild_never_touches_an_official_name(data_dir, small_specs, fake_openclipart):
    """Official-name files that fail their check stay byte for byte as they were."""
    os.makedirs(data_dir / "horse-or-human_extracted" / "horses")
    (data_dir / "horse-or-human_extracted" / "horses" / "keep.png").write_bytes(b"mine")
    (data_dir / "horse-or-human.zip").write_bytes(b"a partial download")
    (data_dir / "validation-horse-or-human.zip").write_bytes(b"")
    before = tree_bytes(data_dir)
    folders = image_folders.prepare("horse-or-human", verbose=False)
    assert folders.kind == "rebuilt"
    after = tree_bytes(data_dir)
    assert {k: v for k, v in after.items() if not k.startswith("scratchnet-")} == before


def test_neither_source_gives_a_clear_error(data_dir):
    with pytest.raises(datasets.DatasetUnavailableError) as info:
        image_folders.prepare("rps", verbose=False)
    message = str(info.value)
    assert "could not prepare rps" in message
    assert "SCRATCHNET_OFFLINE=1" in message
    assert "apt-get install openclipart-png" in message and "internet" in message
    both = r"(?s)^horse-or-human: could not.*\n\nrps: could not"
    with pytest.raises(datasets.DatasetUnavailableError, match=both):
        image_folders.prepare_all(verbose=False)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown image-folder dataset 'cats'.*'rps'"):
        image_folders.prepare("cats")


# ---------------------------------------------------------------- reading the .deb


def make_deb(path, files):
    """An ar archive shaped like a .deb whose data.tar.xz holds `files` {path: bytes}."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo("./" + name.lstrip("/"))
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", b"odd"),
               ("data.tar.xz", buffer.getvalue())]
    with open(path, "wb") as f:
        f.write(b"!<arch>\n")
        for name, data in members:
            f.write(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
            f.write(data + (b"\n" if len(data) % 2 else b""))
    return path


def test_read_deb_members_checks_sha256_and_finds_files(tmp_path, monkeypatch):
    base = image_folders.OPENCLIPART_DIR
    deb = make_deb(tmp_path / "x.deb", {f"{base}/a/one.png": b"1", f"{base}/two.png": b"22",
                                        f"{base}/other.png": b"333"})
    monkeypatch.setattr(image_folders, "OPENCLIPART_DEB_SHA256", cache.file_sha256(deb))
    assert image_folders.read_deb_members(str(deb), ["a/one.png", "two.png"]) == \
        {"a/one.png": b"1", "two.png": b"22"}
    with pytest.raises(ValueError, match="lacks missing.png"):
        image_folders.read_deb_members(str(deb), ["missing.png"])
    monkeypatch.setattr(image_folders, "OPENCLIPART_DEB_SHA256", "2" * 64)
    with pytest.raises(ValueError, match="sha256 is .* expected Debian's 2{64}"):
        image_folders.read_deb_members(str(deb), ["two.png"])


def test_build_from_a_deb(tmp_path, monkeypatch, data_dir, small_specs):
    """The .deb route end to end: SCRATCHNET_OPENCLIPART_DEB, sha256, decode, build."""
    files = {f"{image_folders.OPENCLIPART_DIR}/{m}": png_bytes(i)
             for i, m in enumerate(image_folders.all_members())}
    deb = make_deb(tmp_path / "openclipart.deb", files)
    monkeypatch.setattr(image_folders, "OPENCLIPART_DEB_SHA256", cache.file_sha256(deb))
    monkeypatch.setenv("SCRATCHNET_OPENCLIPART_DEB", str(deb))
    result = image_folders.prepare_all(verbose=False)
    assert {f.kind for f in result.values()} == {"rebuilt"}
    check_split(result["rps"].validation, ("paper", "rock", "scissors"), SMALL[1])
    assert str(deb) in (data_dir / "scratchnet-rps" / "README.txt").read_text()


def test_render_view_is_seeded():
    d = drawing(3)
    a = image_folders.render_view(d, np.random.default_rng([1, 2]))
    b = image_folders.render_view(d, np.random.default_rng([1, 2]))
    c = image_folders.render_view(d, np.random.default_rng([1, 3]))
    assert a.size == (300, 300) and a.mode == "RGB"
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


# ---------------------------------------------------------------- the command


def test_data_fetch_no_images_skips_them(monkeypatch, capsys):
    monkeypatch.setattr(datasets, "prepare_all", lambda verbose=True: {"mnist": "/c/m.npz"})

    def must_not_run(verbose=True):
        raise AssertionError("image folders prepared despite --no-images")

    monkeypatch.setattr(datasets, "prepare_image_folders", must_not_run)
    assert cli.main(["data", "fetch", "--no-images"]) == 0


def test_data_fetch_prints_the_folders(monkeypatch, capsys):
    monkeypatch.setattr(datasets, "prepare_all", lambda verbose=True: {"mnist": "/c/m.npz"})
    folders = image_folders.ImageFolders("rps", "rebuilt", "/c/scratchnet-rps/rps",
                                         "/c/scratchnet-rps/rps-test-set")
    monkeypatch.setattr(datasets, "prepare_image_folders", lambda verbose=True: {"rps": folders})
    assert cli.main(["data", "fetch"]) == 0
    out = capsys.readouterr().out
    assert "/c/scratchnet-rps/rps-test-set" in out and "REBUILT" in out


def test_data_fetch_reports_image_folder_failure(monkeypatch, capsys):
    monkeypatch.setattr(datasets, "prepare_all", lambda verbose=True: {"mnist": "/c/m.npz"})

    def failing(verbose=True):
        raise datasets.DatasetUnavailableError("could not prepare rps; apt-get ...")

    monkeypatch.setattr(datasets, "prepare_image_folders", failing)
    assert cli.main(["data", "fetch"]) == 1
    assert "could not prepare rps" in capsys.readouterr().err


# ---------------------------------------------------------------- the real folders


@pytest.mark.parametrize("name", ["horse-or-human", "rps"])
def test_real_folders_prepared_by_data_fetch(name):
    """The folders in the real cache (no network, no build here): layout, counts, images."""
    spec = image_folders.DATASETS[name]
    directory = cache.data_dir()
    folders, errors = None, []
    for source in (image_folders._official_cached, image_folders._rebuilt_cached):
        try:
            folders = source(spec, directory, False)
            break
        except (image_folders.SourceMissing, OSError, ValueError) as e:
            errors.append(str(e))
    if folders is None:
        if os.environ.get("SCRATCHNET_REQUIRE_DATA") == "1":
            pytest.fail(f"SCRATCHNET_REQUIRE_DATA=1 but {name} is not prepared in "
                        f"{directory} (run `scratchnet data fetch`): {errors}")
        pytest.skip(f"{name} not prepared in {directory}: {errors}")
    if folders.kind == "rebuilt":
        check_split(folders.train, spec.classes, spec.per_class[0])
        check_split(folders.validation, spec.classes, spec.per_class[1])
    else:
        for split in (folders.train, folders.validation):
            assert image_folders.has_class_folders(split, spec.classes)
    # Keras itself reads them as the lectures do.
    tf = import_tf()
    train = tf.keras.utils.image_dataset_from_directory(
        folders.train, image_size=(300, 300), batch_size=16, shuffle=False)
    assert train.class_names == sorted(spec.classes)
    images, labels = next(iter(train))
    assert tuple(images.shape) == (16, 300, 300, 3) and int(labels.numpy().max()) == 0

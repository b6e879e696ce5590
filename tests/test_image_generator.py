"""ImageDataGenerator, its iterators and the image-file helpers against the installed Keras.

Keras 3 keeps the legacy generator under tf.keras's name
(`keras._tf_keras.keras.preprocessing.image`); it warps with scipy.ndimage, which the test
extra installs. Every comparison builds both sides from the same arguments, seeds, arrays
and files (a folder tree written into tmp_path with Pillow).
"""
import os
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from parity_log import check
from tf_support import import_tf

import_tf()
import scipy.ndimage  # noqa: E402  (Keras's warp, and the reference for ours)
from keras._tf_keras.keras.preprocessing import image as keras_image  # noqa: E402

from scratchnet.preprocessing import image as sn_image  # noqa: E402
from scratchnet.preprocessing.affine import affine_transform_2d, warp_channels  # noqa: E402

SIDES = {"scratchnet": sn_image, "keras": keras_image}
FILL_MODES = ["constant", "nearest", "reflect", "wrap"]


def both(build):
    """build(module) on scratchnet's side and on Keras's side."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build(sn_image), build(keras_image)


def same_batches(ours, theirs, what, area="image generator"):
    """Two batches (an array, or a tuple/list of arrays) are equal within float32 tolerance
    (labels that are integers: exactly)."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, (tuple, list)) and len(ours) == len(theirs), what
        for k, (a, b) in enumerate(zip(ours, theirs)):
            same_batches(a, b, f"{what}[{k}]", area)
        return
    ours, theirs = np.asarray(ours), np.asarray(theirs)
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} != {theirs.dtype}"
    if theirs.dtype.kind == "f":
        check(ours, theirs, theirs.dtype.name, what, area)
    else:
        np.testing.assert_array_equal(ours, theirs, err_msg=what)


# ---------------------------------------------------------------------------------------------
# The warp itself: scipy.ndimage.affine_transform, as Keras calls it
# ---------------------------------------------------------------------------------------------

@given(h=st.integers(1, 9), w=st.integers(1, 9), mode=st.sampled_from(FILL_MODES),
       order=st.sampled_from([0, 1]), scale=st.sampled_from([0.3, 1.0, 3.0]),
       shift=st.sampled_from([0.0, 1.0, 6.0, 25.0]), on_grid=st.booleans(),
       seed=st.integers(0, 2**31 - 1), cval=st.floats(-5, 5))
def test_affine_warp_equals_scipy(h, w, mode, order, scale, shift, on_grid, seed, cval):
    """Any matrix and offset (also ones landing exactly on pixel centres and far outside
    the image), every fill_mode, order 0 and 1: the same numbers as scipy's, in float32 bit
    for bit in practice and within float64 tolerance in float64."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(2, 2)) * scale
    offset = rng.normal(size=2) * shift
    if on_grid:
        matrix, offset = np.round(matrix * 2) / 2, np.round(offset * 2) / 2
    for dtype in ("float32", "float64"):
        img = (rng.random((2, h, w)) * 255).astype(dtype)
        compiled = warp_channels(img, matrix, offset, order=order, mode=mode, cval=cval)
        assert compiled.dtype == img.dtype
        for ch in range(2):
            expected = scipy.ndimage.affine_transform(img[ch], matrix, offset, order=order,
                                                      mode=mode, cval=cval)
            readable = affine_transform_2d(img[ch], matrix, offset, order=order, mode=mode,
                                           cval=cval).astype(dtype)
            what = f"warp {mode} order={order}"
            check(readable, expected, dtype, what, "affine warp vs scipy")
            check(compiled[ch], expected, dtype, what + " (numba)", "affine warp vs scipy")
            np.testing.assert_array_equal(compiled[ch], readable, err_msg=what)


# ---------------------------------------------------------------------------------------------
# get_random_transform / apply_transform / random_transform
# ---------------------------------------------------------------------------------------------

@st.composite
def transform_params(draw):
    """One transform of every kind, each present or absent."""
    def maybe(strategy, absent):
        return draw(st.one_of(st.just(absent), strategy))

    return {
        "theta": maybe(st.one_of(st.floats(-180, 180), st.sampled_from([90.0, -90.0, 180.0,
                                                                         270.0])), 0),
        "tx": maybe(st.floats(-6, 6), 0),
        "ty": maybe(st.floats(-6, 6), 0),
        "shear": maybe(st.floats(-45, 45), 0),
        "zx": maybe(st.floats(0.5, 1.8), 1),
        "zy": maybe(st.floats(0.5, 1.8), 1),
        "flip_horizontal": draw(st.booleans()),
        "flip_vertical": draw(st.booleans()),
        "channel_shift_intensity": maybe(st.floats(-40, 40), None),
        "brightness": maybe(st.floats(0.3, 1.7), None),
    }


@given(params=transform_params(), fill_mode=st.sampled_from(FILL_MODES),
       cval=st.sampled_from([0.0, 17.5, 255.0]), shape=st.sampled_from(
           [(7, 9, 3), (8, 8, 1), (5, 11, 4), (1, 6, 3)]), seed=st.integers(0, 2**31 - 1),
       order=st.sampled_from([0, 1]))
def test_apply_transform_equals_keras(params, fill_mode, cval, shape, seed, order):
    x = (np.random.default_rng(seed).random(shape) * 255).astype("float32")
    ours, theirs = both(lambda m: m.ImageDataGenerator(
        fill_mode=fill_mode, cval=cval, interpolation_order=order).apply_transform(
            x.copy(), dict(params)))
    same_batches(ours, theirs, f"apply_transform {params} {fill_mode}", "apply_transform")


def test_apply_transform_channels_first_and_missing_keys():
    x = (np.random.default_rng(3).random((3, 7, 6)) * 255).astype("float32")
    params = {"theta": 20.0, "zx": 1.3, "flip_horizontal": True}
    ours, theirs = both(lambda m: m.ImageDataGenerator(
        data_format="channels_first", fill_mode="reflect").apply_transform(x.copy(), params))
    same_batches(ours, theirs, "channels_first apply_transform")


GENERATOR_CONFIGS = [
    dict(rotation_range=40, width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2,
         zoom_range=0.2, horizontal_flip=True, fill_mode="nearest"),       # the course's
    dict(width_shift_range=3, height_shift_range=[-2, 0, 2], zoom_range=[0.7, 1.1],
         vertical_flip=True, channel_shift_range=30.0, fill_mode="wrap"),
    dict(width_shift_range=2.5, rotation_range=15, brightness_range=(0.5, 1.4),
         fill_mode="constant", cval=9.0),
    dict(shear_range=30, zoom_range=0.5, fill_mode="reflect", horizontal_flip=True,
         vertical_flip=True, width_shift_range=[0.1, 0.25]),
]


@pytest.mark.parametrize("config", GENERATOR_CONFIGS)
def test_random_transform_draws_like_keras(config):
    """The same seed draws the same parameters (NumPy's global generator, Keras's order of
    draws) and gives the same image."""
    x = (np.random.default_rng(0).random((10, 12, 3)) * 255).astype("float32")
    for seed in (0, 7, 123):
        p_ours, p_theirs = both(
            lambda m: m.ImageDataGenerator(**config).get_random_transform(x.shape, seed=seed))
        assert p_ours.keys() == p_theirs.keys()
        for key in p_theirs:
            if p_theirs[key] is None:
                assert p_ours[key] is None, key
            else:
                np.testing.assert_allclose(p_ours[key], p_theirs[key], rtol=1e-12,
                                           err_msg=f"{config} {key}")
        ours, theirs = both(
            lambda m: m.ImageDataGenerator(**config).random_transform(x.copy(), seed=seed))
        same_batches(ours, theirs, f"random_transform {config} seed={seed}",
                     "apply_transform")


# ---------------------------------------------------------------------------------------------
# standardize and fit
# ---------------------------------------------------------------------------------------------

NORMALIZATIONS = [
    dict(rescale=1.0 / 255),
    dict(samplewise_center=True, samplewise_std_normalization=True, rescale=1.0 / 255),
    dict(featurewise_center=True),
    dict(featurewise_center=True, featurewise_std_normalization=True, rescale=1.0 / 255),
    dict(featurewise_std_normalization=True, samplewise_center=True,
         preprocessing_function=lambda x: x * 2.0 - 3.0),
    dict(zca_whitening=True, rescale=1.0 / 255),
]


@pytest.mark.parametrize("config", NORMALIZATIONS)
def test_fit_and_standardize_equal_keras(config):
    rng = np.random.default_rng(5)
    data = (rng.random((12, 5, 4, 3)) * 255).astype("float32")
    x = (rng.random((5, 4, 3)) * 255).astype("float32")

    def build(m):
        gen = m.ImageDataGenerator(**config)
        gen.fit(data)
        return [gen.mean, gen.std, gen.zca_whitening_matrix, gen.standardize(x.copy())]

    ours, theirs = both(build)
    for name, a, b in zip(("mean", "std", "zca", "standardize"), ours, theirs):
        if b is None:
            assert a is None, name
        else:
            check(np.asarray(a), b, b.dtype.name, f"{config} {name}", "standardize / fit")


def test_fit_with_augment_equals_keras():
    data = (np.random.default_rng(2).random((6, 8, 8, 1)) * 255).astype("float32")

    def build(m):
        gen = m.ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                                   rotation_range=30, zoom_range=0.2)
        gen.fit(data, augment=True, rounds=2, seed=11)
        return gen.mean, gen.std

    ours, theirs = both(build)
    same_batches(list(ours), list(theirs), "fit(augment=True)")


def test_featurewise_without_fit_warns_as_keras():
    gen = sn_image.ImageDataGenerator(featurewise_center=True)
    with pytest.warns(UserWarning, match="hasn't been fit"):
        gen.standardize(np.ones((2, 2, 3), "float32"))


# ---------------------------------------------------------------------------------------------
# flow: batches from arrays
# ---------------------------------------------------------------------------------------------

def _flow_batches(m, x, y, config, flow_kwargs, steps=5):
    gen = m.ImageDataGenerator(**config)
    it = gen.flow(x, y, **flow_kwargs)
    out = {"len": len(it), "getitem": [it[i] for i in range(len(it))]}
    it.on_epoch_end()
    out["getitem_after_epoch"] = [it[i] for i in range(len(it))]
    it2 = gen.flow(x, y, **flow_kwargs)
    out["next"] = [next(it2) for _ in range(steps)]
    return out


@pytest.mark.parametrize("config,flow_kwargs", [
    ({}, dict(batch_size=4, shuffle=False)),
    ({"rescale": 1 / 255.}, dict(batch_size=3, shuffle=True, seed=42)),
    (GENERATOR_CONFIGS[0], dict(batch_size=4, shuffle=True, seed=1)),
    ({**GENERATOR_CONFIGS[1], "validation_split": 0.3},
     dict(batch_size=3, shuffle=True, seed=3, subset="training")),
    ({"validation_split": 0.3, "horizontal_flip": True},
     dict(batch_size=2, shuffle=False, seed=3, subset="validation")),
])
def test_flow_batches_equal_keras(config, flow_kwargs):
    rng = np.random.default_rng(9)
    x = (rng.random((10, 6, 7, 3)) * 255).astype("float32")
    y = np.arange(10) % 2
    ours, theirs = both(lambda m: _flow_batches(m, x, y, config, flow_kwargs))
    assert ours["len"] == theirs["len"]
    for key in ("getitem", "getitem_after_epoch", "next"):
        for b, (a_batch, b_batch) in enumerate(zip(ours[key], theirs[key])):
            same_batches(a_batch, b_batch, f"{key} batch {b}")


def _take(iterator, n):
    return [next(iterator) for _ in range(n)]


def test_flow_misc_inputs_and_sample_weight_equal_keras():
    rng = np.random.default_rng(4)
    x = (rng.random((7, 5, 5, 1)) * 255).astype("float32")
    extra = rng.random((7, 2))
    y = np.arange(7)
    w = rng.random(7)
    ours, theirs = both(lambda m: _take(m.ImageDataGenerator(vertical_flip=True).flow(
        (x, extra), y, batch_size=3, sample_weight=w, seed=5), 4))
    for k, (a, b) in enumerate(zip(ours, theirs)):
        same_batches(a, b, f"batch {k}")
    ours, theirs = both(lambda m: _take(m.ImageDataGenerator().flow(x, batch_size=4, shuffle=False), 3))
    same_batches(ours, theirs, "flow without labels")


# ---------------------------------------------------------------------------------------------
# flow_from_directory: a folder tree of real PNG / JPEG / BMP files
# ---------------------------------------------------------------------------------------------

def _write_image(path, rng, size, mode="RGB", fmt=None):
    h, w = size
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, size=(h, w, channels), dtype=np.uint8)
    img = Image.fromarray(pixels[:, :, 0] if channels == 1 else pixels, mode)
    img.save(path, format=fmt)


@pytest.fixture(scope="module")
def image_tree(tmp_path_factory):
    """root/{cats,dogs,zebras}/... with differently sized PNG, JPEG and BMP images (some
    grayscale or RGBA), a nested folder, a GIF and a text file (neither in Keras's list of
    extensions) and a stray image at the top level (not in any class)."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    counts = {"cats": 7, "dogs": 5, "zebras": 4}
    exts = ["png", "jpg", "jpeg", "bmp", "PNG"]
    for cls, n in counts.items():
        os.makedirs(root / cls)
        for i in range(n):
            ext = exts[i % len(exts)]
            mode = ["RGB", "L", "RGBA"][i % 3] if ext.lower() == "png" else "RGB"
            size = (int(rng.integers(6, 14)), int(rng.integers(6, 14)))
            _write_image(root / cls / f"{cls}_{i:02d}.{ext}", rng, size, mode,
                         fmt="JPEG" if ext in ("jpg", "jpeg") else None)
    os.makedirs(root / "dogs" / "puppies")
    _write_image(root / "dogs" / "puppies" / "pup.png", rng, (9, 9))
    _write_image(root / "cats" / "anim.gif", rng, (8, 8), fmt="GIF")
    (root / "cats" / "notes.txt").write_text("not an image")
    _write_image(root / "stray.png", rng, (8, 8))
    return str(root)


def _directory_run(m, root, gen_config, kwargs, steps):
    gen = m.ImageDataGenerator(**gen_config)
    it = gen.flow_from_directory(root, **kwargs)
    meta = {"class_indices": it.class_indices, "filenames": list(it.filenames),
            "classes": it.classes, "samples": it.samples, "num_classes": it.num_classes,
            "len": len(it), "filepaths": list(it.filepaths)}
    by_index = [it[i] for i in range(len(it))]
    it.on_epoch_end()
    by_index += [it[i] for i in range(len(it))]
    endless = [next(it) for _ in range(steps)]
    it.reset()
    endless.append(next(it))
    return meta, by_index, endless


@pytest.mark.parametrize("gen_config,kwargs", [
    ({}, dict(target_size=(8, 10), batch_size=5, shuffle=False)),
    ({"rescale": 1 / 255.}, dict(target_size=(9, 9), batch_size=4, class_mode="binary",
                                  classes=["dogs", "zebras"], seed=3)),
    (GENERATOR_CONFIGS[0], dict(target_size=(10, 8), batch_size=6, class_mode="sparse",
                                seed=7, color_mode="grayscale", interpolation="bilinear")),
    ({"validation_split": 0.3, "horizontal_flip": True, "zoom_range": 0.3},
     dict(target_size=(7, 7), batch_size=3, subset="validation", seed=2, color_mode="rgba")),
    ({"validation_split": 0.3, **GENERATOR_CONFIGS[2]},
     dict(target_size=(8, 8), batch_size=4, subset="training", seed=2, class_mode="input",
          keep_aspect_ratio=True, interpolation="bicubic")),
    ({"rescale": 1 / 255.}, dict(target_size=(6, 6), batch_size=7, class_mode=None,
                                  shuffle=True, seed=0)),
])
def test_flow_from_directory_equals_keras(image_tree, gen_config, kwargs, capsys):
    ours, theirs = both(lambda m: _directory_run(m, image_tree, gen_config, kwargs, 8))
    meta, batches, endless = ours
    k_meta, k_batches, k_endless = theirs
    assert meta["class_indices"] == k_meta["class_indices"]
    assert meta["filenames"] == k_meta["filenames"]
    assert meta["filepaths"] == k_meta["filepaths"]
    np.testing.assert_array_equal(meta["classes"], k_meta["classes"])
    assert meta["classes"].dtype == k_meta["classes"].dtype
    for key in ("samples", "num_classes", "len"):
        assert meta[key] == k_meta[key], key
    assert len(batches) == len(k_batches) and len(endless) == len(k_endless)
    for k, (a, b) in enumerate(zip(batches, k_batches)):
        same_batches(a, b, f"batch {k} by index")
    for k, (a, b) in enumerate(zip(endless, k_endless)):
        same_batches(a, b, f"batch {k} from next()")
    out = capsys.readouterr().out
    assert out.count(f"Found {meta['samples']} images belonging to {meta['num_classes']} "
                     "classes.") == 2


def test_directory_tree_reads_as_keras_says(image_tree):
    """The rules themselves, spelled out: classes = sorted folder names, files sorted, nested
    folders included, only Keras's extensions, the validation subset = the first fraction of
    each class's files."""
    gen = sn_image.ImageDataGenerator(validation_split=0.3)
    it = gen.flow_from_directory(image_tree, target_size=(8, 8), shuffle=False)
    assert it.class_indices == {"cats": 0, "dogs": 1, "zebras": 2}
    assert it.samples == 7 + 6 + 4
    assert not any(f.endswith((".gif", ".txt")) for f in it.filenames)
    assert os.path.join("dogs", "puppies", "pup.png") in it.filenames
    val = gen.flow_from_directory(image_tree, target_size=(8, 8), subset="validation")
    assert val.filenames == [os.path.join("cats", "cats_00.png"),
                             os.path.join("cats", "cats_01.jpg"),
                             os.path.join("dogs", "dogs_00.png"),
                             os.path.join("zebras", "zebras_00.png")]
    train = gen.flow_from_directory(image_tree, target_size=(8, 8), subset="training")
    assert sorted(train.filenames + val.filenames) == sorted(it.filenames)
    x, y = it[0]                                     # batch_size 32 > 17 images
    assert x.shape == (17, 8, 8, 3) and y.shape == (17, 3)


# ---------------------------------------------------------------------------------------------
# The iterator protocol a fit loop uses
# ---------------------------------------------------------------------------------------------

def test_iterators_are_sequence_like():
    x = np.arange(10 * 2 * 2 * 1, dtype="float32").reshape(10, 2, 2, 1)
    it = sn_image.ImageDataGenerator().flow(x, np.arange(10), batch_size=4, shuffle=False)
    assert len(it) == 3 and it.num_batches == 3
    assert [len(it[i][1]) for i in range(len(it))] == [4, 4, 2]
    np.testing.assert_array_equal(it[2][1], [8, 9])
    assert iter(it) is it
    assert [next(it)[1].tolist() for _ in range(4)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9],
                                                       [0, 1, 2, 3]]
    it.reset()
    assert it.next()[1].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="has length 3"):
        it[3]
    shuffled = sn_image.ImageDataGenerator().flow(x, np.arange(10), batch_size=10, seed=0)
    first = shuffled[0][1].copy()
    shuffled.on_epoch_end()
    assert sorted(first) == list(range(10)) and not np.array_equal(first, shuffled[0][1])


# ---------------------------------------------------------------------------------------------
# Image files
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,mode", [("png", "RGB"), ("png", "RGBA"), ("png", "L"),
                                      ("jpg", "RGB"), ("bmp", "RGB"), ("gif", "RGB")])
@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
def test_load_img_and_img_to_array_equal_keras(tmp_path, fmt, mode, color_mode):
    path = tmp_path / f"pic.{fmt}"
    _write_image(path, np.random.default_rng(1), (11, 14), mode,
                 fmt="JPEG" if fmt == "jpg" else None)
    cases = [dict(), dict(target_size=(6, 9)), dict(target_size=(7, 7), interpolation="bilinear",
                                                   keep_aspect_ratio=True),
             dict(target_size=(20, 5), interpolation="lanczos")]
    for kwargs in cases:
        for p in (str(path), path):
            ours, theirs = both(lambda m: m.img_to_array(
                m.load_img(p, color_mode=color_mode, **kwargs)))
            same_batches(ours, theirs, f"load_img {fmt} {mode} {color_mode} {kwargs}",
                         "image files")


@pytest.mark.parametrize("shape", [(5, 6, 3), (5, 6, 4), (5, 6, 1)])
@pytest.mark.parametrize("scale", [True, False])
def test_array_to_img_and_save_img_equal_keras(tmp_path, shape, scale):
    x = (np.random.default_rng(2).random(shape) * 200 + 20).astype("float32")
    ours, theirs = both(lambda m: np.asarray(m.array_to_img(x, scale=scale)))
    np.testing.assert_array_equal(ours, theirs)
    for ext in ("png", "bmp"):
        sn_image.save_img(tmp_path / f"ours.{ext}", x, scale=scale)
        keras_image.save_img(str(tmp_path / f"keras.{ext}"), x, scale=scale)
        a = np.asarray(Image.open(tmp_path / f"ours.{ext}"))
        b = np.asarray(Image.open(tmp_path / f"keras.{ext}"))
        np.testing.assert_array_equal(a, b)
    assert sorted(os.listdir(tmp_path)) == ["keras.bmp", "keras.png", "ours.bmp", "ours.png"]
    cf = np.moveaxis(x, -1, 0)
    ours, theirs = both(lambda m: m.img_to_array(m.array_to_img(cf, data_format="channels_first"),
                                                 data_format="channels_first"))
    same_batches(ours, theirs, "channels_first round trip", "image files")


def test_save_img_jpg_and_rgba_to_jpeg_as_keras(tmp_path):
    x = (np.random.default_rng(3).random((6, 6, 4)) * 255).astype("float32")
    with pytest.warns(UserWarning, match="JPEG format does not support RGBA"):
        sn_image.save_img(tmp_path / "a.jpg", x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras_image.save_img(str(tmp_path / "b.jpg"), x)
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "a.jpg")),
                                  np.asarray(Image.open(tmp_path / "b.jpg")))


def test_a_failed_save_leaves_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.png"
    sn_image.save_img(path, np.zeros((4, 4, 3), "float32"), scale=False)
    before = path.read_bytes()

    def broken_save(self, fp, format=None, **kwargs):
        fp.write(b"half an image")
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        sn_image.save_img(path, np.ones((4, 4, 3), "float32") * 99, scale=False)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.png"]


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------

def test_corrupt_and_non_image_files_name_the_file(tmp_path):
    good = tmp_path / "good.jpg"
    _write_image(good, np.random.default_rng(0), (16, 16), fmt="JPEG")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:200])
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a png")
    for bad in (truncated, garbage):
        with pytest.raises(ValueError, match=bad.name):
            sn_image.load_img(bad)
    with pytest.raises(TypeError, match="path-like"):
        sn_image.load_img(123)
    with pytest.raises(ValueError, match="color_mode"):
        sn_image.load_img(good, color_mode="cmyk")


def test_corrupt_jpeg_in_a_class_folder_fails_at_batch_time_naming_it(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        os.makedirs(tmp_path / cls)
        for i in range(2):
            _write_image(tmp_path / cls / f"{i}.png", rng, (6, 6))
    (tmp_path / "b" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    it = sn_image.ImageDataGenerator().flow_from_directory(tmp_path, target_size=(6, 6),
                                                            batch_size=2, shuffle=False)
    it[0], it[1]                            # a/0.png a/1.png, b/0.png b/1.png: fine
    with pytest.raises(ValueError, match=r"b[/\\]broken\.jpg"):
        it[2]


def test_directory_errors(tmp_path, image_tree):
    gen = sn_image.ImageDataGenerator()
    flat = tmp_path / "flat"
    os.makedirs(flat)
    _write_image(flat / "x.png", np.random.default_rng(0), (5, 5))
    with pytest.raises(ValueError, match="contains the class sub-directories"):
        gen.flow_from_directory(flat)
    with pytest.raises(ValueError, match="not a directory"):
        gen.flow_from_directory(tmp_path / "missing")
    empty = tmp_path / "empty"
    os.makedirs(empty / "cats")
    os.makedirs(empty / "dogs")
    with pytest.raises(ValueError, match="found no images"):
        gen.flow_from_directory(empty)
    for bad_size in [(0, 10), (10, 0), (5,), "big"]:
        with pytest.raises(ValueError, match="target_size"):
            gen.flow_from_directory(image_tree, target_size=bad_size)
    with pytest.raises(ValueError, match="class_mode"):
        gen.flow_from_directory(image_tree, class_mode="multiclass")
    with pytest.raises(ValueError, match="subset"):
        gen.flow_from_directory(image_tree, subset="test")
    with pytest.raises(ValueError, match="validation_split is 0"):
        gen.flow_from_directory(image_tree, subset="validation")
    with pytest.raises(ValueError, match="color mode"):
        gen.flow_from_directory(image_tree, color_mode="cmyk")


def test_binary_with_three_classes_gives_keras_labels_and_a_warning(image_tree):
    """Keras silently labels 3 classes 0, 1, 2 in class_mode='binary'; scratchnet gives the
    same labels and says why a sigmoid model will not learn them."""
    kwargs = dict(target_size=(5, 5), class_mode="binary", batch_size=17, shuffle=False)
    with pytest.warns(UserWarning, match="binary.*3 classes"):
        ours = sn_image.ImageDataGenerator().flow_from_directory(image_tree, **kwargs)[0][1]
    theirs = keras_image.ImageDataGenerator().flow_from_directory(image_tree, **kwargs)[0][1]
    np.testing.assert_array_equal(ours, theirs)
    assert set(ours.tolist()) == {0.0, 1.0, 2.0}


def test_generator_argument_errors():
    with pytest.raises(ValueError, match="fill_mode"):
        sn_image.ImageDataGenerator(fill_mode="mirror-ish")
    with pytest.raises(ValueError, match="interpolation_order"):
        sn_image.ImageDataGenerator(interpolation_order=3)
    with pytest.raises(ValueError, match="validation_split"):
        sn_image.ImageDataGenerator(validation_split=1.5)
    with pytest.raises(ValueError, match="zoom_range"):
        sn_image.ImageDataGenerator(zoom_range=(0.5, 1.0, 2.0))
    with pytest.raises(ValueError, match="brightness_range"):
        sn_image.ImageDataGenerator(brightness_range=0.5)
    with pytest.raises(ValueError, match="data_format"):
        sn_image.ImageDataGenerator(data_format="NHWC")
    gen = sn_image.ImageDataGenerator(validation_split=0.5)
    with pytest.raises(ValueError, match="rank 4"):
        gen.flow(np.zeros((3, 4, 4)))
    with pytest.raises(ValueError, match="same length"):
        gen.flow(np.zeros((3, 4, 4, 1)), np.zeros(2))
    with pytest.raises(ValueError, match="different number of classes"):
        gen.flow(np.zeros((4, 4, 4, 1)), np.array([0, 0, 1, 1]), subset="training")
    with pytest.raises(ValueError, match="rank 4"):
        gen.fit(np.zeros((4, 4, 1)))


def test_save_to_dir_writes_the_batch_and_draws_like_keras(tmp_path):
    """save_to_dir writes every augmented image (Keras's names: prefix_index_hash.format,
    the hash drawn from NumPy's global generator, so the next batches still match)."""
    x = (np.random.default_rng(6).random((5, 6, 6, 3)) * 255).astype("float32")
    y = np.arange(5)

    def run(m, folder):
        os.makedirs(folder)
        it = m.ImageDataGenerator(rotation_range=20).flow(
            x, y, batch_size=2, seed=4, save_to_dir=str(folder), save_prefix="aug")
        return [next(it) for _ in range(4)]

    ours = run(sn_image, tmp_path / "ours")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = run(keras_image, tmp_path / "keras")
    for k, (a, b) in enumerate(zip(ours, theirs)):
        same_batches(a, b, f"batch {k}")
    assert sorted(os.listdir(tmp_path / "ours")) == sorted(os.listdir(tmp_path / "keras"))
    assert len(os.listdir(tmp_path / "ours")) == 2 + 2 + 1 + 2        # 5 images, batches of 2


def test_load_img_from_bytes_and_channels_first_directory(tmp_path, image_tree):
    import io

    path = tmp_path / "p.png"
    _write_image(path, np.random.default_rng(8), (7, 5), "RGBA")
    ours, theirs = both(lambda m: m.img_to_array(
        m.load_img(io.BytesIO(path.read_bytes()), color_mode="grayscale")))
    same_batches(ours, theirs, "load_img(BytesIO)", "image files")
    kwargs = dict(target_size=(6, 7), batch_size=5, shuffle=True, seed=1)
    ours, theirs = both(lambda m: _take(m.ImageDataGenerator(
        data_format="channels_first", horizontal_flip=True, rescale=1 / 255.)
        .flow_from_directory(image_tree, **kwargs), 4))
    assert ours[0][0].shape == (5, 3, 6, 7)
    for k, (a, b) in enumerate(zip(ours, theirs)):
        same_batches(a, b, f"channels_first batch {k}")


@pytest.mark.parametrize("name,args", [
    ("random_rotation", (35,)), ("random_shift", (0.2, 0.3)), ("random_shear", (25,)),
    ("random_zoom", ((0.6, 1.3),)), ("random_channel_shift", (40.0,)),
    ("random_brightness", ((0.4, 1.6),)),
])
def test_module_level_random_helpers_equal_keras(name, args):
    x = (np.random.default_rng(12).random((3, 8, 10)) * 255).astype("float32")  # channels first
    if name == "random_brightness":              # goes through Pillow: channels last
        x = np.moveaxis(x, 0, -1).copy()

    def run(m):
        np.random.seed(21)
        return getattr(m, name)(x.copy(), *args)

    ours, theirs = both(run)
    same_batches(ours, theirs, name, "apply_transform")

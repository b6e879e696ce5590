"""image_dataset_from_directory (scratchnet/data/image_dataset.py) against Keras's, on a folder
tree of real small image files written with Pillow: file order, labels, class names, the
validation split, the decoded and resized pixels, the course's dataset chains, bad input.

Decoding note: TensorFlow decodes JPEG with its fast integer IDCT (dct_method ''), Pillow with
the accurate one, so JPEG pixels differ by a few levels out of 255; the JPEG test compares with
TensorFlow's accurate decode, resized by tf.image.resize, instead (everything else equal).
"""
import os

import numpy as np
import pytest
from PIL import Image

import scratchnet as sn
from scratchnet.data.image_dataset import image_dataset_from_directory
from tf_support import import_tf
from tolerances import assert_close

tf = import_tf()
import keras  # noqa: E402

SIZE = (11, 13)


def write_tree(root, classes=(("cats", 5), ("dogs", 4), ("zebras", 3)), formats=("png", "bmp",
                                                                                   "gif"),
               seed=0, mode="RGB"):
    """One folder per class with images of random sizes; one image in a nested sub-folder
    (Keras walks sub-folders), a hidden folder and a text file that must be ignored."""
    rng = np.random.default_rng(seed)
    for name, count in classes:
        os.makedirs(root / name / "nested", exist_ok=True)
        for i in range(count):
            h, w = rng.integers(4, 30, 2)
            channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
            pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
            image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels, mode)
            folder = root / name / ("nested" if i == 2 else "")
            image.save(folder / f"img{i}.{formats[i % len(formats)]}")
        (root / name / "notes.txt").write_text("not an image")
    os.makedirs(root / ".hidden", exist_ok=True)
    return root


def both(directory, **kwargs):
    """(Keras's result, scratchnet's result) for the same call."""
    kwargs.setdefault("image_size", SIZE)
    kwargs.setdefault("batch_size", 4)
    return (keras.utils.image_dataset_from_directory(str(directory), **kwargs),
            image_dataset_from_directory(str(directory), **kwargs))


def assert_same_batches(theirs, ours, what):
    assert len(ours) == int(theirs.cardinality()), what
    count = 0
    for expected, actual in zip(theirs, ours):
        expected = expected if isinstance(expected, tuple) else (expected,)
        actual = actual if isinstance(actual, tuple) else (actual,)
        assert len(expected) == len(actual), what
        images_tf, images = expected[0].numpy(), actual[0]
        assert images.dtype == np.float32, what
        assert_close(images, images_tf, "float32", f"{what}: images")
        if len(expected) == 2:
            labels_tf, labels = expected[1].numpy(), actual[1]
            assert labels.dtype == labels_tf.dtype, f"{what}: {labels.dtype} != {labels_tf.dtype}"
            assert labels.shape == labels_tf.shape, what
            np.testing.assert_array_equal(labels, labels_tf, err_msg=what)
        count += 1
    assert count == len(ours), what


@pytest.mark.parametrize("label_mode", ["int", "categorical", "binary", None])
def test_unshuffled_batches_equal_keras(tmp_path, label_mode, capsys):
    classes = (("horses", 5), ("humans", 4)) if label_mode == "binary" else \
        (("cats", 5), ("dogs", 4), ("zebras", 3))
    root = write_tree(tmp_path, classes)
    theirs, ours = both(root, shuffle=False, label_mode=label_mode)
    assert ours.file_paths == theirs.file_paths
    assert ours.class_names == theirs.class_names
    assert_same_batches(theirs, ours, f"label_mode={label_mode}")
    out = capsys.readouterr().out
    n = sum(count for _, count in classes)
    # label_mode=None means no labels at all: Keras then counts files only (class_names None)
    message = (f"Found {n} files.\n" if label_mode is None else
               f"Found {n} files belonging to {len(classes)} classes.\n")
    assert out.count(message) == 2, out


@pytest.mark.parametrize("options", [
    {"interpolation": "nearest"}, {"crop_to_aspect_ratio": True},
    {"pad_to_aspect_ratio": True}, {"image_size": 7, "batch_size": 5},
    {"batch_size": None}, {"class_names": ["zebras", "cats"]},
])
def test_options_equal_keras(tmp_path, options):
    root = write_tree(tmp_path)
    theirs, ours = both(root, shuffle=False, **options)
    assert ours.file_paths == theirs.file_paths
    assert ours.class_names == theirs.class_names
    assert_same_batches(theirs, ours, str(options))


def test_rgba_equal_keras(tmp_path):
    # (TensorFlow decodes GIF only as rgb, and BMP not as grayscale; Pillow decodes them all)
    root = write_tree(tmp_path, formats=("png",), mode="RGBA")
    theirs, ours = both(root, shuffle=False, color_mode="rgba")
    assert_same_batches(theirs, ours, "rgba")
    theirs, ours = both(root, shuffle=False, color_mode="rgb")        # rgba -> rgb: exact
    assert_same_batches(theirs, ours, "rgba files as rgb")


def test_grayscale_images_equal_keras(tmp_path):
    # grayscale files (TF converts colour to gray with other weights than Pillow: +-1 level)
    root = write_tree(tmp_path, formats=("png",), mode="L")
    theirs, ours = both(root, shuffle=False, color_mode="grayscale")
    assert_same_batches(theirs, ours, "grayscale")
    theirs, ours = both(root, shuffle=False, color_mode="rgb")        # gray -> rgb: exact
    assert_same_batches(theirs, ours, "gray files as rgb")


def test_jpeg_is_tf_resize_of_the_accurate_decode(tmp_path):
    root = write_tree(tmp_path, classes=(("a", 3), ("b", 2)), formats=("jpg", "jpeg"))
    ours = image_dataset_from_directory(str(root), image_size=SIZE, batch_size=8, shuffle=False)
    images, _ = next(iter(ours))
    for image, path in zip(images, ours.file_paths):
        decoded = tf.io.decode_jpeg(tf.io.read_file(path), channels=3,
                                    dct_method="INTEGER_ACCURATE")
        assert_close(image, tf.image.resize(decoded, SIZE).numpy(), "float32", path)


@pytest.mark.parametrize("seed", [1, 1234])
def test_seeded_shuffle_and_split_equal_keras(tmp_path, seed):
    root = write_tree(tmp_path)
    (train_tf, val_tf), (train, val) = both(root, seed=seed, validation_split=0.3,
                                            subset="both", label_mode="categorical")
    # the shuffled paths, and the split: the validation subset is the LAST int(0.3 * 12) = 3
    assert train.file_paths == train_tf.file_paths
    assert val.file_paths == val_tf.file_paths
    assert len(val.file_paths) == 3 and len(train.file_paths) == 9
    assert_same_batches(val_tf, val, "validation (not reshuffled)")
    # the training dataset is reshuffled while read (TF's generator draws other numbers):
    # the same images with the same labels, in another order
    def rows(dataset):
        pairs = [(np.asarray(x[i]).tobytes(), np.asarray(y[i]).tobytes())
                 for x, y in dataset for i in range(len(x))]
        return sorted(pairs)
    for expected, actual in zip(rows(train_tf), rows(train)):
        assert expected[1] == actual[1]
        assert_close(np.frombuffer(actual[0], np.float32), np.frombuffer(expected[0],
                                                                         np.float32),
                     "float32", "training image")
    # subset='training' / 'validation' separately give the same split
    for subset, reference in (("training", train_tf), ("validation", val_tf)):
        theirs, ours = both(root, seed=seed, validation_split=0.3, subset=subset)
        assert ours.file_paths == theirs.file_paths == reference.file_paths


def test_seeded_runs_are_reproducible_and_epochs_reshuffle(tmp_path):
    root = write_tree(tmp_path)
    first = image_dataset_from_directory(str(root), image_size=SIZE, batch_size=2, seed=7)
    second = image_dataset_from_directory(str(root), image_size=SIZE, batch_size=2, seed=7)
    epoch1 = [y.tolist() for _, y in first]
    assert epoch1 == [y.tolist() for _, y in second]
    epoch2 = [y.tolist() for _, y in first]
    assert sorted(sum(epoch1, [])) == sorted(sum(epoch2, []))


def test_course_chain_cache_shuffle_prefetch_map_take(tmp_path):
    root = write_tree(tmp_path, classes=(("horses", 5), ("humans", 4)))
    train_ds = image_dataset_from_directory(str(root), image_size=SIZE, batch_size=3, seed=0,
                                            label_mode="binary")
    assert train_ds.class_names == ["horses", "humans"]
    normalization_layer = sn.keras.layers.Rescaling(1. / 255)
    ds = train_ds.cache().shuffle(1000).prefetch(buffer_size=sn.data.AUTOTUNE)
    ds = ds.map(lambda x, y: (normalization_layer(x), y))
    batches = list(ds.take(1))
    assert len(batches) == 1
    images, labels = batches[0]
    assert images.shape == (3,) + SIZE + (3,) and labels.shape == (3, 1)
    assert labels.dtype == np.float32 and images.dtype == np.float32
    assert 0 <= images.min() and images.max() <= 1
    # a model trains on it
    model = sn.keras.Sequential([sn.keras.Input(SIZE + (3,)), sn.keras.layers.Rescaling(1. / 255),
                                 sn.keras.layers.Flatten(),
                                 sn.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(train_ds.cache().prefetch(sn.data.AUTOTUNE), epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_decoding_is_lazy(tmp_path):
    # a file replaced after the dataset was made is read as it is when its batch is asked for
    root = write_tree(tmp_path, classes=(("a", 2), ("b", 2)), formats=("png",))
    ds = image_dataset_from_directory(str(root), image_size=(4, 4), batch_size=1,
                                      shuffle=False)
    Image.fromarray(np.full((4, 4, 3), 7, np.uint8)).save(ds.file_paths[0])
    images, _ = next(iter(ds))
    np.testing.assert_array_equal(images, np.full((1, 4, 4, 3), 7, np.float32))


# --- bad input --------------------------------------------------------------------------------

def keras_and_ours_raise(directory, match, **kwargs):
    kwargs.setdefault("image_size", SIZE)
    with pytest.raises(ValueError, match=match):
        keras.utils.image_dataset_from_directory(str(directory), **kwargs)
    with pytest.raises(ValueError, match=match):
        image_dataset_from_directory(str(directory), **kwargs)


def test_empty_folder(tmp_path):
    keras_and_ours_raise(tmp_path, "No images found in directory")


def test_folder_without_class_folders(tmp_path):
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a.png")
    keras_and_ours_raise(tmp_path, "No images found in directory")
    with pytest.raises(ValueError, match="no class sub-folders"):
        image_dataset_from_directory(str(tmp_path))


def test_binary_with_three_classes(tmp_path):
    write_tree(tmp_path)
    keras_and_ours_raise(tmp_path, "there must be exactly 2 class_names",
                         label_mode="binary")


def test_argument_errors(tmp_path):
    write_tree(tmp_path)
    keras_and_ours_raise(tmp_path, "must provide a `seed`", validation_split=0.2,
                         subset="training")
    keras_and_ours_raise(tmp_path, "`validation_split` must be set", subset="training")
    keras_and_ours_raise(tmp_path, "between 0 and 1", validation_split=1.5, subset="both",
                         seed=1)
    keras_and_ours_raise(tmp_path, "`color_mode` must be one of", color_mode="cmyk")
    keras_and_ours_raise(tmp_path, "`label_mode` argument must be one of", label_mode="sparse")
    keras_and_ours_raise(tmp_path, "did not match the names", class_names=["cats", "lions"])
    keras_and_ours_raise(tmp_path, "Expected a tuple of 2 integers", image_size=(1, 2, 3))


def test_image_size_with_a_zero(tmp_path):
    write_tree(tmp_path)
    with pytest.raises(ValueError, match=r"image_size.*\(0, 8\)"):
        image_dataset_from_directory(str(tmp_path), image_size=(0, 8))


def test_corrupt_image_names_the_file(tmp_path):
    write_tree(tmp_path, classes=(("a", 2), ("b", 2)), formats=("png",))
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png at all")
    ds = image_dataset_from_directory(str(tmp_path), image_size=(4, 4), shuffle=False)
    with pytest.raises(ValueError, match="broken.png"):
        list(ds)


def test_explicit_labels_and_no_labels_equal_keras(tmp_path):
    root = write_tree(tmp_path, classes=(("a", 3), ("b", 2)), formats=("png",))
    labels = [1, 0, 2, 2, 0]            # one per file, in the sorted walk's order
    theirs, ours = both(root, labels=labels, shuffle=False, label_mode="categorical")
    assert ours.class_names == theirs.class_names == ["0", "1", "2"]
    assert_same_batches(theirs, ours, "labels given")
    theirs, ours = both(root, labels=None, shuffle=False)
    assert ours.class_names is None and theirs.class_names is None
    assert_same_batches(theirs, ours, "no labels")
    keras_and_ours_raise(root, "Expected the lengths of `labels` to match", labels=[0, 1])
    keras_and_ours_raise(root, "only pass `class_names`", labels=labels, class_names=["a"])

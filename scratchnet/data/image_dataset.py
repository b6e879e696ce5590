"""`image_dataset_from_directory`: a folder of class folders as a Dataset of (images, labels).

Lectures: the current Coursera C1 W4 / C2 notebooks read the horse-or-human and cats-vs-dogs
photos with

    train_ds = tf.keras.utils.image_dataset_from_directory(
        train_dir, image_size=(150, 150), batch_size=20, label_mode='binary')
    train_ds = train_ds.cache().shuffle(1000).prefetch(buffer_size=tf.data.AUTOTUNE)

The folder layout gives the labels: each sub-folder is one class, named by the folder.

    train_dir/
        horses/  horse01.png horse02.png ...     -> label 0 (class names sorted)
        humans/  human01.png ...                 -> label 1

What it does, step by step (Keras 3's rules, keras/src/utils/image_dataset_utils.py and
dataset_utils.py):

1. Classes: the sub-folders of `directory` in sorted order, hidden ones (".x") skipped; or
   the `class_names` you give, in your order (they must be sub-folders).
2. Files: each class folder walked (sub-folders included, sorted by folder path, file names
   sorted), keeping the image types .bmp .gif .jpeg .jpg .png (any case). It prints
   "Found N files belonging to K classes."
3. shuffle=True: all paths shuffled at once with NumPy's RandomState(seed) (the labels with
   a second RandomState(seed), so they stay paired). Without a seed, one is drawn.
4. validation_split=v: the LAST int(v * N) files (after that shuffle) are the validation
   subset, the others the training subset -- so training and validation must use the same
   seed, and Keras insists on one when shuffling.
5. The dataset: (path, label) pairs; the training dataset is shuffled again as it is read
   (a buffer of 8 batches, same seed; scratchnet's buffer shuffle draws other numbers than
   TensorFlow's, so within-epoch order differs from TF's while the files are the same); each
   image is decoded (Pillow) and resized to `image_size` only when its batch is asked for,
   so a big folder is never in memory at once; then batched and prefetched.

Elements: images float32 (batch, height, width, channels) with pixel values 0..255 -- NOT
rescaled (add `Rescaling(1./255)`); labels by `label_mode`:

    'int'          int32 (batch,)             class index (sparse_categorical_crossentropy)
    'categorical'  float32 (batch, classes)   one-hot (categorical_crossentropy)
    'binary'       float32 (batch, 1)         0. or 1., exactly two classes (binary_crossentropy)
    None           no labels: the dataset yields images only

channels by `color_mode`: 'grayscale' 1, 'rgb' 3, 'rgba' 4. Resizing is TensorFlow's
(tf.image.resize, half-pixel centers, no antialiasing), see layers/preprocessing.py.

The returned Dataset has `.class_names` (the label order) and `.file_paths` (in dataset
order before the reading shuffle), as Keras's has.
"""
import numbers
import os

import numpy as np

from scratchnet import backend
from scratchnet.callbacks.progbar import print_msg
from scratchnet.data.dataset import AUTOTUNE, Dataset
from scratchnet.layers.preprocessing import resize_images

ALLOWLIST_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_KERAS_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5",
                         "gaussian", "mitchellcubic")


def image_dataset_from_directory(directory, labels="inferred", label_mode="int",
                                 class_names=None, color_mode="rgb", batch_size=32,
                                 image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear",
                                 follow_links=False, crop_to_aspect_ratio=False,
                                 pad_to_aspect_ratio=False, data_format=None, format="tf",
                                 verbose=True):
    """Keras's `keras.utils.image_dataset_from_directory` (see the module docstring).

    Returns a Dataset of (images, labels) batches -- or a [training, validation] list of two
    when subset='both'.
    """
    # --- the arguments, checked in Keras's order with Keras's messages ---------------------
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same "
                "size as the number of image files in the target directory. If you wish to "
                "infer the labels from the subdirectory names in the target directory, pass "
                '`labels="inferred"`. If you wish to get a dataset that only contains images '
                f"(no labels), pass `labels=None`. Received: labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. '
                             f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode}')
    if labels is None or label_mode is None:
        labels = None
        label_mode = None
    if color_mode not in _CHANNELS:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    num_channels = _CHANNELS[color_mode]
    image_size = _check_image_size(image_size)
    if not isinstance(interpolation, str) or interpolation.lower() not in _KERAS_INTERPOLATIONS:
        raise ValueError("Argument `interpolation` should be one of "
                         f"{_KERAS_INTERPOLATIONS}. Received: interpolation={interpolation}")
    interpolation = interpolation.lower()
    if interpolation not in ("bilinear", "nearest"):
        raise NotImplementedError(
            "image_dataset_from_directory: scratchnet resizes with interpolation 'bilinear' "
            f"or 'nearest'; received interpolation={interpolation!r}")
    if format != "tf":
        raise ValueError('image_dataset_from_directory: scratchnet returns its tf.data-style '
                         f'Dataset (format="tf"); received format={format!r}')
    if data_format not in (None, "channels_last"):
        raise ValueError("image_dataset_from_directory: scratchnet's images are channels_last; "
                         f"received data_format={data_format!r}")
    if pad_to_aspect_ratio and crop_to_aspect_ratio:
        raise ValueError("Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be "
                         "set to `True`.")
    if batch_size is not None and (isinstance(batch_size, bool) or
                                   not isinstance(batch_size, numbers.Integral) or
                                   batch_size < 1):
        raise ValueError("image_dataset_from_directory: batch_size must be a positive int or "
                         f"None, received batch_size={batch_size!r}")
    _check_validation_split_arg(validation_split, subset, shuffle, seed)
    if not os.path.isdir(directory):
        raise ValueError(f"image_dataset_from_directory: directory {directory!r} does not "
                         "exist or is not a folder")

    if seed is None:
        seed = int(backend.rng().integers(1_000_000))
    image_paths, labels, class_names = index_directory(
        directory, labels, ALLOWLIST_FORMATS, class_names=class_names, shuffle=shuffle,
        seed=seed, follow_links=follow_links, verbose=verbose)

    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={class_names}")

    shuffle_buffer_size = batch_size * 8 if batch_size is not None else 1024
    build = dict(image_size=image_size, num_channels=num_channels, label_mode=label_mode,
                 num_classes=len(class_names) if class_names else 0,
                 interpolation=interpolation, crop_to_aspect_ratio=crop_to_aspect_ratio,
                 pad_to_aspect_ratio=pad_to_aspect_ratio, batch_size=batch_size)

    if subset == "both":
        paths_train, labels_train = get_training_or_validation_split(
            image_paths, labels, validation_split, "training")
        paths_val, labels_val = get_training_or_validation_split(
            image_paths, labels, validation_split, "validation")
        if not paths_train:
            raise ValueError(f"No training images found in directory {directory}. "
                             f"Allowed formats: {ALLOWLIST_FORMATS}")
        if not paths_val:
            raise ValueError(f"No validation images found in directory {directory}. "
                             f"Allowed formats: {ALLOWLIST_FORMATS}")
        train = _paths_and_labels_to_dataset(paths_train, labels_train, shuffle=shuffle,
                                             shuffle_buffer_size=shuffle_buffer_size,
                                             seed=seed, **build)
        val = _paths_and_labels_to_dataset(paths_val, labels_val, shuffle=False, **build)
        for dataset, paths in ((train, paths_train), (val, paths_val)):
            dataset.class_names = class_names
            dataset.file_paths = paths
        return [train, val]

    image_paths, labels = get_training_or_validation_split(image_paths, labels,
                                                           validation_split, subset)
    if not image_paths:
        raise ValueError(f"No images found in directory {directory}. Allowed formats: "
                         f"{ALLOWLIST_FORMATS}" + _no_class_folders_hint(directory, labels))
    dataset = _paths_and_labels_to_dataset(image_paths, labels, shuffle=shuffle,
                                           shuffle_buffer_size=shuffle_buffer_size, seed=seed,
                                           **build)
    dataset.class_names = class_names
    dataset.file_paths = image_paths
    return dataset


# --- arguments --------------------------------------------------------------------------------

def _check_image_size(image_size):
    if isinstance(image_size, numbers.Integral) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or not len(image_size) == 2:
        raise ValueError("Invalid `image_size` value. Expected a tuple of 2 integers. "
                         f"Received: image_size={image_size}")
    for size in image_size:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            # (Keras passes this on to TensorFlow, which fails while reading; we say it now)
            raise ValueError("Invalid `image_size` value. Expected a tuple of 2 positive "
                             f"integers (height, width). Received: image_size={image_size}")
    return int(image_size[0]), int(image_size[1])


def _check_validation_split_arg(validation_split, subset, shuffle, seed):
    """Keras's dataset_utils.check_validation_split_arg, messages included."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError("`validation_split` must be between 0 and 1, received: "
                         f"{validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError('`subset` must be either "training", "validation" or "both", '
                         f"received: {subset}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must "
                         "provide a `seed` argument, to make sure that there is no overlap "
                         "between the training and validation subset.")


def _no_class_folders_hint(directory, labels):
    """The lecture's warning, as a hint: images directly in `directory`, no class folders."""
    if labels is None and not os.path.isdir(directory):
        return ""
    try:
        names = os.listdir(directory)
    except OSError:
        return ""
    has_folders = any(os.path.isdir(os.path.join(directory, n)) and not n.startswith(".")
                      for n in names)
    has_images = any(n.lower().endswith(ALLOWLIST_FORMATS) for n in names)
    if has_images and not has_folders:
        return (". The images lie directly in this folder, which has no class sub-folders: "
                "point `directory` at the folder that CONTAINS one sub-folder per class")
    return ""


# --- the files: Keras's dataset_utils.index_directory ------------------------------------------

def _iter_valid_files(directory, follow_links, formats):
    """(folder, file name) of every allowed file under `directory`: folders sorted by path,
    files sorted by name within each."""
    walk = os.walk(directory, followlinks=follow_links)
    for root, _, files in sorted(walk, key=lambda entry: entry[0]):
        for name in sorted(files):
            if name.lower().endswith(formats):
                yield root, name


def _index_subdirectory(directory, class_index, follow_links, formats):
    dirname = os.path.basename(directory)
    filenames = []
    for root, name in _iter_valid_files(directory, follow_links, formats):
        absolute = os.path.join(root, name)
        filenames.append(os.path.join(dirname, os.path.relpath(absolute, directory)))
    return filenames, [class_index] * len(filenames)


def index_directory(directory, labels, formats, class_names=None, shuffle=True, seed=None,
                    follow_links=False, verbose=True):
    """(file paths, labels (int32 array or None), class names), in Keras's order."""
    if labels == "inferred":
        subdirs = [name for name in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, name)) and not name.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the "
                                 "subdirectories of the target directory. Expected: "
                                 f"{subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)           # the order given
    else:
        subdirs = [""]
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument `class_names` "
                                 "cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument `class_names` "
                             "cannot be specified (the `class_names` will be the sorted list "
                             "of labels).")
    class_names = subdirs
    filenames, label_lists = [], []
    for index, subdir in enumerate(subdirs):
        names, sub_labels = _index_subdirectory(os.path.join(directory, subdir), index,
                                                follow_links, formats)
        filenames += names
        label_lists += sub_labels

    if labels == "inferred":
        labels = np.asarray(label_lists, dtype=np.int32).reshape(-1)
    elif labels is None:
        class_names = None
    else:
        if len(labels) != len(filenames):
            raise ValueError("Expected the lengths of `labels` to match the number of files in "
                             f"the target directory. len(labels) is {len(labels)} while we "
                             f"found {len(filenames)} files in directory {directory}.")
        class_names = [str(label) for label in sorted(set(labels))]
        labels = np.asarray(labels, dtype=np.int32)
    if verbose:
        if labels is None:
            print_msg(f"Found {len(filenames)} files.")
        else:
            print_msg(f"Found {len(filenames)} files belonging to {len(class_names)} classes.")
    file_paths = [os.path.join(directory, name) for name in filenames]
    if shuffle:
        if seed is None:
            seed = int(backend.rng().integers(1_000_000))
        np.random.RandomState(seed).shuffle(file_paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return file_paths, labels, class_names


def get_training_or_validation_split(samples, labels, validation_split, subset):
    """The training part (all but the last int(split * n)) or the validation part (the last
    int(split * n)) -- Keras's slicing exactly, so a split that rounds to 0 files leaves
    `samples[:-0]`, i.e. nothing, for training (Keras then says no images were found)."""
    if not validation_split:
        return samples, labels
    num_val_samples = int(validation_split * len(samples))
    if subset == "training":
        print_msg(f"Using {len(samples) - num_val_samples} files for training.")
        samples = samples[:-num_val_samples]
        if labels is not None:
            labels = labels[:-num_val_samples]
    elif subset == "validation":
        print_msg(f"Using {num_val_samples} files for validation.")
        samples = samples[-num_val_samples:]
        if labels is not None:
            labels = labels[-num_val_samples:]
    else:
        raise ValueError('`subset` must be either "training" or "validation", received: '
                         f"{subset}")
    return samples, labels


# --- decoding, and the pipeline -----------------------------------------------------------------

def _encode_labels(labels, label_mode, num_classes):
    labels = np.asarray(labels, dtype=np.int32)
    if label_mode == "binary":
        return labels.astype(np.float32)[:, None]
    if label_mode == "categorical":
        return np.eye(num_classes, dtype=np.float32)[labels]
    return labels


def load_image(path, image_size, num_channels, interpolation="bilinear",
               crop_to_aspect_ratio=False, pad_to_aspect_ratio=False):
    """One image file as a float32 (height, width, channels) array, resized as Keras does.

    Pillow decodes it (the first frame of an animated GIF) and converts it to 'L', 'RGB' or
    'RGBA' for 1, 3 or 4 channels; a file Pillow cannot read raises a ValueError naming it.
    """
    from PIL import Image, UnidentifiedImageError

    mode = {1: "L", 3: "RGB", 4: "RGBA"}[num_channels]
    try:
        with Image.open(path) as image:
            image.seek(0)
            pixels = np.asarray(image.convert(mode) if image.mode != mode else image)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise ValueError(f"image_dataset_from_directory: cannot decode the image file {path!r} "
                         f"({type(error).__name__}: {error}); remove it or replace it with a "
                         "valid image") from None
    pixels = pixels.reshape(pixels.shape[0], pixels.shape[1], num_channels)
    if pad_to_aspect_ratio:
        return _resize_with_pad(pixels, image_size, interpolation)
    return resize_images(pixels, image_size, interpolation, crop_to_aspect_ratio)


def _resize_with_pad(pixels, image_size, interpolation):
    """tf.image.resize_with_pad: resize keeping the aspect ratio so the image fits in
    image_size, then pad with zeros around it, centred (offsets rounded down). TF computes
    the sizes in float32: ratio = max(W / target_w, H / target_h), new size floor(H / ratio),
    offset floor((target_h - H / ratio) / 2)."""
    target_h, target_w = image_size
    height, width = pixels.shape[:2]
    f32 = np.float32
    ratio = max(f32(width) / f32(target_w), f32(height) / f32(target_h))
    float_h, float_w = f32(height) / ratio, f32(width) / ratio
    new_h, new_w = int(np.floor(float_h)), int(np.floor(float_w))
    # (TF centres with the unrounded sizes: floor((target - height / ratio) / 2))
    top = max(0, int(np.floor((f32(target_h) - float_h) / f32(2))))
    left = max(0, int(np.floor((f32(target_w) - float_w) / f32(2))))
    out = np.zeros((target_h, target_w, pixels.shape[2]), np.float32)
    out[top:top + new_h, left:left + new_w] = resize_images(pixels, (new_h, new_w),
                                                            interpolation)
    return out


def _paths_and_labels_to_dataset(image_paths, labels, image_size, num_channels, label_mode,
                                 num_classes, interpolation, crop_to_aspect_ratio,
                                 pad_to_aspect_ratio, batch_size, shuffle=False,
                                 shuffle_buffer_size=None, seed=None):
    """(path, label) pairs -> (shuffled) -> decoded + resized images -> batches -> prefetch."""
    paths = np.asarray(image_paths, dtype=str)
    if label_mode:
        dataset = Dataset.from_tensor_slices(
            (paths, _encode_labels(labels, label_mode, num_classes)))
    else:
        dataset = Dataset.from_tensor_slices(paths)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer_size or 1024, seed=int(seed))

    def load(path):
        return load_image(str(path), image_size, num_channels, interpolation,
                          crop_to_aspect_ratio, pad_to_aspect_ratio)

    if label_mode:
        dataset = dataset.map(lambda path, label: (load(path), label))
    else:
        dataset = dataset.map(load)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    return dataset.prefetch(AUTOTUNE)

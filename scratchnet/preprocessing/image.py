"""Images from files and folders: `load_img`, `img_to_array`, `array_to_img`, `save_img` and
Keras's (legacy) `ImageDataGenerator` with its `flow` / `flow_from_directory` iterators.

The course reads photos like this:

    train_datagen = ImageDataGenerator(rescale=1./255, rotation_range=40, horizontal_flip=True)
    train_generator = train_datagen.flow_from_directory(
        'horse-or-human/',               # holds one sub-folder per class: horses/ humans/
        target_size=(300, 300), batch_size=128, class_mode='binary')
    model.fit(train_generator, steps_per_epoch=8, epochs=15)

What happens to every image, in Keras's order (and here the same):

1. **Read** the file with Pillow (`load_img`), convert it to the `color_mode` (RGB, RGBA or
   grayscale) and resize it to `target_size` (nearest neighbour unless `interpolation` says
   otherwise); `img_to_array` turns it into a float32 (h, w, channels) array of 0..255.
2. **Random transform** (`get_random_transform` draws the parameters from NumPy's global
   random generator, `apply_transform` applies them): one affine warp for rotation, shift,
   shear and zoom (scratchnet/preprocessing/affine.py), then the channel shift, the flips
   and the brightness change.
3. **Standardize**: `preprocessing_function`, then `rescale`, then sample-wise centring and
   std normalization, then feature-wise ones (with the mean / std computed by `fit(x)`),
   then ZCA whitening.

Batches are numbered: `len(iterator)` is the number of batches in one pass and
`iterator[i]` is batch i, so `fit` can treat the iterator like a `keras.utils.Sequence`
(`on_epoch_end` reshuffles). `next(iterator)` instead walks endlessly through the data, as
Keras 2 training loops did. With `seed`, the shuffle order and every random transform are
reproducible: Keras re-seeds NumPy's global generator with `seed + batches_seen` before each
batch, and so does scratchnet, so the same seed puts the same images, transformed the same
way, into the same batches as Keras does.
"""
import io
import math
import os
import pathlib
import tempfile
import threading
import warnings

import numpy as np

from ..backend import floatx
from .affine import FILL_MODES, warp_channels

try:
    from PIL import Image as pil_image
    from PIL import ImageEnhance, UnidentifiedImageError
except ImportError:  # pragma: no cover - Pillow is a dependency of scratchnet
    pil_image = None

if pil_image is not None:
    PIL_INTERPOLATION_METHODS = {
        "nearest": pil_image.Resampling.NEAREST,
        "bilinear": pil_image.Resampling.BILINEAR,
        "bicubic": pil_image.Resampling.BICUBIC,
        "hamming": pil_image.Resampling.HAMMING,
        "box": pil_image.Resampling.BOX,
        "lanczos": pil_image.Resampling.LANCZOS,
    }

DATA_FORMATS = ("channels_last", "channels_first")


def _require_pil(what):
    if pil_image is None:  # pragma: no cover
        raise ImportError(f"`{what}` needs Pillow: pip install pillow")


def _check_data_format(data_format):
    if data_format is None:
        return "channels_last"
    if data_format not in DATA_FORMATS:
        raise ValueError(f"data_format should be 'channels_last' or 'channels_first'; "
                         f"received {data_format!r}")
    return data_format


# ---------------------------------------------------------------------------------------------
# Image files
# ---------------------------------------------------------------------------------------------

def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A 3-D array (h, w, channels) -> a Pillow image (keras.utils.array_to_img).

    With `scale=True` the values are stretched to 0..255 first (min -> 0, max -> 255);
    then they are cut to uint8 (truncating, as NumPy's astype does). 1 channel gives a
    grayscale ("L") image, 3 an RGB one, 4 an RGBA one.
    """
    _require_pil("array_to_img")
    data_format = _check_data_format(data_format)
    x = np.asarray(x, dtype=dtype or floatx())
    if x.ndim != 3:
        raise ValueError("array_to_img: expected an image array of rank 3 (height, width, "
                         f"channels); received an array with shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    channels = x.shape[2]
    if channels == 4:
        return pil_image.fromarray(x.astype("uint8"), "RGBA")
    if channels == 3:
        return pil_image.fromarray(x.astype("uint8"), "RGB")
    if channels == 1:
        if np.max(x) > 255:            # 32-bit integer grayscale (Pillow's mode "I")
            return pil_image.fromarray(x[:, :, 0].astype("int32"), "I")
        return pil_image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: unsupported number of channels {channels}; "
                     "expected 1 (grayscale), 3 (RGB) or 4 (RGBA)")


def img_to_array(img, data_format=None, dtype=None):
    """A Pillow image -> a float array (h, w, channels) of its pixel values (0..255)."""
    data_format = _check_data_format(data_format)
    x = np.asarray(img, dtype=dtype or floatx())
    if x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    elif x.ndim == 2:
        x = x.reshape((1,) + x.shape if data_format == "channels_first" else x.shape + (1,))
    else:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}")
    return x


def save_img(path, x, data_format=None, file_format=None, scale=True, **kwargs):
    """Save an image array to `path` (or a file object), as keras.utils.save_img.

    The format comes from the file's extension unless `file_format` is given ("jpg" means
    JPEG; RGBA is converted to RGB for JPEG, with Keras's warning). A path is written
    atomically: to a temporary file in the same folder, flushed to disk, then renamed over
    `path`, so an interrupted save never leaves a half-written image behind.
    """
    data_format = _check_data_format(data_format)
    is_path = isinstance(path, (str, pathlib.Path))
    if file_format is None and is_path:
        file_format = pathlib.Path(path).suffix[1:].lower()
    if not file_format:
        raise ValueError(f"save_img: cannot tell the image format of {path!r}; give the file "
                         "an extension (.png, .jpg, ...) or pass file_format=")
    if file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.")
        img = img.convert("RGB")
    if not is_path:
        img.save(path, format=file_format, **kwargs)
        return
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix="." + file_format, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            img.save(f, format=file_format, **kwargs)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_img(path, color_mode="rgb", target_size=None, interpolation="nearest",
             keep_aspect_ratio=False):
    """Read an image file into a Pillow image (keras.utils.load_img).

    Args:
        path: a path (str / pathlib.Path / bytes) or an io.BytesIO.
        color_mode: "rgb" (default), "rgba" or "grayscale".
        target_size: None (keep the size) or (height, width).
        interpolation: how to resize: "nearest" (default), "bilinear", "bicubic",
            "hamming", "box" or "lanczos" (Pillow's filters).
        keep_aspect_ratio: crop the largest centred box with the target's aspect ratio
            before resizing, instead of stretching.

    A file Pillow cannot read (corrupt, truncated, not an image) raises a ValueError that
    names the file.
    """
    _require_pil("load_img")
    if color_mode not in ("grayscale", "rgb", "rgba"):
        raise ValueError(f'load_img: color_mode must be "grayscale", "rgb", or "rgba"; '
                         f"received {color_mode!r}")
    if isinstance(path, io.BytesIO):
        name, data = "<BytesIO>", path
    elif isinstance(path, (pathlib.Path, bytes, str)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        name = os.fsdecode(path)
        with open(path, "rb") as f:
            data = io.BytesIO(f.read())
    else:
        raise TypeError(f"load_img: path should be path-like or io.BytesIO, not {type(path)}")
    try:
        img = pil_image.open(data)
        img.load()                      # decode now, so a damaged file fails here, by name
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"load_img: cannot read image file {name!r}: it is not an image "
                         f"Pillow can decode, or it is damaged ({err})") from None
    if color_mode == "grayscale":
        if img.mode not in ("L", "I;16", "I"):
            img = img.convert("L")
    elif color_mode == "rgba":
        if img.mode != "RGBA":
            img = img.convert("RGBA")
    elif img.mode != "RGB":
        img = img.convert("RGB")
    if target_size is not None:
        width_height = (target_size[1], target_size[0])
        if img.size != width_height:
            if interpolation not in PIL_INTERPOLATION_METHODS:
                raise ValueError(f"load_img: invalid interpolation {interpolation!r}; "
                                 f"expected one of {', '.join(PIL_INTERPOLATION_METHODS)}")
            resample = PIL_INTERPOLATION_METHODS[interpolation]
            if keep_aspect_ratio:
                width, height = img.size
                target_width, target_height = width_height
                crop_height = min(height, (width * target_height) // target_width)
                crop_width = min(width, (height * target_width) // target_height)
                top = (height - crop_height) // 2
                left = (width - crop_width) // 2
                box = [left, top, left + crop_width, top + crop_height]
                img = img.resize(width_height, resample, box=box)
            else:
                img = img.resize(width_height, resample)
    return img


# ---------------------------------------------------------------------------------------------
# The per-image transforms (Keras's module-level helpers)
# ---------------------------------------------------------------------------------------------

def flip_axis(x, axis):
    """Reverse `x` along `axis` (a horizontal flip is axis 1 of an (h, w, c) image)."""
    return np.flip(np.asarray(x), axis)


def transform_matrix_offset_center(matrix, x, y):
    """Make `matrix` act about the image centre instead of the corner (0, 0): shift the
    centre to the origin, apply `matrix`, shift back."""
    o_x = float(x) / 2 - 0.5
    o_y = float(y) / 2 - 0.5
    offset_matrix = np.array([[1, 0, o_x], [0, 1, o_y], [0, 0, 1]])
    reset_matrix = np.array([[1, 0, -o_x], [0, 1, -o_y], [0, 0, 1]])
    return np.dot(np.dot(offset_matrix, matrix), reset_matrix)


def apply_affine_transform(x, theta=0, tx=0, ty=0, shear=0, zx=1, zy=1, row_axis=1,
                           col_axis=2, channel_axis=0, fill_mode="nearest", cval=0.0,
                           order=1):
    """Rotate by `theta` degrees, shift by (tx rows, ty columns), shear by `shear` degrees
    and zoom by (zx, zy), all about the image centre, in one warp (Keras's
    apply_affine_transform).

    The matrices compose as rotation @ shift @ shear @ zoom and map OUTPUT pixel positions
    to INPUT ones, so zx = 2 reads twice as far from the centre: the image shrinks. Every
    channel is warped with the same matrix (affine.py: `warp_channels`, the compiled twin of
    the readable `affine_transform_2d`). A float image keeps its dtype; an integer one comes
    back as float64.
    """
    if len({row_axis, col_axis, channel_axis}) != 3:
        raise ValueError("'row_axis', 'col_axis', and 'channel_axis' must be distinct")
    if {row_axis, col_axis, channel_axis} != {0, 1, 2}:
        raise ValueError("Invalid axis' indices: "
                         f"{ {row_axis, col_axis, channel_axis} - {0, 1, 2} }")
    if x.ndim != 3:
        raise ValueError("Input arrays must be multi-channel 2D images; received shape "
                         f"{x.shape}")
    if channel_axis not in (0, 2):
        raise ValueError("Channels are allowed and the first and last dimensions.")
    matrix = None

    def compose(m):
        return m if matrix is None else np.dot(matrix, m)

    if theta != 0:
        t = np.deg2rad(theta)
        matrix = compose(np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0],
                                   [0, 0, 1]]))
    if tx != 0 or ty != 0:
        matrix = compose(np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]]))
    if shear != 0:
        s = np.deg2rad(shear)
        matrix = compose(np.array([[1, -np.sin(s), 0], [0, np.cos(s), 0], [0, 0, 1]]))
    if zx != 1 or zy != 1:
        matrix = compose(np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]]))
    if matrix is None:
        return x
    h, w = x.shape[row_axis], x.shape[col_axis]
    matrix = transform_matrix_offset_center(matrix, h, w)
    channels_first = np.moveaxis(x, channel_axis, 0)
    if col_axis > row_axis:
        # The matrices speak of (x, y); an array is indexed (row, column): swap both the
        # matrix's first two rows and its first two columns (M' = P M P).
        matrix[:, [0, 1]] = matrix[:, [1, 0]]
        matrix[[0, 1]] = matrix[[1, 0]]
    warped = warp_channels(channels_first, matrix[:2, :2], matrix[:2, 2], order=order,
                           mode=fill_mode, cval=cval)
    return np.moveaxis(warped, 0, channel_axis)


def apply_channel_shift(x, intensity, channel_axis=0):
    """Add `intensity` to every channel, clipped to the image's own min..max."""
    x = np.moveaxis(x, channel_axis, 0)
    min_x, max_x = np.min(x), np.max(x)
    x = np.stack([np.clip(channel + intensity, min_x, max_x) for channel in x], axis=0)
    return np.moveaxis(x, 0, channel_axis)


def apply_brightness_shift(x, brightness, scale=True):
    """Change brightness by the factor `brightness` with Pillow's ImageEnhance.Brightness,
    as Keras does: the image goes through uint8 (values are truncated to whole numbers),
    and values outside 0..255 are stretched into that range and back."""
    _require_pil("apply_brightness_shift")
    x_min, x_max = np.min(x), np.max(x)
    local_scale = (x_min < 0) or (x_max > 255)
    img = array_to_img(x, scale=local_scale or scale)
    img = ImageEnhance.Brightness(img).enhance(brightness)
    x = img_to_array(img)
    if not scale and local_scale:
        x = x / 255 * (x_max - x_min) + x_min
    return x


def random_rotation(x, rg, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest",
                    cval=0.0, interpolation_order=1):
    """Rotate one image by an angle drawn from U(-rg, rg) degrees (NumPy's global generator).
    The axes default to channels-first (Keras's defaults for these helpers)."""
    theta = np.random.uniform(-rg, rg)
    return apply_affine_transform(x, theta=theta, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_shift(x, wrg, hrg, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest",
                 cval=0.0, interpolation_order=1):
    """Shift one image by fractions drawn from U(-hrg, hrg) of its height and U(-wrg, wrg)
    of its width."""
    h, w = x.shape[row_axis], x.shape[col_axis]
    tx = np.random.uniform(-hrg, hrg) * h
    ty = np.random.uniform(-wrg, wrg) * w
    return apply_affine_transform(x, tx=tx, ty=ty, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_shear(x, intensity, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest",
                 cval=0.0, interpolation_order=1):
    """Shear one image by an angle drawn from U(-intensity, intensity) degrees."""
    shear = np.random.uniform(-intensity, intensity)
    return apply_affine_transform(x, shear=shear, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_zoom(x, zoom_range, row_axis=1, col_axis=2, channel_axis=0, fill_mode="nearest",
                cval=0.0, interpolation_order=1):
    """Zoom one image by factors (zx, zy) drawn from U(zoom_range[0], zoom_range[1])."""
    if len(zoom_range) != 2:
        raise ValueError("`zoom_range` should be a tuple or list of two floats. "
                         f"Received: {zoom_range}")
    if zoom_range[0] == 1 and zoom_range[1] == 1:
        zx, zy = 1, 1
    else:
        zx, zy = np.random.uniform(zoom_range[0], zoom_range[1], 2)
    return apply_affine_transform(x, zx=zx, zy=zy, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_channel_shift(x, intensity_range, channel_axis=0):
    """apply_channel_shift with an intensity drawn from U(-range, range)."""
    intensity = np.random.uniform(-intensity_range, intensity_range)
    return apply_channel_shift(x, intensity, channel_axis=channel_axis)


def random_brightness(x, brightness_range, scale=True):
    """apply_brightness_shift with a factor drawn from U(low, high)."""
    if len(brightness_range) != 2:
        raise ValueError("`brightness_range should be tuple or list of two floats. "
                         f"Received: {brightness_range}")
    u = np.random.uniform(brightness_range[0], brightness_range[1])
    return apply_brightness_shift(x, u, scale)


# ---------------------------------------------------------------------------------------------
# ImageDataGenerator
# ---------------------------------------------------------------------------------------------

class ImageDataGenerator:
    """Random augmentation and normalization of images, batch by batch (Keras's legacy
    `keras.preprocessing.image.ImageDataGenerator`, same arguments and defaults).

    Args:
        featurewise_center / featurewise_std_normalization: subtract the per-channel mean /
            divide by the per-channel std of the data given to `fit(x)`.
        samplewise_center / samplewise_std_normalization: the same, per image.
        zca_whitening, zca_epsilon: ZCA whitening fitted by `fit(x)`.
        rotation_range: degrees; a rotation is drawn from U(-range, range).
        width_shift_range / height_shift_range: a float < 1 is a fraction of the width /
            height, >= 1 a number of pixels, drawn from U(-r, r); an int or a list draws
            one of its values with a random sign.
        brightness_range: (low, high) factors for Pillow's brightness enhancer.
        shear_range: degrees, counter-clockwise.
        zoom_range: a float z (zoom drawn from [1 - z, 1 + z]) or [low, high].
        channel_shift_range: a shift added to every channel, drawn from U(-r, r).
        fill_mode: "nearest" (default), "constant", "reflect" or "wrap": what a warp reads
            outside the image. cval: the value for "constant".
        horizontal_flip / vertical_flip: flip half of the images.
        rescale: multiply by this (e.g. 1/255), after `preprocessing_function`.
        preprocessing_function: a function image -> image, run after the random transform.
        data_format: "channels_last" (default) or "channels_first".
        validation_split: the fraction held out for `subset="validation"`.
        interpolation_order: 1 (bilinear, default) or 0 (nearest); scratchnet's warp
            supports these two.
        dtype: the dtype of the batches (default floatx(), float32).
    """

    def __init__(self, featurewise_center=False, samplewise_center=False,
                 featurewise_std_normalization=False, samplewise_std_normalization=False,
                 zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None,
                 shear_range=0.0, zoom_range=0.0, channel_shift_range=0.0,
                 fill_mode="nearest", cval=0.0, horizontal_flip=False, vertical_flip=False,
                 rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype=None):
        if data_format is None:
            data_format = "channels_last"
        if dtype is None:
            dtype = floatx()
        self.featurewise_center = featurewise_center
        self.samplewise_center = samplewise_center
        self.featurewise_std_normalization = featurewise_std_normalization
        self.samplewise_std_normalization = samplewise_std_normalization
        self.zca_whitening = zca_whitening
        self.zca_epsilon = zca_epsilon
        self.rotation_range = rotation_range
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.shear_range = shear_range
        self.zoom_range = zoom_range
        self.channel_shift_range = channel_shift_range
        if fill_mode not in FILL_MODES:
            raise ValueError(f"ImageDataGenerator: fill_mode must be one of {FILL_MODES}; "
                             f"received {fill_mode!r}")
        self.fill_mode = fill_mode
        self.cval = cval
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        self.dtype = dtype
        if interpolation_order not in (0, 1):
            raise ValueError("ImageDataGenerator: interpolation_order must be 0 (nearest) or "
                             f"1 (bilinear) in scratchnet; received {interpolation_order!r}")
        self.interpolation_order = interpolation_order
        if data_format not in DATA_FORMATS:
            raise ValueError('`data_format` should be `"channels_last"` (channel after row '
                             'and column) or `"channels_first"` (channel before row and '
                             f"column). Received: {data_format}")
        self.data_format = data_format
        # Axes of a BATCH (axis 0 = the image index).
        if data_format == "channels_first":
            self.channel_axis, self.row_axis, self.col_axis = 1, 2, 3
        else:
            self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2
        if validation_split and not 0 < validation_split < 1:
            raise ValueError("`validation_split` must be strictly between 0 and 1. "
                             f" Received: {validation_split}")
        self._validation_split = validation_split
        self.mean = None
        self.std = None
        self.zca_whitening_matrix = None
        if isinstance(zoom_range, (float, int)):
            self.zoom_range = [1 - zoom_range, 1 + zoom_range]
        elif (len(zoom_range) == 2
              and all(isinstance(val, (float, int)) for val in zoom_range)):
            self.zoom_range = [zoom_range[0], zoom_range[1]]
        else:
            raise ValueError("`zoom_range` should be a float or a tuple or list of two "
                             f"floats. Received: {zoom_range}")
        if zca_whitening:
            if not featurewise_center:
                self.featurewise_center = True
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, which "
                              "overrides setting of `featurewise_center`.")
            if featurewise_std_normalization:
                self.featurewise_std_normalization = False
                warnings.warn("This ImageDataGenerator specifies `zca_whitening` which "
                              "overrides setting of`featurewise_std_normalization`.")
        if featurewise_std_normalization and not featurewise_center:
            self.featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`,"
                          " which overrides setting of `featurewise_center`.")
        if samplewise_std_normalization and not samplewise_center:
            self.samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, "
                          "which overrides setting of `samplewise_center`.")
        if brightness_range is not None:
            if not isinstance(brightness_range, (tuple, list)) or len(brightness_range) != 2:
                raise ValueError("`brightness_range should be tuple or list of two floats. "
                                 f"Received: {brightness_range}")
        self.brightness_range = brightness_range

    # -- iterators -------------------------------------------------------------------------

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None,
             save_to_dir=None, save_prefix="", save_format="png", ignore_class_split=False,
             subset=None):
        """Batches of (augmented, standardized) images from the array `x` (n, h, w, c), with
        their labels `y` (and `sample_weight`) if given: a NumpyArrayIterator."""
        return NumpyArrayIterator(
            x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
            seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
            save_prefix=save_prefix, save_format=save_format,
            ignore_class_split=ignore_class_split, subset=subset, dtype=self.dtype)

    def flow_from_directory(self, directory, target_size=(256, 256), color_mode="rgb",
                            classes=None, class_mode="categorical", batch_size=32,
                            shuffle=True, seed=None, save_to_dir=None, save_prefix="",
                            save_format="png", follow_links=False, subset=None,
                            interpolation="nearest", keep_aspect_ratio=False):
        """Batches of images read from `directory`, which holds one sub-folder per class
        (the classes are the sorted folder names): a DirectoryIterator. Labels follow
        `class_mode`: "categorical" (one-hot), "binary" / "sparse" (the class index as a
        float), "input" (the images themselves, for autoencoders) or None (no labels)."""
        return DirectoryIterator(
            directory, self, target_size=target_size, color_mode=color_mode,
            keep_aspect_ratio=keep_aspect_ratio, classes=classes, class_mode=class_mode,
            data_format=self.data_format, batch_size=batch_size, shuffle=shuffle, seed=seed,
            save_to_dir=save_to_dir, save_prefix=save_prefix, save_format=save_format,
            follow_links=follow_links, subset=subset, interpolation=interpolation,
            dtype=self.dtype)

    # -- per image ---------------------------------------------------------------------------

    def standardize(self, x):
        """Normalize one image (or a batch), in place where Keras does it in place:
        preprocessing_function, rescale, sample-wise, feature-wise, ZCA -- in that order."""
        if self.preprocessing_function:
            x = self.preprocessing_function(x)
        if self.rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, keepdims=True) + 1e-6
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_center`, but it "
                              "hasn't been fit on any training data. Fit it first by calling "
                              "`.fit(numpy_data)`.")
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= self.std + 1e-6
            else:
                warnings.warn("This ImageDataGenerator specifies "
                              "`featurewise_std_normalization`, but it hasn't been fit on any "
                              "training data. Fit it first by calling `.fit(numpy_data)`.")
        if self.zca_whitening:
            if self.zca_whitening_matrix is not None:
                flat_x = x.reshape(-1, math.prod(x.shape[-3:]))
                x = np.reshape(flat_x @ self.zca_whitening_matrix, x.shape)
            else:
                warnings.warn("This ImageDataGenerator specifies `zca_whitening`, but it "
                              "hasn't been fit on any training data. Fit it first by calling "
                              "`.fit(numpy_data)`.")
        return x

    @staticmethod
    def _draw_shift(shift_range, size):
        """A shift in pixels: an int or a list draws one of its values with a random sign;
        a float draws U(-r, r); a value below 1 is a fraction of `size`. (Keras's rule,
        including its order of random draws.)"""
        try:
            shift = np.random.choice(shift_range)      # 1-D array-like or int
            shift *= np.random.choice([-1, 1])
        except ValueError:                              # a float: uniform
            shift = np.random.uniform(-shift_range, shift_range)
        if np.max(shift_range) < 1:
            shift *= size
        return shift

    def get_random_transform(self, img_shape, seed=None):
        """Draw one image's random transform from NumPy's global generator (seeded with
        `seed` if given) and return its parameters as a dict: theta, tx, ty, shear, zx, zy,
        flip_horizontal, flip_vertical, channel_shift_intensity, brightness."""
        img_row_axis = self.row_axis - 1
        img_col_axis = self.col_axis - 1
        if seed is not None:
            np.random.seed(seed)
        theta = (np.random.uniform(-self.rotation_range, self.rotation_range)
                 if self.rotation_range else 0)
        tx = (self._draw_shift(self.height_shift_range, img_shape[img_row_axis])
              if self.height_shift_range else 0)
        ty = (self._draw_shift(self.width_shift_range, img_shape[img_col_axis])
              if self.width_shift_range else 0)
        shear = np.random.uniform(-self.shear_range, self.shear_range) if self.shear_range else 0
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            zx, zy = 1, 1
        else:
            zx, zy = np.random.uniform(self.zoom_range[0], self.zoom_range[1], 2)
        flip_horizontal = (np.random.random() < 0.5) * self.horizontal_flip
        flip_vertical = (np.random.random() < 0.5) * self.vertical_flip
        channel_shift_intensity = None
        if self.channel_shift_range != 0:
            channel_shift_intensity = np.random.uniform(-self.channel_shift_range,
                                                        self.channel_shift_range)
        brightness = None
        if self.brightness_range is not None:
            brightness = np.random.uniform(self.brightness_range[0], self.brightness_range[1])
        return {"theta": theta, "tx": tx, "ty": ty, "shear": shear, "zx": zx, "zy": zy,
                "flip_horizontal": flip_horizontal, "flip_vertical": flip_vertical,
                "channel_shift_intensity": channel_shift_intensity, "brightness": brightness}

    def apply_transform(self, x, transform_parameters):
        """Apply a transform (a dict as from get_random_transform; missing keys mean "no
        change") to one image x (h, w, c): the affine warp, then the channel shift, the
        horizontal and vertical flips, then the brightness."""
        img_row_axis = self.row_axis - 1
        img_col_axis = self.col_axis - 1
        img_channel_axis = self.channel_axis - 1
        p = transform_parameters
        x = apply_affine_transform(
            x, p.get("theta", 0), p.get("tx", 0), p.get("ty", 0), p.get("shear", 0),
            p.get("zx", 1), p.get("zy", 1), row_axis=img_row_axis, col_axis=img_col_axis,
            channel_axis=img_channel_axis, fill_mode=self.fill_mode, cval=self.cval,
            order=self.interpolation_order)
        if p.get("channel_shift_intensity") is not None:
            x = apply_channel_shift(x, p["channel_shift_intensity"], img_channel_axis)
        if p.get("flip_horizontal", False):
            x = flip_axis(x, img_col_axis)
        if p.get("flip_vertical", False):
            x = flip_axis(x, img_row_axis)
        if p.get("brightness") is not None:
            x = apply_brightness_shift(x, p["brightness"], False)
        return x

    def random_transform(self, x, seed=None):
        """`apply_transform(x, get_random_transform(x.shape, seed))`."""
        return self.apply_transform(x, self.get_random_transform(x.shape, seed))

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Compute the statistics the feature-wise options need from sample images x
        (n, h, w, c): the per-channel mean, the per-channel std (after centring) and the
        ZCA matrix. With `augment=True`, `rounds` randomly transformed copies are used."""
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError("Input to `.fit()` should have rank 4. Got array with shape: "
                             + str(x.shape))
        if x.shape[self.channel_axis] not in {1, 3, 4}:
            warnings.warn("Expected input to be images (as Numpy array) following the data "
                          f'format convention "{self.data_format}" (channels on axis '
                          f"{self.channel_axis}), i.e. expected either 1, 3 or 4 channels on "
                          f"axis {self.channel_axis}. However, it was passed an array with "
                          f"shape {x.shape} ({x.shape[self.channel_axis]} channels).")
        if seed is not None:
            np.random.seed(seed)
        x = np.copy(x)
        if self.rescale:
            x *= self.rescale
        if augment:
            ax = np.zeros((rounds * x.shape[0],) + x.shape[1:], dtype=self.dtype)
            for r in range(rounds):
                for i in range(x.shape[0]):
                    ax[i + r * x.shape[0]] = self.random_transform(x[i])
            x = ax
        broadcast_shape = [1, 1, 1]
        broadcast_shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        if self.featurewise_center:
            self.mean = np.reshape(np.mean(x, axis=(0, self.row_axis, self.col_axis)),
                                   broadcast_shape)
            x -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.reshape(np.std(x, axis=(0, self.row_axis, self.col_axis)),
                                  broadcast_shape)
            x /= self.std + 1e-6
        if self.zca_whitening:
            n = len(x)
            flat_x = np.reshape(x, (n, -1))
            u, s, _ = np.linalg.svd(flat_x.T, full_matrices=False)
            s_inv = np.sqrt(n) / (s + self.zca_epsilon)
            self.zca_whitening_matrix = (u * s_inv).dot(u.T)


# ---------------------------------------------------------------------------------------------
# Iterators
# ---------------------------------------------------------------------------------------------

class Iterator:
    """The base of `flow`'s and `flow_from_directory`'s iterators (Keras's legacy Iterator).

    Two ways to walk through the data, exactly as in Keras:

    * By batch number, like a `keras.utils.Sequence` / `PyDataset` (what `fit` uses):
      `len(it)` batches per pass, `it[i]` is batch i of the current order, and
      `on_epoch_end()` draws a new order (a shuffle when `shuffle=True`).
    * Endlessly, with `next(it)` (or `for x, y in it:` -- it never stops by itself): batch
      after batch, wrapping around at the end of the data with a new shuffle; `reset()`
      starts over from the first batch.

    With a `seed`, NumPy's global generator is re-seeded with `seed + batches_seen` before
    every batch, so the order and the random transforms are reproducible (and equal
    Keras's).
    """

    white_list_formats = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")

    def __init__(self, n, batch_size, shuffle, seed, workers=1, use_multiprocessing=False,
                 max_queue_size=10):
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; received {batch_size!r}")
        self.workers = workers
        self.use_multiprocessing = use_multiprocessing
        self.max_queue_size = max_queue_size
        self.n = n
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array = None
        self.index_generator = self._flow_index()

    def _set_index_array(self):
        self.index_array = np.arange(self.n)
        if self.shuffle:
            self.index_array = np.random.permutation(self.n)

    def __getitem__(self, idx):
        if idx >= len(self):
            raise ValueError(f"Asked to retrieve element {idx}, but the Sequence has length "
                             f"{len(self)}")
        if self.seed is not None:
            np.random.seed(self.seed + self.total_batches_seen)
        self.total_batches_seen += 1
        if self.index_array is None:
            self._set_index_array()
        index_array = self.index_array[self.batch_size * idx: self.batch_size * (idx + 1)]
        return self._get_batches_of_transformed_samples(index_array)

    def __len__(self):
        return (self.n + self.batch_size - 1) // self.batch_size      # round up

    @property
    def num_batches(self):
        """Batches in one pass (PyDataset's name for len)."""
        return len(self)

    def on_epoch_begin(self):
        """Nothing happens at the start of an epoch (PyDataset's hook)."""

    def on_epoch_end(self):
        """Draw the next pass's order (a new shuffle when shuffle=True)."""
        self._set_index_array()

    def reset(self):
        """Make the next `next()` start from the first batch again."""
        self.batch_index = 0

    def _flow_index(self):
        self.reset()
        while True:
            if self.seed is not None:
                np.random.seed(self.seed + self.total_batches_seen)
            if self.batch_index == 0:
                self._set_index_array()
            current_index = 0 if self.n == 0 else (self.batch_index * self.batch_size) % self.n
            if self.n > current_index + self.batch_size:
                self.batch_index += 1
            else:
                self.batch_index = 0
            self.total_batches_seen += 1
            yield self.index_array[current_index: current_index + self.batch_size]

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            index_array = next(self.index_generator)
        return self._get_batches_of_transformed_samples(index_array)

    next = __next__          # Keras 2 code calls it.next()

    def _get_batches_of_transformed_samples(self, index_array):
        raise NotImplementedError

    def _save_batch(self, batch_x, index_array, hash_max):
        """Write the batch's images to save_to_dir (for looking at the augmentation)."""
        for i, j in enumerate(index_array):
            img = array_to_img(batch_x[i], self.data_format, scale=True)
            fname = (f"{self.save_prefix}_{j}_{np.random.randint(hash_max)}."
                     f"{self.save_format}")
            img.save(os.path.join(self.save_to_dir, fname))


def _iter_valid_files(directory, white_list_formats, follow_links):
    """(folder, file name) of every file under `directory` with an allowed extension,
    folders in sorted order and the files in each folder sorted (Keras's order)."""
    walk = sorted(os.walk(directory, followlinks=follow_links), key=lambda entry: entry[0])
    for root, _, files in walk:
        for fname in sorted(files):
            if fname.lower().endswith(".tiff"):
                warnings.warn('Using ".tiff" files with multiple bands will cause distortion. '
                              "Please verify your output.")
            if fname.lower().endswith(white_list_formats):
                yield root, fname


def _list_valid_filenames_in_directory(directory, white_list_formats, split, class_indices,
                                       follow_links):
    """The class indices and relative paths ("class/file.png") of one class folder's
    images; with `split` (start, stop) only that fraction of them: the validation subset is
    the FIRST `validation_split` of each class's sorted files, training the rest."""
    dirname = os.path.basename(directory)
    files = list(_iter_valid_files(directory, white_list_formats, follow_links))
    if split:
        start, stop = int(split[0] * len(files)), int(split[1] * len(files))
        files = files[start:stop]
    classes, filenames = [], []
    for root, fname in files:
        classes.append(class_indices[dirname])
        absolute_path = os.path.join(root, fname)
        filenames.append(os.path.join(dirname, os.path.relpath(absolute_path, directory)))
    return classes, filenames


class DirectoryIterator(Iterator):
    """Batches of images from a folder with one sub-folder per class (Keras's
    DirectoryIterator; build it with `ImageDataGenerator.flow_from_directory`).

    Attributes: `class_indices` ({folder name: index}, sorted names), `classes` (every
    image's class index, int32), `filenames` ("class/file.png", relative to `directory`),
    `filepaths`, `samples`, `num_classes`, `image_shape`.
    """

    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(self, directory, image_data_generator, target_size=(256, 256),
                 color_mode="rgb", classes=None, class_mode="categorical", batch_size=32,
                 shuffle=True, seed=None, data_format=None, save_to_dir=None, save_prefix="",
                 save_format="png", follow_links=False, subset=None, interpolation="nearest",
                 keep_aspect_ratio=False, dtype=None):
        data_format = _check_data_format(data_format)
        self.dtype = dtype or floatx()
        self.image_data_generator = image_data_generator
        try:
            target_size = tuple(int(v) for v in target_size)
        except (TypeError, ValueError):
            target_size = None
        if target_size is None or len(target_size) != 2 or min(target_size) < 1:
            raise ValueError("flow_from_directory: target_size must be (height, width) with "
                             f"two positive integers; received {target_size!r}")
        self.target_size = target_size
        self.keep_aspect_ratio = keep_aspect_ratio
        if color_mode not in {"rgb", "rgba", "grayscale"}:
            raise ValueError(f'Invalid color mode: {color_mode}; expected "rgb", "rgba", or '
                             '"grayscale".')
        self.color_mode = color_mode
        self.data_format = data_format
        channels = {"rgba": 4, "rgb": 3, "grayscale": 1}[color_mode]
        self.image_shape = (self.target_size + (channels,) if data_format == "channels_last"
                            else (channels,) + self.target_size)
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        if interpolation not in PIL_INTERPOLATION_METHODS:
            raise ValueError(f"flow_from_directory: invalid interpolation {interpolation!r}; "
                             f"expected one of {', '.join(PIL_INTERPOLATION_METHODS)}")
        self.interpolation = interpolation
        if subset is not None:
            split_fraction = image_data_generator._validation_split
            if subset == "validation":
                split = (0, split_fraction)
            elif subset == "training":
                split = (split_fraction, 1)
            else:
                raise ValueError(f'Invalid subset name: {subset}; expected "training" or '
                                 '"validation"')
        else:
            split = None
        self.split = split
        self.subset = subset
        if class_mode not in self.allowed_class_modes:
            raise ValueError(f"Invalid class_mode: {class_mode}; expected one of: "
                             f"{self.allowed_class_modes}")
        self.class_mode = class_mode
        self.directory = directory
        if not os.path.isdir(directory):
            raise ValueError(f"flow_from_directory: {directory!r} is not a directory; point it "
                             "at the directory that contains the class sub-directories")
        if not classes:
            classes = [sub for sub in sorted(os.listdir(directory))
                       if os.path.isdir(os.path.join(directory, sub))]
            if not classes:
                raise ValueError(
                    f"flow_from_directory: {directory!r} has no sub-directories, so there are "
                    "no classes. Point it at the directory that contains the class "
                    "sub-directories (e.g. 'horse-or-human/' holding 'horses/' and "
                    "'humans/'), not at a folder of images.")
        else:
            for sub in classes:
                if not os.path.isdir(os.path.join(directory, sub)):
                    raise ValueError(f"flow_from_directory: class {sub!r} has no folder "
                                     f"{os.path.join(directory, sub)!r}")
        self.num_classes = len(classes)
        self.class_indices = dict(zip(classes, range(len(classes))))
        if class_mode == "binary" and self.num_classes != 2:
            warnings.warn(
                f"flow_from_directory: class_mode='binary' with {self.num_classes} classes "
                f"{list(classes)}: the labels are the class indices 0..{self.num_classes - 1}"
                " as Keras gives them, which a binary (sigmoid) model cannot learn; use "
                "class_mode='categorical' or 'sparse' for more than two classes.")
        self.filenames = []
        class_lists = []
        for sub in classes:
            cls, names = _list_valid_filenames_in_directory(
                os.path.join(directory, sub), self.white_list_formats, self.split,
                self.class_indices, follow_links)
            class_lists.append(cls)
            self.filenames += names
        self.samples = len(self.filenames)
        self.classes = np.zeros((self.samples,), dtype="int32")
        i = 0
        for cls in class_lists:
            self.classes[i: i + len(cls)] = cls
            i += len(cls)
        print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        if self.samples == 0:
            where = f" in the {subset!r} subset" if subset else ""
            if subset == "validation" and not image_data_generator._validation_split:
                where += (" (the ImageDataGenerator's validation_split is 0; give it a "
                          "fraction between 0 and 1)")
            raise ValueError(
                f"flow_from_directory: found no images{where} in the class folders "
                f"{list(classes)} of {directory!r}; the allowed extensions are "
                f"{', '.join(self.white_list_formats)}")
        self._filepaths = [os.path.join(self.directory, fname) for fname in self.filenames]
        super().__init__(self.samples, batch_size, shuffle, seed)

    @property
    def filepaths(self):
        """Paths of the images (directory joined with each filename)."""
        return self._filepaths

    @property
    def labels(self):
        return self.classes

    @property
    def sample_weight(self):
        return None

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.image_shape, dtype=self.dtype)
        filepaths = self.filepaths
        for i, j in enumerate(index_array):
            img = load_img(filepaths[j], color_mode=self.color_mode,
                           target_size=self.target_size, interpolation=self.interpolation,
                           keep_aspect_ratio=self.keep_aspect_ratio)
            x = img_to_array(img, data_format=self.data_format)
            img.close()
            if self.image_data_generator:
                params = self.image_data_generator.get_random_transform(x.shape)
                x = self.image_data_generator.apply_transform(x, params)
                x = self.image_data_generator.standardize(x)
            batch_x[i] = x
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, int(1e7))
        if self.class_mode == "input":
            batch_y = batch_x.copy()
        elif self.class_mode in {"binary", "sparse"}:
            batch_y = self.classes[index_array].astype(self.dtype)
        elif self.class_mode == "categorical":
            batch_y = np.zeros((len(batch_x), len(self.class_indices)), dtype=self.dtype)
            batch_y[np.arange(len(batch_x)), self.classes[index_array]] = 1.0
        else:
            return batch_x
        return batch_x, batch_y


class NumpyArrayIterator(Iterator):
    """Batches of (augmented) images from arrays (Keras's NumpyArrayIterator; build it with
    `ImageDataGenerator.flow`). `x` may also be a list [images, other_input, ...]: the other
    arrays are sliced along with the images and returned un-transformed."""

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False,
                 sample_weight=None, seed=None, data_format=None, save_to_dir=None,
                 save_prefix="", save_format="png", subset=None, ignore_class_split=False,
                 dtype=None):
        data_format = _check_data_format(data_format)
        self.dtype = dtype or floatx()
        if isinstance(x, (tuple, list)):
            if not isinstance(x[1], list):
                x_misc = [np.asarray(x[1])]
            else:
                x_misc = [np.asarray(xx) for xx in x[1]]
            x = x[0]
            for xx in x_misc:
                if len(x) != len(xx):
                    raise ValueError("All of the arrays in `x` should have the same length. "
                                     f"Found a pair with: len(x[0]) = {len(x)}, "
                                     f"len(x[?]) = {len(xx)}")
        else:
            x_misc = []
        if y is not None and len(x) != len(y):
            raise ValueError("`x` (images tensor) and `y` (labels) should have the same length. "
                             f"Found: x.shape = {np.asarray(x).shape}, "
                             f"y.shape = {np.asarray(y).shape}")
        if sample_weight is not None and len(x) != len(sample_weight):
            raise ValueError("`x` (images tensor) and `sample_weight` should have the same "
                             f"length. Found: x.shape = {np.asarray(x).shape}, "
                             f"sample_weight.shape = {np.asarray(sample_weight).shape}")
        if subset is not None:
            if subset not in {"training", "validation"}:
                raise ValueError(f'Invalid subset name: {subset}; expected "training" or '
                                 '"validation".')
            split_idx = int(len(x) * image_data_generator._validation_split)
            if (y is not None and not ignore_class_split
                    and not np.array_equal(np.unique(y[:split_idx]),
                                           np.unique(y[split_idx:]))):
                raise ValueError("Training and validation subsets have different number of "
                                 "classes after the split. If your numpy arrays are sorted by "
                                 "the label, you might want to shuffle them.")
            if subset == "validation":
                x = x[:split_idx]
                x_misc = [np.asarray(xx[:split_idx]) for xx in x_misc]
                if y is not None:
                    y = y[:split_idx]
            else:
                x = x[split_idx:]
                x_misc = [np.asarray(xx[split_idx:]) for xx in x_misc]
                if y is not None:
                    y = y[split_idx:]
        self.x = np.asarray(x, dtype=self.dtype)
        self.x_misc = x_misc
        if self.x.ndim != 4:
            raise ValueError("Input data in `NumpyArrayIterator` should have rank 4 (images, "
                             f"height, width, channels). You passed an array with shape "
                             f"{self.x.shape}")
        channels_axis = 3 if data_format == "channels_last" else 1
        if self.x.shape[channels_axis] not in {1, 3, 4}:
            warnings.warn(f'NumpyArrayIterator is set to use the data format convention '
                          f'"{data_format}" (channels on axis {channels_axis}), i.e. expected '
                          f"either 1, 3, or 4 channels on axis {channels_axis}. However, it "
                          f"was passed an array with shape {self.x.shape} "
                          f"({self.x.shape[channels_axis]} channels).")
        self.y = np.asarray(y) if y is not None else None
        self.sample_weight = np.asarray(sample_weight) if sample_weight is not None else None
        self.image_data_generator = image_data_generator
        self.data_format = data_format
        self.save_to_dir = save_to_dir
        self.save_prefix = save_prefix
        self.save_format = save_format
        super().__init__(self.x.shape[0], batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        batch_x = np.zeros((len(index_array),) + self.x.shape[1:], dtype=self.dtype)
        for i, j in enumerate(index_array):
            x = self.x[j]
            params = self.image_data_generator.get_random_transform(x.shape)
            x = self.image_data_generator.apply_transform(x.astype(self.dtype), params)
            x = self.image_data_generator.standardize(x)
            batch_x[i] = x
        if self.save_to_dir:
            self._save_batch(batch_x, index_array, int(1e4))
        batch_x_miscs = [xx[index_array] for xx in self.x_misc]
        output = (batch_x if not batch_x_miscs else [batch_x] + batch_x_miscs,)
        if self.y is None:
            return output[0]
        output += (self.y[index_array],)
        if self.sample_weight is not None:
            output += (self.sample_weight[index_array],)
        return output


__all__ = ["ImageDataGenerator", "Iterator", "DirectoryIterator", "NumpyArrayIterator",
           "load_img", "img_to_array", "array_to_img", "save_img", "apply_affine_transform",
           "apply_channel_shift", "apply_brightness_shift", "flip_axis",
           "transform_matrix_offset_center", "random_rotation", "random_shift", "random_shear",
           "random_zoom", "random_channel_shift", "random_brightness"]

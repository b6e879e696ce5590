"""Image preprocessing layers: `Rescaling`, `Resizing`, `RandomFlip`, `RandomContrast`,
`RandomRotation`, `RandomZoom`, `RandomTranslation` (Keras 3's), and the image resize they and
`image_dataset_from_directory` share.

Lectures: the Coursera C1 W4 / C2 notebooks put the input pipeline inside the model:

    model = tf.keras.Sequential([
        tf.keras.layers.Rescaling(1./255),              # pixels 0..255 -> 0..1
        tf.keras.layers.RandomFlip("horizontal"),       # augmentation: training only
        tf.keras.layers.RandomRotation(0.2),
        ...
    ])

or map a layer over a dataset: `train_ds.map(lambda x, y: (normalization_layer(x), y))`.

Two kinds of layer:

* deterministic (`Rescaling`, `Resizing`): the same function in training and inference;
* random augmentation (`Random*`): in training (`fit`, or `layer(x, training=True)`) each
  image gets its own random transform; at inference (`predict`, `evaluate`, a plain
  `layer(x)`) the layer is the identity and draws nothing.

Randomness: each Random* layer owns a NumPy generator seeded once with `seed=` (Keras: a
SeedGenerator per layer), so the same seed gives the same sequence of transforms, call after
call, run after run; without a seed the draws come from scratchnet's generator
(`backend.rng()`, which `keras.utils.set_random_seed` reseeds). TensorFlow's own generator draws
other numbers: the tests check the *deterministic part* of each layer (the transform applied
for a given draw) against Keras, and the randomness for reproducibility.

Images are channels-last: (batch, height, width, channels), or one (height, width, channels)
image.

Backward passes: these layers usually sit at the input of a model, where nobody needs dL/dx
(the engine asks for it only when a layer before them has weights). For a fixed draw every
one of them is linear in x, y = A x + b, and backward gives the exact dL/dx = A^T dL/dy:
a rescale, the transpose of the resize weights, the flip itself, the contrast formula's
derivative, the transpose of the warp (TensorFlow's gradient of the warp is an approximation;
see affine_transform_backward).
"""
import numbers

import numpy as np

from scratchnet import backend
from scratchnet.layers.base import Layer

__all__ = ["Rescaling", "Resizing", "RandomFlip", "RandomContrast", "RandomRotation",
           "RandomZoom", "RandomTranslation", "affine_transform", "affine_transform_backward",
           "resize_images"]


# --- TensorFlow's resize (tf.image.resize: half-pixel centers, antialias=False) -------------

def _bilinear_weights(in_size, out_size):
    """For each output index: the two source indices and the weight of the second.

    tf.image.resize (v2) uses half-pixel centers: output pixel i covers the source position

        s = (i + 0.5) * in_size / out_size - 0.5

    (pixel centres line up). With s0 = floor(s): lower = max(s0, 0), upper = min(ceil(s),
    in_size - 1), and the weight of `upper` is lerp = s - s0. TF computes in float32; so do we.
    """
    scale = np.float32(in_size) / np.float32(out_size)
    s = (np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5)
    s0 = np.floor(s)
    lower = np.maximum(s0, 0).astype(np.int64)
    upper = np.minimum(np.ceil(s), in_size - 1).astype(np.int64)
    return lower, upper, (s - s0).astype(np.float32)


def _nearest_indices(in_size, out_size):
    """tf.image.resize's 'nearest': source index min(floor((i + 0.5) * scale), in_size - 1)."""
    scale = np.float32(in_size) / np.float32(out_size)
    s = np.floor((np.arange(out_size, dtype=np.float32) + np.float32(0.5)) * scale)
    return np.minimum(s.astype(np.int64), in_size - 1)


def _crop_box(height, width, size):
    """Keras's crop_to_aspect_ratio: the centred window of the target's aspect ratio
    (heights and widths in float32 then truncated, as the TF backend computes them)."""
    target_height, target_width = size
    crop_height = int(np.float32(width * target_height) / np.float32(target_width))
    crop_height = max(min(height, crop_height), 1)
    crop_width = int(np.float32(height * target_width) / np.float32(target_height))
    crop_width = max(min(width, crop_width), 1)
    top = int(np.float32(height - crop_height) / np.float32(2))
    left = int(np.float32(width - crop_width) / np.float32(2))
    return top, left, crop_height, crop_width


def resize_images(images, size, interpolation="bilinear", crop_to_aspect_ratio=False):
    """Images (..., height, width, channels) resized to `size` = (new_height, new_width) as
    tf.image.resize does them (bilinear: float32 out; nearest: the pixels' own float dtype).

    bilinear: each output pixel mixes its 4 source neighbours,

        top    = x[lo_r, lo_c] + (x[lo_r, hi_c] - x[lo_r, lo_c]) * lerp_c
        bottom = x[hi_r, lo_c] + (x[hi_r, hi_c] - x[hi_r, lo_c]) * lerp_c
        y      = top + (bottom - top) * lerp_r

    (TF's order of operations, float32). nearest: y = x[nearest_r, nearest_c].
    crop_to_aspect_ratio: first crop the centred window with the target's aspect ratio.
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise ValueError("Invalid images rank: expected rank 3 (single image) or rank 4 "
                         f"(batch of images). Received input with shape: {images.shape}")
    height, width = images.shape[-3], images.shape[-2]
    if crop_to_aspect_ratio:
        top, left, ch, cw = _crop_box(height, width, size)
        images = images[..., top:top + ch, left:left + cw, :]
        height, width = ch, cw
    out_h, out_w = int(size[0]), int(size[1])
    if interpolation == "nearest":          # (TF copies the pixels: float64 stays float64)
        x = images if images.dtype.kind == "f" else images.astype(np.float32)
        rows, cols = _nearest_indices(height, out_h), _nearest_indices(width, out_w)
        return np.ascontiguousarray(x[..., rows, :, :][..., cols, :])
    x = images.astype(np.float32, copy=False)      # bilinear: TF computes in float32
    if interpolation != "bilinear":
        raise ValueError("scratchnet resizes with interpolation 'bilinear' or 'nearest'; "
                         f"received interpolation={interpolation!r}")
    r0, r1, wr = _bilinear_weights(height, out_h)
    c0, c1, wc = _bilinear_weights(width, out_w)
    wc = wc[:, None]                                   # broadcast over channels
    top_rows, bottom_rows = x[..., r0, :, :], x[..., r1, :, :]
    top = top_rows[..., c0, :] + (top_rows[..., c1, :] - top_rows[..., c0, :]) * wc
    bottom = bottom_rows[..., c0, :] + (bottom_rows[..., c1, :] - bottom_rows[..., c0, :]) * wc
    return top + (bottom - top) * wr[:, None, None]


def _resize_backward(dy, in_shape, size, interpolation, crop_to_aspect_ratio):
    """dL/dx of resize_images: every output pixel hands its gradient back to the source
    pixels it read, with the weight it read them with (a scatter-add, the transpose of the
    resize). in_shape: the input's (..., height, width, channels)."""
    height, width = in_shape[-3], in_shape[-2]
    top = left = 0
    ch, cw = height, width
    if crop_to_aspect_ratio:
        top, left, ch, cw = _crop_box(height, width, size)
    out_h, out_w = int(size[0]), int(size[1])
    # resizing is separable: y = R x C^T per channel, so dx = R^T dy C
    rows = np.zeros((out_h, ch), np.float64)
    cols = np.zeros((out_w, cw), np.float64)
    if interpolation == "nearest":
        rows[np.arange(out_h), _nearest_indices(ch, out_h)] = 1
        cols[np.arange(out_w), _nearest_indices(cw, out_w)] = 1
    else:
        for matrix, (i0, i1, w), n in ((rows, _bilinear_weights(ch, out_h), out_h),
                                       (cols, _bilinear_weights(cw, out_w), out_w)):
            np.add.at(matrix, (np.arange(n), i0), 1 - w.astype(np.float64))
            np.add.at(matrix, (np.arange(n), i1), w.astype(np.float64))
    # (bilinear runs in float32 in TF, its gradient too: float64 models get float32 sums)
    work = np.float32 if interpolation != "nearest" else dy.dtype
    dcrop = np.einsum("...ijc,ia,jb->...abc", dy.astype(work, copy=False), rows.astype(work),
                      cols.astype(work))
    dx = np.zeros(in_shape, dy.dtype)
    dx[..., top:top + ch, left:left + cw, :] = dcrop
    return dx


# --- helpers ---------------------------------------------------------------------------------

def _check_seed(layer, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)
                             or seed < 0):
        raise ValueError(f"{layer}: seed must be None or a non-negative int, received "
                         f"seed={seed!r}")
    return None if seed is None else int(seed)


def _check_images(layer, x):
    if x.ndim not in (3, 4):
        raise ValueError(f"{layer}: expected images of rank 3 (height, width, channels) or 4 "
                         f"(batch, height, width, channels); received shape {x.shape}")


def _check_data_format(layer, data_format):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer}: scratchnet's images are channels_last; received "
                         f"data_format={data_format!r}")


# --- deterministic layers ------------------------------------------------------------------------

class Rescaling(Layer):
    """Keras's `Rescaling(scale, offset=0.0)`: y = x * scale + offset, in training and
    inference alike (`Rescaling(1./255)` maps pixels 0..255 to 0..1; `Rescaling(1./127.5,
    offset=-1)` to -1..1). `scale`/`offset` may be per-channel lists (they broadcast over the
    last axis). Shapes: y has x's shape. Backward: dL/dx = dL/dy * scale (no weights).
    """

    _keras_builds_at_init = True

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale
        self.offset = offset

    def _constants(self, dtype):
        return np.asarray(self.scale, dtype), np.asarray(self.offset, dtype)

    def forward(self, x, training=False):
        scale, offset = self._constants(x.dtype)
        return x * scale + offset, None

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        scale, _ = self._constants(dy.dtype)
        dx = dy * scale
        return dx if dx.shape == dy.shape else np.broadcast_to(dx, dy.shape).copy()

    def get_config(self):
        return {**super().get_config(), "scale": _plain(self.scale),
                "offset": _plain(self.offset)}


def _plain(value):
    """A number or a per-channel list, as JSON can hold it."""
    array = np.asarray(value)
    return float(array) if array.ndim == 0 else array.tolist()


class Resizing(Layer):
    """Keras's `Resizing(height, width, interpolation='bilinear', crop_to_aspect_ratio=False)`:
    every image resized to (height, width) as tf.image.resize does (half-pixel centers, no
    antialiasing; see `resize_images` for the bilinear formula), in training and inference.
    crop_to_aspect_ratio=True first crops the centred window with the target aspect ratio, so
    nothing is stretched.

    Shapes: (batch, H, W, C) -> (batch, height, width, C) (or one (H, W, C) image).
    Backward: resizing is linear, y = R x C^T per channel with R (height x H) and C (width x W)
    holding the interpolation weights, so dL/dx = R^T dL/dy C, exact.
    """

    _keras_builds_at_init = True

    def __init__(self, height, width, interpolation="bilinear", crop_to_aspect_ratio=False,
                 pad_to_aspect_ratio=False, fill_mode="constant", fill_value=0.0,
                 antialias=False, data_format=None, **kwargs):
        super().__init__(**kwargs)
        for argument, value in (("height", height), ("width", width)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Resizing: {argument} must be a positive int, received "
                                 f"{argument}={value!r}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError("Resizing: scratchnet supports interpolation 'bilinear' or "
                             f"'nearest'; received interpolation={interpolation!r}")
        if pad_to_aspect_ratio or antialias:
            raise NotImplementedError("Resizing: pad_to_aspect_ratio and antialias are not "
                                      "implemented in scratchnet (use crop_to_aspect_ratio)")
        if fill_mode != "constant":
            raise ValueError("Invalid value for argument `fill_mode`. Only `'constant'` is "
                             f"supported. Received: fill_mode={fill_mode}")
        _check_data_format("Resizing", data_format)
        self.height, self.width = int(height), int(width)
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.fill_value = fill_value

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        return shape[:-3] + (self.height, self.width, shape[-1])

    def forward(self, x, training=False):
        _check_images(f"Resizing {self.name!r}", x)
        y = resize_images(x, (self.height, self.width), self.interpolation,
                          self.crop_to_aspect_ratio)
        return y.astype(x.dtype, copy=False), x.shape

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        return _resize_backward(dy, cache, (self.height, self.width), self.interpolation,
                                self.crop_to_aspect_ratio)

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last",
                "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": False, "fill_mode": "constant",
                "fill_value": self.fill_value, "antialias": False}


# --- random augmentation layers ------------------------------------------------------------

class _RandomLayer(Layer):
    """What the Random* layers share: the seed and its generator, and Keras 3's training rule.

    Keras 3 gives these layers `call(data, training=True)`: called on their own (`layer(x)`,
    `dataset.map(lambda x, y: (augment(x), y))`) they augment unless told training=False;
    inside a model they follow the model: `fit` augments, `predict` / `evaluate` do not.
    """

    _keras_builds_at_init = True

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        _check_data_format(type(self).__name__, data_format)
        self.seed = _check_seed(type(self).__name__, seed)
        # Keras: a SeedGenerator(seed) per layer; here a NumPy generator seeded once
        self._generator = np.random.default_rng(self.seed) if self.seed is not None else None

    def _rng(self):
        return self._generator if self._generator is not None else backend.rng()

    def __call__(self, inputs, training=None, **kwargs):
        from scratchnet.engine import context

        if training is None and len(context._training) == 1:    # not inside a model call
            training = True
        return super().__call__(inputs, training=training, **kwargs)

    def _per_image(self, x):
        """The number of images (1 for one unbatched image) draws are made for."""
        return x.shape[0] if x.ndim == 4 else 1

    def get_config(self):
        return {**super().get_config(), "data_format": "channels_last", "seed": self.seed}


def _set_factor(layer, factor, bounds):
    """Keras's BaseImagePreprocessingLayer._set_factor: a number f gives
    (max(-|f|, low), |f|); a pair is sorted. Out of `bounds`: Keras's ValueError."""
    message = ("The `factor` argument should be a number (or a list of two numbers) in the "
               f"range [{bounds[0]}, {bounds[1]}]. Received: factor={factor}")
    if isinstance(factor, (tuple, list)):
        if len(factor) != 2 or factor[0] > bounds[1] or factor[1] < bounds[0]:
            raise ValueError(f"{layer}: {message}")
        lower, upper = sorted(factor)
    elif isinstance(factor, numbers.Real) and not isinstance(factor, bool):
        if factor < bounds[0] or factor > bounds[1]:
            raise ValueError(f"{layer}: {message}")
        factor = abs(factor)
        lower, upper = max(-factor, bounds[0]), factor
    else:
        raise ValueError(f"{layer}: {message}")
    return lower, upper


HORIZONTAL, VERTICAL = "horizontal", "vertical"
HORIZONTAL_AND_VERTICAL = "horizontal_and_vertical"


class RandomFlip(_RandomLayer):
    """Keras's `RandomFlip(mode='horizontal_and_vertical', seed=None)`.

    Training: for each image one draw u ~ Uniform[0, 1); if u <= 0.5 the image is flipped:
    left-right ('horizontal': x[:, ::-1, :]), top-bottom ('vertical': x[::-1, :, :]), or both
    with the same draw ('horizontal_and_vertical', Keras's default). Inference: y = x.

    Shapes: y has x's shape. Backward: a flip is a permutation, so dL/dx is dL/dy flipped back
    the same way (the cache holds the flip decisions).
    """

    def __init__(self, mode=HORIZONTAL_AND_VERTICAL, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if mode not in (HORIZONTAL, VERTICAL, HORIZONTAL_AND_VERTICAL):
            raise ValueError(f"RandomFlip layer {self.name} received an unknown mode argument "
                             f"{mode}")
        self.mode = mode

    def draw(self, x):
        """The flip decisions, one bool per image."""
        return self._rng().random(self._per_image(x)) <= 0.5

    def apply(self, x, flips):
        """x with the images whose `flips` entry is True flipped (the deterministic part)."""
        batched = x if x.ndim == 4 else x[None]
        y = batched.copy()
        for i in np.flatnonzero(flips):
            image = batched[i]
            if self.mode in (HORIZONTAL, HORIZONTAL_AND_VERTICAL):
                image = image[:, ::-1]
            if self.mode in (VERTICAL, HORIZONTAL_AND_VERTICAL):
                image = image[::-1]
            y[i] = image
        return y if x.ndim == 4 else y[0]

    def forward(self, x, training=False):
        _check_images(f"RandomFlip {self.name!r}", x)
        if not training:
            return x, None
        flips = self.draw(x)
        return self.apply(x, flips), flips

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        return dy if cache is None else self.apply(dy, cache)     # a flip is its own inverse

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


class RandomContrast(_RandomLayer):
    """Keras's `RandomContrast(factor, value_range=(0, 255), seed=None)`.

    Training: per image a contrast factor c ~ Uniform[1 - lower, 1 + upper), with (lower,
    upper) from `factor` by Keras's rule (a number f gives (0, f): c in [1, 1 + f) -- Keras 3
    only ever raises contrast for a single number; a pair (a, b) gives c in [1 - a, 1 + b)).
    With m the image's mean over height and width (one per channel):

        y = clip((x - m) * c + m, value_range)

    Inference: y = x (nothing clipped, nothing drawn).

    Shapes: y has x's shape. Backward (exact, per image and channel, where the clip is not
    active -- mask k): y = c x + (1 - c) m, so dL/dx = c (k dL/dy) + (1 - c) mean_hw(k dL/dy).
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.factor = _set_factor("RandomContrast", factor, (0, 1))
        self.value_range = tuple(value_range)

    def draw(self, x):
        """The contrast factors, shape (batch, 1, 1, 1) (or (1, 1, 1) for one image)."""
        shape = (x.shape[0], 1, 1, 1) if x.ndim == 4 else (1, 1, 1)
        low, high = 1.0 - self.factor[0], 1.0 + self.factor[1]
        return (low + (high - low) * self._rng().random(shape)).astype(x.dtype)

    def _unclipped(self, x, contrast):
        mean = np.mean(np.mean(x, axis=-3, keepdims=True), axis=-2, keepdims=True)
        return (x - mean) * contrast + mean

    def apply(self, x, contrast):
        """(x - mean) * contrast + mean, clipped to value_range (the deterministic part)."""
        return np.clip(self._unclipped(x, contrast), *np.asarray(self.value_range, x.dtype))

    def forward(self, x, training=False):
        _check_images(f"RandomContrast {self.name!r}", x)
        if not training:
            return x, None
        contrast = self.draw(x)
        z = self._unclipped(x, contrast)
        low, high = np.asarray(self.value_range, x.dtype)
        inside = (z >= low) & (z <= high)        # where the clip passes the gradient (as TF)
        return np.clip(z, low, high), (contrast, inside)

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        if cache is None:
            return dy
        contrast, unclipped = cache
        g = dy * unclipped
        mean = np.mean(g, axis=(-3, -2), keepdims=True)
        return (contrast * g + (1 - contrast) * mean).astype(dy.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor,
                "value_range": self.value_range}


# --- the affine warp of RandomRotation / RandomZoom / RandomTranslation ----------------------

FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _map_coordinates(coord, size, fill_mode):
    """TensorFlow's fill-mode mapping (ImageProjectiveTransformV3) of source coordinates that
    fall outside [0, size - 1], float32:

        reflect   ... d c b a | a b c d | d c b a ...   (mirror, the edge pixel repeated)
        wrap      ... a b c d | a b c d | a b c d ...   (period size, measured in size - 1)
        nearest   ... a a a a | a b c d | d d d d ...   (clamp)
        constant  left as it is: reads outside the image give fill_value
    """
    coord = coord.astype(np.float32, copy=True)
    if fill_mode == "constant":
        return coord
    last = np.float32(size - 1)
    if fill_mode == "nearest" or size <= 1:
        return np.clip(coord, 0, last) if size > 1 else np.zeros_like(coord)
    if fill_mode == "reflect":
        sz2 = np.float32(2 * size)
        low, high = coord < 0, coord > last          # (if / else: decided before mapping)
        c = coord[low]
        c = np.where(c < sz2, sz2 * np.trunc(-c / sz2) + c, c)
        coord[low] = np.where(c < -size, c + sz2, -c - 1)
        c = coord[high]
        c = c - sz2 * np.trunc(c / sz2)
        coord[high] = np.where(c >= size, sz2 - c - 1, c)
    else:                                                         # wrap
        # (as TF writes it: the period is `size`, but the number of periods is counted in
        # steps of size - 1, so far-off points can land outside and get clamped)
        sz = np.float32(size - 1)
        low, high = coord < 0, coord > last          # (if / else: decided before mapping)
        coord[low] += np.float32(size) * (np.trunc(-coord[low] / sz) + 1)
        coord[high] -= np.float32(size) * np.trunc(coord[high] / sz)
    return np.clip(coord, 0, last)


def affine_transform(images, transforms, interpolation="bilinear", fill_mode="constant",
                     fill_value=0.0):
    """keras.ops.image.affine_transform on the TensorFlow backend (ImageProjectiveTransformV3).

    images (batch, H, W, C); transforms (batch, 8): [a0, a1, a2, b0, b1, b2, c0, c1] maps each
    OUTPUT pixel (x, y) (column, row) to the source point it reads,

        k = c0 x + c1 y + 1,   x_in = (a0 x + a1 y + a2) / k,   y_in = (b0 x + b1 y + b2) / k

    whose coordinates go through the fill mode (_map_coordinates); then
    bilinear: the 4 neighbours (floor, floor + 1) weighted by distance, any neighbour outside
    the image read as fill_value; nearest: the pixel at round(y_in), round(x_in) (halves away
    from zero). Everything is float32 as in TF's kernel, which also mixes float64 pixels in
    float32 (bilinear) and returns them in float64; nearest copies pixels exactly.
    """
    images = np.asarray(images)
    dtype = images.dtype if images.dtype.kind == "f" else np.dtype(np.float32)
    work = np.dtype(np.float32) if interpolation == "bilinear" else dtype
    batch, height, width, channels = images.shape
    t = np.asarray(transforms, np.float32).reshape(batch, 8)
    ys, xs = np.meshgrid(np.arange(height, dtype=np.float32),
                         np.arange(width, dtype=np.float32), indexing="ij")
    fill = dtype.type(np.float32(fill_value))
    out = np.empty(images.shape, dtype)
    padded_cache = None
    for n in range(batch):
        x, y, k = _source_points(t[n], xs, ys, height, width, fill_mode)
        image = images[n].astype(work, copy=False)
        if padded_cache is None:
            padded_cache = np.empty((height + 2, width + 2, channels), work)
        padded = padded_cache                     # the image framed by one ring of fill_value
        padded[...] = work.type(np.float32(fill_value))   # (TF: a float32 attribute)
        padded[1:-1, 1:-1] = image

        def read(rows, cols):
            """Pixels at integer (rows, cols), fill_value outside the image."""
            r = np.clip(rows, -1, height).astype(np.int64) + 1
            c = np.clip(cols, -1, width).astype(np.int64) + 1
            return padded[r, c]

        if interpolation == "nearest":
            result = read(_round_half_away(y), _round_half_away(x))
        else:
            y0, x0 = np.floor(y), np.floor(x)
            y1, x1 = y0 + 1, x0 + 1
            wx0, wx1 = (x1 - x)[..., None], (x - x0)[..., None]
            top = wx0 * read(y0, x0) + wx1 * read(y0, x1)
            bottom = wx0 * read(y1, x0) + wx1 * read(y1, x1)
            result = (y1 - y)[..., None] * top + (y - y0)[..., None] * bottom
        bad = (k == 0)[..., None]                  # a point at infinity: fill_value
        out[n] = np.where(bad, fill, result)
    return out


def _source_points(t, xs, ys, height, width, fill_mode):
    """The (x, y) source point each output pixel reads (after the fill mode), and k. Where
    k = 0 (a point at infinity, which reads fill_value) the point is a placeholder; a point
    too far off to compute (NaN) reads fill_value too."""
    a0, a1, a2, b0, b1, b2, c0, c1 = t
    k = c0 * xs + c1 * ys + np.float32(1)
    safe_k = np.where(k == 0, np.float32(1), k)
    with np.errstate(over="ignore", invalid="ignore"):
        x_in = (a0 * xs + a1 * ys + a2) / safe_k
        y_in = (b0 * xs + b1 * ys + b2) / safe_k
        x = _map_coordinates(x_in, width, fill_mode)
        y = _map_coordinates(y_in, height, fill_mode)
    return np.nan_to_num(x, nan=-1.0), np.nan_to_num(y, nan=-1.0), k


def _round_half_away(v):
    """C's round(): halves away from zero (NumPy's round goes to even)."""
    return np.copysign(np.floor(np.abs(v) + np.float32(0.5)), v)


def affine_transform_backward(dy, transforms, interpolation="bilinear", fill_mode="constant"):
    """dL/dimages of `affine_transform` (the warp is linear in the images: y = A x + fill
    terms, so dL/dx = A^T dL/dy): every output pixel hands dL/dy back to each source pixel it
    read, times the weight it read it with,

        bilinear: (y1 - y)(x1 - x) to (y0, x0),  (y1 - y)(x - x0) to (y0, x1),
                  (y - y0)(x1 - x) to (y1, x0),  (y - y0)(x - x0) to (y1, x1)
        nearest:  1 to (round(y), round(x))

    -- reads of fill_value (outside the image, points at infinity) pass nothing back. This is
    the exact transpose; TensorFlow's registered gradient instead warps dL/dy with the
    inverse transform (an approximation that differs near edges and for zooms).
    """
    dy = np.asarray(dy)
    batch, height, width, channels = dy.shape
    t = np.asarray(transforms, np.float32).reshape(batch, 8)
    ys, xs = np.meshgrid(np.arange(height, dtype=np.float32),
                         np.arange(width, dtype=np.float32), indexing="ij")
    dx = np.zeros(dy.shape, dy.dtype)
    for n in range(batch):
        x, y, k = _source_points(t[n], xs, ys, height, width, fill_mode)
        if interpolation == "nearest":
            taps = [(_round_half_away(y), _round_half_away(x), None)]
        else:
            y0, x0 = np.floor(y), np.floor(x)
            y1, x1 = y0 + 1, x0 + 1
            taps = [(y0, x0, (y1 - y) * (x1 - x)), (y0, x1, (y1 - y) * (x - x0)),
                    (y1, x0, (y - y0) * (x1 - x)), (y1, x1, (y - y0) * (x - x0))]
        for rows, cols, weight in taps:
            inside = (k != 0) & (rows >= 0) & (rows < height) & (cols >= 0) & (cols < width)
            share = dy[n][inside]
            if weight is not None:
                share = share * weight[inside][:, None].astype(dy.dtype)
            np.add.at(dx[n], (rows[inside].astype(np.int64), cols[inside].astype(np.int64)),
                      share)
    return dx


def _check_fill_and_interpolation(layer, fill_mode, interpolation):
    if fill_mode not in FILL_MODES:
        raise NotImplementedError(f"{layer}: Unknown `fill_mode` {fill_mode}. Expected of one "
                                  f"{FILL_MODES}.")
    if interpolation not in ("nearest", "bilinear"):
        raise NotImplementedError(f"{layer}: Unknown `interpolation` {interpolation}. "
                                  "Expected of one ('nearest', 'bilinear').")


class _AffineLayer(_RandomLayer):
    """The geometric augmentations: draw parameters per image, turn them into a transform
    (`transforms`), warp with `affine_transform`. Backward: for the drawn transform the warp
    is linear in x, so dL/dx is its exact transpose (`affine_transform_backward`, computed only
    when the engine needs dL/dx: the cache keeps just the draws). TensorFlow's own gradient
    of this warp is an approximation (dL/dy warped back by the inverse transform), so here
    scratchnet is exact rather than equal to TF."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(seed=seed, **kwargs)
        _check_fill_and_interpolation(type(self).__name__, fill_mode, interpolation)
        self.fill_mode = fill_mode
        self.interpolation = interpolation
        self.fill_value = fill_value

    def apply(self, x, params):
        """x warped by the transforms of the drawn `params` (the deterministic part)."""
        batched = x if x.ndim == 4 else x[None]
        y = affine_transform(batched, self.transforms(params, batched.shape[1],
                                                      batched.shape[2]),
                             self.interpolation, self.fill_mode, self.fill_value)
        y = y.astype(x.dtype, copy=False)
        return y if x.ndim == 4 else y[0]

    def forward(self, x, training=False):
        _check_images(f"{type(self).__name__} {self.name!r}", x)
        if not training:
            return x, None
        params = self.draw(x)
        return self.apply(x, params), params

    def backward(self, dy, cache, need_input_grad=True):
        if not need_input_grad:
            return None
        if cache is None:                     # inference: the identity
            return dy
        batched = dy if dy.ndim == 4 else dy[None]
        dx = affine_transform_backward(
            batched, self.transforms(cache, batched.shape[1], batched.shape[2]),
            self.interpolation, self.fill_mode)
        return dx if dy.ndim == 4 else dx[0]

    def _uniform(self, low, high, shape):
        return np.float32(low) + np.float32(high - low) * self._rng().random(shape,
                                                                              np.float32)

    def get_config(self):
        return {**super().get_config(), "fill_mode": self.fill_mode,
                "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomRotation(_AffineLayer):
    """Keras's `RandomRotation(factor, fill_mode='reflect', interpolation='bilinear',
    seed=None, fill_value=0.0)`.

    Training: per image an angle theta ~ Uniform[lower, upper) * 360 degrees, (lower, upper)
    from `factor` (a number f: [-f, f], a fraction of a full turn: 0.2 is +-72 degrees; or a
    pair). The image turns about its centre (cx, cy) = ((W - 1) / 2, (H - 1) / 2): output
    pixel (x, y) reads the source point

        x_in = cos(t) x - sin(t) y + cx - cx cos(t) + cy sin(t)
        y_in = sin(t) x + cos(t) y + cy - cx sin(t) - cy cos(t)

    (Keras's _compute_affine_matrix), warped by `affine_transform` with the fill mode.
    Inference: y = x. Shapes: y has x's shape.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, **kwargs)
        self.factor = _set_factor("RandomRotation", factor, (-1, 1))

    def draw(self, x):
        """The angles in degrees, one per image."""
        return self._uniform(self.factor[0] * 360.0, self.factor[1] * 360.0,
                             (self._per_image(x),))

    def transforms(self, angles, height, width):
        f32 = np.float32
        angle = np.asarray(angles, f32) * f32(np.pi / 180.0)
        cx, cy = f32(0.5) * (f32(width) - 1), f32(0.5) * (f32(height) - 1)
        cos, sin = np.cos(angle), np.sin(angle)
        a0, a1 = cos, -sin
        a2 = cx - cx * a0 - cy * a1
        b0, b1 = sin, cos
        b2 = cy - cx * b0 - cy * b1
        zeros = np.zeros_like(angle)
        return np.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _check_range_factor(layer, factor, name, low_open):
    """RandomZoom / RandomTranslation's factor: a number f gives [-|f|, |f|], a pair is
    sorted; each number in [-1, 1] ((-1, 1] for zoom)."""
    what = ("The `height_factor` and `width_factor` arguments" if low_open
            else "The `factor` argument")
    interval = "(-1.0, 1.0]" if low_open else "[-1.0, 1.0]"
    message = (f"{layer}: {what} should be a number (or a list of two numbers) in the range "
               f"{interval}. Received: {name}={factor}")

    def check(value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or value > 1.0 or \
                (value <= -1.0 if low_open else value < -1.0):
            raise ValueError(message)

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(message)
        check(factor[0])
        check(factor[1])
        return tuple(sorted(factor))
    check(factor)
    return -abs(factor), abs(factor)


class RandomZoom(_AffineLayer):
    """Keras's `RandomZoom(height_factor, width_factor=None, fill_mode='reflect',
    interpolation='bilinear', seed=None, fill_value=0.0)`.

    Training: per image zoom factors zy ~ Uniform[1 + h_lower, 1 + h_upper) and zx (from
    width_factor, or zx = zy when it is None, keeping the aspect ratio). Output pixel (x, y)
    reads the source point

        x_in = zx x + (W - 1) / 2 (1 - zx),   y_in = zy y + (H - 1) / 2 (1 - zy)

    so z > 1 reads a larger area (zooms OUT: a positive factor shrinks the content), z < 1
    zooms in -- Keras's convention. Inference: y = x. Shapes: y has x's shape.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = _check_range_factor(
            "RandomZoom", height_factor, "height_factor", True)
        self.width_factor = width_factor
        if width_factor is not None:
            self.width_lower, self.width_upper = _check_range_factor(
                "RandomZoom", width_factor, "width_factor", True)

    def draw(self, x):
        """(zx, zy) per image: shape (batch, 2) (Keras draws height first, then width)."""
        n = self._per_image(x)
        zy = self._uniform(1.0 + self.height_lower, 1.0 + self.height_upper, (n, 1))
        zx = zy if self.width_factor is None else \
            self._uniform(1.0 + self.width_lower, 1.0 + self.width_upper, (n, 1))
        return np.concatenate([zx, zy], axis=1)

    def transforms(self, zooms, height, width):
        zooms = np.asarray(zooms, np.float32).reshape(-1, 2)
        zx, zy = zooms[:, 0], zooms[:, 1]
        x_offset = ((np.float32(width) - 1) / 2) * (1 - zx)
        y_offset = ((np.float32(height) - 1) / 2) * (1 - zy)
        zeros = np.zeros_like(zx)
        return np.stack([zx, zeros, x_offset, zeros, zy, y_offset, zeros, zeros], axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}


class RandomTranslation(_AffineLayer):
    """Keras's `RandomTranslation(height_factor, width_factor, fill_mode='reflect',
    interpolation='bilinear', seed=None, fill_value=0.0)`.

    Training: per image shifts dy ~ Uniform[h_lower, h_upper) * H and dx ~ Uniform[w_lower,
    w_upper) * W pixels (factors are fractions of the size: 0.1 shifts by up to 10%); output
    pixel (x, y) reads the source point (x - dx, y - dy): the content moves right by dx and
    down by dy. Inference: y = x. Shapes: y has x's shape.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect",
                 interpolation="bilinear", seed=None, fill_value=0.0, **kwargs):
        super().__init__(fill_mode=fill_mode, interpolation=interpolation, seed=seed,
                         fill_value=fill_value, **kwargs)
        self.height_factor = height_factor
        self.height_lower, self.height_upper = _check_range_factor(
            "RandomTranslation", height_factor, "height_factor", False)
        self.width_factor = width_factor
        self.width_lower, self.width_upper = _check_range_factor(
            "RandomTranslation", width_factor, "width_factor", False)

    def draw(self, x):
        """(dx, dy) in pixels per image: shape (batch, 2)."""
        batched_shape = x.shape if x.ndim == 4 else (1,) + x.shape
        n, height, width = batched_shape[:3]
        dy = self._uniform(self.height_lower, self.height_upper, (n, 1)) * np.float32(height)
        dx = self._uniform(self.width_lower, self.width_upper, (n, 1)) * np.float32(width)
        return np.concatenate([dx, dy], axis=1)

    def transforms(self, translations, height, width):
        shifts = np.asarray(translations, np.float32).reshape(-1, 2)
        ones, zeros = np.ones(len(shifts), np.float32), np.zeros(len(shifts), np.float32)
        return np.stack([ones, zeros, -shifts[:, 0], zeros, ones, -shifts[:, 1], zeros, zeros],
                        axis=1)

    def get_config(self):
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor}

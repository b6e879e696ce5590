"""`to_categorical`, the seed setter, `Progbar`, `PyDataset` / `Sequence`
(data/py_dataset.py), `image_dataset_from_directory` (data/image_dataset.py) and the image-file
helpers (preprocessing/image.py), as in `keras.utils`.

Lecture: the university course and Python ML ch. 13 one-hot encode labels with
`to_categorical(y, 10)` before `categorical_crossentropy`.
"""
import numpy as np

from scratchnet.backend import set_random_seed
from scratchnet.callbacks.progbar import Progbar
from scratchnet.data.image_dataset import image_dataset_from_directory
from scratchnet.data.py_dataset import PyDataset, Sequence
from scratchnet.preprocessing.image import array_to_img, img_to_array, load_img, save_img

__all__ = ["to_categorical", "set_random_seed", "Progbar", "PyDataset", "Sequence",
           "image_dataset_from_directory", "load_img", "img_to_array", "array_to_img",
           "save_img"]


def to_categorical(y, num_classes=None):
    """Integer labels (any shape) -> one-hot float array with a new last axis of num_classes."""
    y = np.asarray(y)
    if y.size and not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError("to_categorical: labels must be integers")
    labels = y.astype(np.int64)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]  # Keras drops a trailing axis of size 1
    if labels.size and labels.min() < 0:
        raise ValueError(f"to_categorical: labels must be >= 0, received {labels.min()}")
    top = int(labels.max()) + 1 if labels.size else 0
    if num_classes is None:
        num_classes = top
    elif top > num_classes:
        raise ValueError(
            f"to_categorical: label {top - 1} is out of range for num_classes={num_classes}"
        )
    one_hot = np.zeros(labels.shape + (num_classes,), dtype=np.float64)
    np.put_along_axis(one_hot, labels[..., None], 1.0, axis=-1)
    return one_hot

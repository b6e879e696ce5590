"""`keras.preprocessing` (Keras 2 / tf.keras's legacy API): images from files and folders.

    from scratchnet.preprocessing.image import ImageDataGenerator, load_img, img_to_array

See image.py for the generator and its iterators and affine.py for the warp behind its
rotations, shifts, shears and zooms.
"""
from . import image

__all__ = ["image"]

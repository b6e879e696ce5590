"""`keras.preprocessing` -- an alias of `scratchnet.preprocessing` (read the code there):
`from tensorflow.keras.preprocessing.image import ImageDataGenerator` becomes
`from scratchnet.keras.preprocessing.image import ImageDataGenerator`; and
`keras.preprocessing.image_dataset_from_directory` (TF 2.3-2.5's spelling, today's
`keras.utils.image_dataset_from_directory`)."""
from scratchnet.data.image_dataset import image_dataset_from_directory
from scratchnet.keras.preprocessing import image

__all__ = ["image", "image_dataset_from_directory"]

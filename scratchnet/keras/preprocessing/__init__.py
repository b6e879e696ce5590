"""`keras.preprocessing` -- an alias of `scratchnet.preprocessing` (read the code there):
`from tensorflow.keras.preprocessing.image import ImageDataGenerator` becomes
`from scratchnet.keras.preprocessing.image import ImageDataGenerator`."""
from scratchnet.keras.preprocessing import image

__all__ = ["image"]

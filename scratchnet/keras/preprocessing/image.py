"""`keras.preprocessing.image` -- an alias of `scratchnet.preprocessing.image` (read the code
there): ImageDataGenerator, its iterators, load_img / img_to_array / array_to_img / save_img."""
from scratchnet.preprocessing.image import *  # noqa: F401,F403
from scratchnet.preprocessing.image import __all__  # noqa: F401

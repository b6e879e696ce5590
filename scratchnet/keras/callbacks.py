"""`keras.callbacks` -- an alias of `scratchnet.callbacks` (read the code there)."""
from scratchnet.callbacks import *  # noqa: F401,F403
from scratchnet.callbacks import __all__  # noqa: F401

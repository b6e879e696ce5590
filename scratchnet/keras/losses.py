"""`keras.losses` -- an alias of `scratchnet.losses` (read the code there)."""
from scratchnet.losses import *  # noqa: F401,F403
from scratchnet.losses import __all__  # noqa: F401

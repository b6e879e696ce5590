"""`keras.backend` -- an alias of `scratchnet.backend` (read the code there)."""
from scratchnet.backend import *  # noqa: F401,F403
from scratchnet.backend import __all__  # noqa: F401

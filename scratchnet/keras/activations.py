"""`keras.activations` -- an alias of `scratchnet.activations` (read the code there)."""
from scratchnet.activations import *  # noqa: F401,F403
from scratchnet.activations import __all__  # noqa: F401

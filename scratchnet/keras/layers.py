"""`keras.layers` -- an alias of `scratchnet.layers` (read the code there)."""
from scratchnet.layers import *  # noqa: F401,F403
from scratchnet.layers import __all__  # noqa: F401

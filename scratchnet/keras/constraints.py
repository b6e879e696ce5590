"""`keras.constraints` -- an alias of `scratchnet.constraints` (read the code there)."""
from scratchnet.constraints import *  # noqa: F401,F403
from scratchnet.constraints import __all__  # noqa: F401

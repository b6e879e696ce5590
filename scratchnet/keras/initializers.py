"""`keras.initializers` -- an alias of `scratchnet.initializers` (read the code there)."""
from scratchnet.initializers import *  # noqa: F401,F403
from scratchnet.initializers import __all__  # noqa: F401

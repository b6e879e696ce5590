"""`keras.optimizers` -- an alias of `scratchnet.optimizers` (read the code there)."""
from scratchnet.optimizers import *  # noqa: F401,F403
from scratchnet.optimizers import __all__  # noqa: F401

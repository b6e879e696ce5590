"""`keras.regularizers` -- an alias of `scratchnet.regularizers` (read the code there)."""
from scratchnet.regularizers import *  # noqa: F401,F403
from scratchnet.regularizers import __all__  # noqa: F401

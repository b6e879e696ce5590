"""`keras.metrics` -- an alias of `scratchnet.metrics` (read the code there)."""
from scratchnet.metrics import *  # noqa: F401,F403
from scratchnet.metrics import __all__  # noqa: F401

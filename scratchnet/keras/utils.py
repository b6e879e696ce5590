"""`keras.utils` -- an alias of `scratchnet.utils` (read the code there)."""
from scratchnet.utils import *  # noqa: F401,F403
from scratchnet.utils import __all__  # noqa: F401

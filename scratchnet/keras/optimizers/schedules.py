"""`keras.optimizers.schedules` -- an alias of `scratchnet.optimizers.schedules` (read the code
there)."""
from scratchnet.optimizers.schedules import *  # noqa: F401,F403
from scratchnet.optimizers.schedules import __all__  # noqa: F401

"""`keras.optimizers` -- an alias of `scratchnet.optimizers` (read the code there).

`keras.optimizers.schedules` is `scratchnet.optimizers.schedules`, importable both ways:
`tf.keras.optimizers.schedules.ExponentialDecay` and
`from scratchnet.keras.optimizers.schedules import ExponentialDecay`.
"""
from scratchnet.optimizers import *  # noqa: F401,F403
from scratchnet.optimizers import __all__  # noqa: F401
from scratchnet.keras.optimizers import schedules  # noqa: F401,E402  (this package's alias)

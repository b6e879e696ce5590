"""`scratchnet.keras`: the `tf.keras` namespace, module for module.

After `import scratchnet as tf`, `tf.keras.layers.Dense` works; and every import path the
lectures write works with `tensorflow` replaced by `scratchnet`:

    from scratchnet.keras.layers import Dense, Flatten, Conv2D, MaxPooling2D
    from scratchnet.keras.models import Sequential
    from scratchnet.keras import Model, layers, models, datasets
    from scratchnet.keras.utils import to_categorical
    from scratchnet.keras.optimizers import RMSprop
    from scratchnet.keras.callbacks import Callback

Each module here is a thin alias: the code lives in `scratchnet/<module>` (scratchnet/layers,
scratchnet/models, ...), one concept per file, and that is where to read it.
"""
from scratchnet.keras import (activations, backend, callbacks, constraints, datasets,
                              initializers, layers, losses, metrics, models, optimizers,
                              preprocessing, regularizers, saving, utils)
from scratchnet.layers import Input, InputLayer, Layer
from scratchnet.models import Model, Sequential

__all__ = ["Input", "InputLayer", "Layer", "Model", "Sequential", "activations", "backend",
           "callbacks", "constraints", "datasets", "initializers", "layers", "losses",
           "metrics", "models", "optimizers", "preprocessing", "regularizers", "saving", "utils"]

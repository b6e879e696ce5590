"""`scratchnet.keras`: the `tf.keras` namespace, so `tf.keras.layers.Dense` works after
`import scratchnet as tf`, and `from scratchnet import keras` replaces `from tensorflow import keras`."""
from scratchnet import (activations, backend, callbacks, datasets, initializers, layers, losses,
                        metrics, models, optimizers, utils)
from scratchnet.layers import Input
from scratchnet.models import Model, Sequential

__all__ = ["Input", "Model", "Sequential", "activations", "backend", "callbacks", "datasets",
           "initializers", "layers", "losses", "metrics", "models", "optimizers", "utils"]

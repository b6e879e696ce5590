"""Saving and loading (issue 9, in progress): the weights files of Keras, in
`weights_h5.py`."""
from scratchnet.saving.weights_h5 import load_weights, save_weights

__all__ = ["save_weights", "load_weights"]

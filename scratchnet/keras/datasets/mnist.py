"""`keras.datasets.mnist` -- an alias of `scratchnet.datasets.mnist`."""
from scratchnet.datasets.mnist import load_data

__all__ = ["load_data"]

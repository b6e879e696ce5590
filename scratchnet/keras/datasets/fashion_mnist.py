"""`keras.datasets.fashion_mnist` -- an alias of `scratchnet.datasets.fashion_mnist`."""
from scratchnet.datasets.fashion_mnist import load_data

__all__ = ["load_data"]

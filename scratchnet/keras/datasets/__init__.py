"""`keras.datasets` -- `mnist`, `fashion_mnist` (the code: scratchnet/datasets/)."""
from scratchnet.keras.datasets import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]

"""`tf.data` for scratchnet: input pipelines built from small lazy stages.

See scratchnet/data/dataset.py for what a pipeline is and how each stage works.
"""
from scratchnet.data.dataset import (AUTOTUNE, INFINITE_CARDINALITY, UNKNOWN_CARDINALITY,
                                     Dataset)

experimental = type("experimental", (), {
    "AUTOTUNE": AUTOTUNE, "INFINITE_CARDINALITY": INFINITE_CARDINALITY,
    "UNKNOWN_CARDINALITY": UNKNOWN_CARDINALITY,
    "__doc__": "TF 2.0-2.3 spellings: tf.data.experimental.AUTOTUNE & co."})

__all__ = ["AUTOTUNE", "Dataset", "INFINITE_CARDINALITY", "UNKNOWN_CARDINALITY", "experimental"]

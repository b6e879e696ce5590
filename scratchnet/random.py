"""`tf.random.set_seed` (and TF1's `tf.set_random_seed`): seeds scratchnet's generator."""
from scratchnet.backend import set_random_seed as set_seed

__all__ = ["set_seed"]

"""`tf.version.VERSION` (and `tf.__version__`): scratchnet's own version -- not TensorFlow's.
Lecture code prints it to show what it runs on; it says scratchnet, honestly."""
VERSION = "0.1.0"
GIT_VERSION = "unknown"

__all__ = ["VERSION", "GIT_VERSION"]

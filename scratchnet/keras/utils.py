"""`keras.utils` -- an alias of `scratchnet.utils` (read the code there), plus the custom-object
helpers Keras also lists here (the code: scratchnet/saving/serialization.py)."""
from scratchnet.saving.serialization import (custom_object_scope, deserialize_keras_object,
                                             get_custom_objects, register_keras_serializable,
                                             serialize_keras_object)
from scratchnet.utils import *  # noqa: F401,F403
from scratchnet.utils import __all__ as _utils_all

__all__ = _utils_all + ["custom_object_scope", "deserialize_keras_object", "get_custom_objects",
                        "register_keras_serializable", "serialize_keras_object"]

"""`keras.saving` -- save_model / load_model, (de)serialization and custom objects (the code:
scratchnet/saving/)."""
from scratchnet.saving import (CustomObjectScope, custom_object_scope, deserialize_keras_object,
                               get_registered_name, get_registered_object, load_model,
                               register_keras_serializable, save_model, serialize_keras_object)

__all__ = ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
           "get_registered_name", "get_registered_object", "load_model",
           "register_keras_serializable", "save_model", "serialize_keras_object"]

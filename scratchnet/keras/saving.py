"""`keras.saving` -- save_model / load_model, save_weights / load_weights, (de)serialization
and custom objects (the code: scratchnet/saving/)."""
from scratchnet.saving import (CustomObjectScope, custom_object_scope, deserialize_keras_object,
                               get_custom_objects, get_registered_name, get_registered_object,
                               load_model, load_weights, register_keras_serializable,
                               save_model, save_weights, serialize_keras_object)

__all__ = ["CustomObjectScope", "custom_object_scope", "deserialize_keras_object",
           "get_custom_objects", "get_registered_name", "get_registered_object", "load_model",
           "load_weights", "register_keras_serializable", "save_model", "save_weights",
           "serialize_keras_object"]

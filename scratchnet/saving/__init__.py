"""Saving and loading, in the files Keras reads and writes (one format per file):

    serialization.py   objects <-> configs (JSON): get_config / from_config for everything,
                       register_keras_serializable, custom_objects
    weights_h5.py      save_weights / load_weights: '.weights.h5' (Keras 3) and '.h5' (legacy)
    keras_zip.py       model.save('m.keras') / load_model: Keras 3's zip
    legacy_h5.py       model.save('m.h5') / load_model: tf.keras 2's whole-model HDF5 file
    files.py           what makes files safe: atomic writes, checked zips and HDF5 files

`save_model` and `load_model` choose the format by the file name, as Keras does.
"""
import os

from scratchnet.saving.serialization import (CustomObjectScope, custom_object_scope,
                                             deserialize_keras_object, get_custom_objects,
                                             get_registered_name,
                                             get_registered_object,
                                             register_keras_serializable,
                                             serialize_keras_object)
from scratchnet.saving.weights_h5 import load_weights, save_weights


def _format(filepath):
    name = os.fspath(filepath)
    if name.endswith(".keras"):
        return "keras"
    if name.endswith((".h5", ".hdf5")):
        return "h5"
    return None


def save_model(model, filepath, overwrite=True, include_optimizer=True, **kwargs):
    """`model.save(filepath)`: '.keras' (Keras 3's zip) or '.h5' / '.hdf5' (legacy HDF5)."""
    from scratchnet.saving import keras_zip, legacy_h5

    kwargs.pop("save_format", None)            # tf.keras 2's argument: the name decides
    if kwargs:
        raise TypeError(f"save: unknown keyword argument(s) {sorted(kwargs)}")
    fmt = _format(filepath)
    if fmt is None:
        raise ValueError("save: the filename must end in `.keras` (Keras 3's model file) or "
                         f"`.h5` (the legacy HDF5 file), received filepath={filepath!r}")
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"save: {os.fspath(filepath)!r} exists and overwrite=False")
    if getattr(model, "_graph", None) is None and not model.built:
        raise ValueError(f"save: model {model.name!r} has not been built yet: call it on data "
                         "(or fit it) first")
    if fmt == "keras":
        keras_zip.save_model(model, filepath, include_optimizer)
    else:
        legacy_h5.save_model(model, filepath, include_optimizer)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved in `filepath` ('.keras' or '.h5', by scratchnet or by Keras), compiled
    as it was saved (compile=False: not compiled), its weights and optimizer state restored.
    Classes that are not scratchnet's must be given in `custom_objects` or registered with
    `@register_keras_serializable()`; code stored in the file (Lambda layers) is refused."""
    from scratchnet.saving import keras_zip, legacy_h5

    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        raise ValueError(f"load_model: no such file {filepath!r}"
                         + (" (a TensorFlow SavedModel folder? scratchnet reads .keras and "
                            ".h5 files)" if os.path.isdir(filepath) else ""))
    with open(filepath, "rb") as handle:
        magic = handle.read(8)
    if magic.startswith(b"PK"):
        return keras_zip.load_model(filepath, custom_objects, compile, safe_mode)
    if magic.startswith(b"\x89HDF"):
        return legacy_h5.load_model(filepath, custom_objects, compile, safe_mode)
    raise ValueError(f"load_model: {filepath!r} is neither a .keras zip nor an HDF5 file "
                     f"(it starts with {magic!r})")


def clone_model(model):
    """A new model of the same architecture, with freshly initialized weights (Keras's
    `keras.models.clone_model` for Sequential and Functional models): rebuilt from its
    config (not compiled, as in Keras)."""
    from scratchnet.saving.keras_zip import build_model

    return build_model(serialize_keras_object(model), "clone_model", compile=False)


def model_from_json(json_string, custom_objects=None):
    """The model whose architecture `to_json()` wrote, with freshly initialized weights
    (compiled as it was, if it was: Keras's JSON carries the compile config)."""
    import json

    from scratchnet.saving.keras_zip import build_model

    try:
        config = json.loads(json_string)
    except (TypeError, ValueError) as error:
        raise ValueError(f"model_from_json: not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError("model_from_json: the JSON should describe a model (a dict)")
    with custom_object_scope(custom_objects):
        return build_model(config, "model_from_json")


__all__ = ["save_model", "load_model", "model_from_json", "clone_model", "save_weights",
           "load_weights", "get_custom_objects",
           "serialize_keras_object", "deserialize_keras_object", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "custom_object_scope",
           "CustomObjectScope"]

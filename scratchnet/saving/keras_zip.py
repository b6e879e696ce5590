"""`model.save('m.keras')` / `load_model('m.keras')`: Keras 3's model file, read and written
without Keras.

A `.keras` file is a zip archive of three members (unzip it and look: it is all plain text and
HDF5):

    metadata.json      {"keras_version": ..., "date_saved": ...}
    config.json        the architecture and how it was compiled: serialize_keras_object(model)
                       plus "compile_config" (optimizer, loss, metrics), all JSON
    model.weights.h5   the arrays, in the layout of `save_weights('x.weights.h5')`: each
                       layer's under layers/<class>/vars/0, 1, ..., the optimizer's state
                       under optimizer/vars/0, 1, ... (weights_h5.py)

Loading rebuilds the model from config.json (only classes scratchnet knows, or the caller's
custom_objects: nothing from the file is imported or run), compiles it from its
compile_config, and only when every array of model.weights.h5 has been checked against the
rebuilt model are they assigned. The archive is read through files.read_zip, which refuses
path tricks and zip bombs before anything is unpacked; the file is written through
files.write_zip, atomically.
"""
import contextlib
import datetime
import io
import json

from scratchnet.saving import files, weights_h5
from scratchnet.saving.serialization import (custom_object_scope, deserialize_keras_object,
                                             safe_mode_scope, serialize_keras_object)

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.h5"


def model_config(model, include_optimizer=True):
    """config.json's content: the model's serialized config with its compile config."""
    config = serialize_keras_object(model)         # (with its compile_config, if compiled)
    if not include_optimizer:
        config.pop("compile_config", None)
    return config


def weights_bytes(model, include_optimizer=True):
    """model.weights.h5's bytes (an HDF5 file made in memory)."""
    buffer = io.BytesIO()
    with files._h5py().File(buffer, "w") as f:
        weights_h5.write_keras3(f, model, include_optimizer)
    return buffer.getvalue()


def save_model(model, filepath, include_optimizer=True):
    config = model_config(model, include_optimizer)
    metadata = {"keras_version": weights_h5.KERAS_VERSION, "date_saved":
                datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "saved_by": "scratchnet"}
    files.write_zip(filepath, {
        METADATA: json.dumps(metadata).encode(),
        CONFIG: json.dumps(config).encode(),
        WEIGHTS: weights_bytes(model, include_optimizer)})


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    members = files.read_zip(filepath, "load_model", required=(CONFIG, WEIGHTS),
                             allowed=(CONFIG, METADATA, WEIGHTS, "assets/"))
    what = f"load_model: {filepath!r}"
    try:
        config = json.loads(members[CONFIG].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{what}: {CONFIG} is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise ValueError(f"{what}: {CONFIG} should hold a dict, found {type(config).__name__}")
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):
        model = build_model(config, what, compile)
    with files.open_h5(members[WEIGHTS], "load_model", name=f"{filepath} ({WEIGHTS})") as f:
        plan = weights_h5.read_keras3(f, model, filepath)
    weights_h5.apply_plan(plan)
    return model


def load_weights(model, filepath):
    """`model.load_weights('m.keras')`: the arrays of a .keras file into a model built in
    code (as Keras allows): the way back for a model whose class cannot be rebuilt from the
    file's config."""
    members = files.read_zip(filepath, "load_weights", required=(WEIGHTS,),
                             allowed=(CONFIG, METADATA, WEIGHTS, "assets/"))
    with files.open_h5(members[WEIGHTS], "load_weights", name=f"{filepath} ({WEIGHTS})") as f:
        plan = weights_h5.read_keras3(f, model, filepath)
    weights_h5.apply_plan(plan)


def build_model(config, what, compile=True):
    """The model a config.json describes, compiled from its compile config when asked."""
    from scratchnet.models.model import Model

    with naming_the_file(what):
        model = deserialize_keras_object(config, "layers", where=what)
    if not isinstance(model, Model):
        raise ValueError(f"{what}: the file describes a {type(model).__name__}, not a model")
    compile_config = config.get("compile_config")
    if compile and compile_config:
        with naming_the_file(what):
            model.compile_from_config(compile_config)
    return model


@contextlib.contextmanager
def naming_the_file(what):
    """Errors of rebuilding from a saved config (a layer's own ValueError, or a TypeError of
    a damaged config) as one ValueError that starts with `what` (which names the file)."""
    try:
        yield
    except ValueError as error:
        if str(error).startswith(what):
            raise
        raise ValueError(f"{what}: {error}") from None
    except (TypeError, KeyError, IndexError, AttributeError) as error:
        raise ValueError(f"{what}: the saved config cannot be used "
                         f"({type(error).__name__}: {error})") from None

"""`model.save('m.h5')` / `load_model('m.h5')`: the whole-model HDF5 file of tf.keras 2, which
the lectures write (Python ML ch. 14: `model.save('simple_model.h5')`,
`tf.keras.models.load_model('simple_model.h5')`; ch. 15's `cnn_checkpoint.h5`).

One HDF5 file (open it with h5py, or the HDFView app):

    attributes  model_config       the architecture, JSON (Keras's legacy form: the layers
                                   without "module" keys)
                training_config    how it was compiled, JSON (optimizer_config, loss, metrics)
                keras_version, backend
    model_weights/                 the weights in save_weights('x.h5')'s layout: attribute
                                   layer_names, one group per layer with weight_names
    optimizer_weights/             the optimizer's state: attribute weight_names (iteration,
                                   learning_rate, then the slots in Keras's order)

Keras 3 still writes this file but cannot read back one whose metrics are named like 'mse'
("Could not deserialize 'keras.metrics.mse'"); scratchnet reads those, and tf.keras 2's files,
whose configs use the older layer and node formats.
"""
import hashlib
import json

import numpy as np

from scratchnet.saving import files, weights_h5
from scratchnet.saving.keras_zip import build_model, naming_the_file
from scratchnet.saving.serialization import (custom_object_scope, safe_mode_scope,
                                             serialize_keras_object)


def legacy_form(config):
    """Keras's legacy model_config: the model's and its layers' entries without "module",
    "registered_name" and "build_config" (the objects inside a layer's config keep theirs)."""
    registered = config.get("registered_name")
    graph = isinstance((config.get("config") or {}).get("layers"), list)
    dropped = ("module", "registered_name", "compile_config") + (
        ("build_config",) if graph or not registered else ())     # (a subclassed model
    config = {k: v for k, v in config.items() if k not in dropped}  # keeps how to build it)
    if registered and registered != config.get("class_name"):
        config["class_name"] = registered      # 'package>Name', as Keras's legacy files have it
    inner = config.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        config["config"] = {**inner, "layers": [legacy_form(layer) for layer in inner["layers"]]}
    return config


def training_config(model):
    compile_config = model.get_compile_config()
    if compile_config is None:
        return None
    optimizer = compile_config.pop("optimizer")
    compile_config["optimizer_config"] = {"class_name": optimizer["class_name"],
                                          "config": optimizer["config"]}
    return compile_config


def save_model(model, filepath, include_optimizer=True):
    from scratchnet.models.model import Model

    config = serialize_keras_object(model)
    model_config = legacy_form(config)
    if "build_config" in config and not isinstance(config["config"].get("layers"), list):
        # a subclassed model has no layer list to rebuild from: it is built from its input
        # shape (Keras 3.15 leaves it out and then cannot load its own file's weights)
        model_config["build_config"] = config["build_config"]
    model_config = json.dumps(model_config)
    train_config = training_config(model) if include_optimizer else None

    def write(f):
        f.attrs["keras_version"] = weights_h5.KERAS_VERSION
        f.attrs["backend"] = "scratchnet"
        _text_attribute(f, "model_config", model_config)
        if train_config is not None:
            _text_attribute(f, "training_config", json.dumps(train_config))
        weights_h5._write_legacy(f.create_group("model_weights"), model, Model)
        if include_optimizer and model.optimizer is not None:
            write_optimizer(f, model)

    weights_h5.write_h5(filepath, write)


def write_optimizer(f, model):
    """optimizer_weights: the optimizer's arrays under Keras's names, in Keras's order."""
    optimizer = model.optimizer
    arrays = optimizer.state_arrays(model.trainable_weights)
    names = [f"{optimizer.name}/iteration"]
    if optimizer._has_lr_variable():
        names.append(f"{optimizer.name}/learning_rate")
    paths = {id(w): p.replace("/", "_") for w, p in zip(model.weights, model.weight_paths)}
    if len(arrays) > len(names):
        names += [f"{optimizer.name}/{paths[id(var)]}_{slot}" for var, slot in
                  optimizer._keras_order(model.trainable_weights)]
    group = f.create_group("optimizer_weights")
    group.attrs["weight_names"] = np.array([n.encode() for n in names])
    for name, array in zip(names, arrays):
        weights_h5._dataset(group, name, array)


def _text_attribute(f, name, text):
    """A JSON attribute, and beside it its SHA-256 (`<name>_sha256`, which Keras ignores):
    HDF5 checksums no attribute, so without it a damaged character of a layer's name would
    load as another model."""
    f.attrs[name] = text
    f.attrs[f"{name}_sha256"] = hashlib.sha256(text.encode()).hexdigest()


def _checked_text(f, name, what):
    """The attribute's text, checked against its SHA-256 when the file has one."""
    text = _attribute(f, name)
    expected = _attribute(f, f"{name}_sha256")
    if text is not None and expected is not None and (
            hashlib.sha256(text.encode()).hexdigest() != expected):
        raise ValueError(f"{what}: the {name} attribute is damaged (its SHA-256 does not match "
                         "the one saved with it)")
    return text


def _attribute(f, name):
    """A string attribute, also when Keras split it into name0, name1, ... (too big for one
    HDF5 header)."""
    value = f.attrs.get(name)
    if value is None and f"{name}0" in f.attrs:
        parts, i = [], 0
        while f"{name}{i}" in f.attrs:
            parts.append(f.attrs[f"{name}{i}"])
            i += 1
        value = b"".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return value


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    what = f"load_model: {filepath!r}"
    # The file is read once; its structure is checked when it is first opened, and the
    # arrays are read from the same bytes after the model exists (the model is built
    # between the two, outside h5py, so that its own errors keep their messages).
    with open(filepath, "rb") as handle:
        data = handle.read()
    with files.open_h5(data, "load_model", name=filepath) as f:          # 1. the configs
        text = _checked_text(f, "model_config", what)
        train_text = _checked_text(f, "training_config", what) if compile else None
    if text is None:
        raise ValueError(f"{what}: no model_config attribute: this HDF5 file holds "
                         "weights only; build the model and call load_weights instead")
    config = _json(text, what, "model_config")
    with custom_object_scope(custom_objects), safe_mode_scope(safe_mode):   # 2. the model
        model = build_model(config, what, compile=False)
        if train_text is not None:
            with naming_the_file(what):
                model.compile_from_config(_compile_config(_json(train_text, what,
                                                                "training_config")))
    with files.open_h5(data, "load_model", name=filepath, check=False) as f:  # 3. the arrays
        if "model_weights" not in f:
            raise ValueError(f"{what}: no model_weights group")
        plan = weights_h5.read_legacy(f["model_weights"], model, filepath)
        state = None
        if model.optimizer is not None and "optimizer_weights" in f:
            state = _optimizer_plan(f["optimizer_weights"], model, filepath)
    weights_h5.apply_plan(plan)
    if state is not None:
        state()
    return model


def _json(text, what, name):
    try:
        value = json.loads(text)
    except ValueError as error:
        raise ValueError(f"{what}: the {name} attribute is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{what}: the {name} attribute should hold a dict")
    return value


def _compile_config(training):
    """training_config -> compile_config: the optimizer under its Keras 3 key, and the
    metrics of tf.keras 2 files (MeanMetricWrapper configs, nested per output) by name."""
    config = dict(training)
    config["optimizer"] = config.pop("optimizer_config", None)

    def metric(m):
        if isinstance(m, dict) and m.get("class_name") == "MeanMetricWrapper":
            return (m.get("config") or {}).get("name")
        if isinstance(m, list):
            return [metric(x) for x in m]
        return m

    metrics = metric(config.get("metrics"))
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]                  # tf.keras 2: one list per output
    config["metrics"] = metrics
    return config


def _optimizer_plan(group, model, filepath):
    """The assignment of the saved optimizer state, or None (with a warning, as Keras) when
    it does not fit this optimizer."""
    import warnings

    names = [n.decode() if isinstance(n, bytes) else str(n)
             for n in group.attrs.get("weight_names", [])]
    try:
        arrays = []
        for name in names:
            dataset = group.get(name)
            if dataset is None or not hasattr(dataset, "shape"):
                raise ValueError(f"optimizer array {name!r} is missing")
            arrays.append(np.asarray(dataset[()]))
        return model.optimizer.state_plan(arrays, model.trainable_weights,
                                          f"load_model: {filepath!r}")
    except ValueError as error:
        warnings.warn(f"load_model: {filepath!r}: the saved optimizer state was not restored "
                      f"({error}); the model starts with a fresh optimizer", stacklevel=3)
        return None

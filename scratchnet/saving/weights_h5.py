"""`model.save_weights(path)` / `model.load_weights(path)` in the two HDF5 layouts Keras uses.

Lectures: Python ML ch. 14 (`model.save_weights('simple_weight.h5')`,
`model.load_weights('simple_weight.h5')`), Hands-On CV ch. 2 (`save_weights`).

The files are plain HDF5 (read and written with h5py): groups, attributes and arrays, nothing
that runs code (no pickle). Two layouts, chosen by the file name as Keras does:

* `x.weights.h5` -- Keras 3's layout. Every layer of the model, in `model.layers` order, is a
  group named after its class in snake_case, numbered when the class repeats (`dense`,
  `dense_1`, ...: never the layer's own name, which differs between two builds of the same
  model); its weights are the arrays `vars/0`, `vars/1`, ... in `layer.weights` order; a
  nested model's layers sit under `<its group>/layers/`:

      layers/dense/vars/0               (3, 4)   the first Dense's kernel
      layers/dense/vars/1               (4,)     its bias
      layers/batch_normalization/vars/0 ... 3    gamma, beta, moving_mean, moving_variance
      layers/dense_1/vars/0, 1                   the second Dense

  (A Functional model lists its InputLayers too, as Keras 3 does; they hold no arrays.)

* `x.h5` (or `.hdf5`) -- the legacy layout of tf.keras 2, which the lectures' file names
  ask for (Keras 3 refuses to write it; scratchnet writes and reads it): the root's attribute
  `layer_names` lists the layers, each layer's group has an attribute `weight_names`, and the
  arrays sit at those names (`d1/seq/d1/kernel`). Layers are matched in order, those with
  weights only, as Keras's legacy loader does.

Safety: a save writes a temporary file next to the target, flushes and fsyncs it, then
renames it over the target, so a crash leaves the old file or the new one, never half of one;
every array carries HDF5's Fletcher-32 checksum, so damaged numbers are caught on loading
(scripts/fuzz_saving.py: of 8,000 randomly damaged .weights.h5 files, 4 still loaded other
numbers -- arrays read as zeros through a damaged chunk address, and all-zero bytes pass
Fletcher-32 -- the rest loaded exactly or were refused; files.py says what else is checked).
A load reads and checks every array (present, right shape) before it assigns any: a file
that does not fit leaves the model exactly as it was, with one ValueError that names the
file, the layer and what was expected and found. Sequential, Functional (also nested) and
subclassed models (Keras's layout by attribute name: `_keras3_entries`) are handled.
"""
import os

import numpy as np

from scratchnet.layers.base import snake_case
from scratchnet.saving.files import _h5py, open_h5, write_atomically


KERAS_VERSION = "3.15.1"        # the Keras release whose layouts these files follow


def _check_model(model, what):
    from scratchnet.models.model import Model

    if getattr(model, "_graph", None) is None and not (
            model.built and all(layer.built for layer in model.layers)):
        raise ValueError(f"{what}: model {model.name!r} has not been built yet, so it has no "
                         "weights: call it on data (or fit it, or give it an Input) first")
    return Model


def layout_of(filepath, what):
    """'keras3' for '*.weights.h5', 'legacy' for '*.h5' / '*.hdf5' (Keras's rule by name)."""
    name = os.fspath(filepath)
    if name.endswith(".weights.h5"):
        return "keras3"
    if name.endswith((".h5", ".hdf5")):
        return "legacy"
    raise ValueError(f"{what}: the filename must end in `.weights.h5` (Keras 3's weights file) "
                     f"or `.h5` (the legacy HDF5 file), received filepath={name!r}")


# ---- the Keras 3 layout ------------------------------------------------------------------
def _keras3_entries(model, prefix, Model, seen=None):
    """[(group path, layer)] for every layer below `model`, where Keras 3 puts them.

    Sequential and Functional: `layers/<class in snake_case>[_n]` in `model.layers` order.
    A subclassed model: Keras walks its attributes in sorted order (names with a leading
    underscore last) and its `layers` list among them, saving each layer at the first place
    it meets it: `conv1/`, `dense1/` by attribute name, but a layer whose attribute sorts
    after "layers" (LeNet-5's `max_pool`) under `layers/max_pooling2d`. Lists and dicts of
    layers are saved like the `layers` list, by class name. A nested model's layers sit
    under its own path."""
    seen = set() if seen is None else seen
    found = []

    def add(path, layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        found.append((path, layer))
        if isinstance(layer, Model):
            found.extend(_keras3_entries(layer, path + "/", Model, seen))

    def add_container(path, items):
        used = {}
        for layer in items:
            key = snake_case(type(layer).__name__)
            used[key] = used.get(key, -1) + 1
            add(f"{path}/{key}" + (f"_{used[key]}" if used[key] else ""), layer)

    if getattr(model, "_graph", None) is not None:                # Sequential, Functional
        add_container(f"{prefix}layers", model.layers)
        return found
    from scratchnet.layers.base import Layer

    attributes = {k: v for k, v in vars(model).items() if not k.startswith("_")}
    attributes["layers"] = model.layers
    for name in sorted(attributes):
        value = attributes[name]
        if isinstance(value, Layer):
            add(f"{prefix}{name}", value)
        elif isinstance(value, (list, tuple, dict)):
            items = list(value.values()) if isinstance(value, dict) else list(value)
            add_container(f"{prefix}{name}", [v for v in items if isinstance(v, Layer)])
    return found


def _own_weights(layer, Model):
    """The arrays a layer stores itself (a nested model's belong to its layers)."""
    return [] if isinstance(layer, Model) else layer.weights


# ---- writing ------------------------------------------------------------------------------
def save_weights(model, filepath, overwrite=True):
    what = "save_weights"
    Model = _check_model(model, what)
    layout = layout_of(filepath, what)
    filepath = os.fspath(filepath)
    if not overwrite and os.path.exists(filepath):
        raise ValueError(f"{what}: {filepath!r} exists and overwrite=False")
    def write(f):
        if layout == "keras3":
            write_keras3(f, model)
        else:
            _write_legacy(f, model, Model)

    write_h5(filepath, write)


def write_keras3(f, model, include_optimizer=True):
    """The model's arrays into the open HDF5 file `f`, in Keras 3's layout: every layer's
    under `layers/...`, then the optimizer's state under `optimizer/vars` (compiled models:
    the iteration count, the learning rate, the slots in Keras's order), as Keras writes it
    in `.weights.h5` files and inside `.keras` archives."""
    from scratchnet.models.model import Model

    f.create_group("vars").attrs["name"] = model.name
    for path, layer in _keras3_entries(model, "", Model):
        group = f.require_group(path).require_group("vars")
        group.attrs["name"] = layer.name
        for i, w in enumerate(_own_weights(layer, Model)):
            _dataset(group, str(i), w)
    optimizer = getattr(model, "optimizer", None) if include_optimizer else None
    if optimizer is not None:
        group = f.require_group("optimizer").require_group("vars")
        group.attrs["name"] = optimizer.name
        for i, a in enumerate(optimizer.state_arrays(model.trainable_weights)):
            _dataset(group, str(i), a)


def _write_legacy(f, model, Model):
    layers = _legacy_layers(model, Model)
    paths = {id(w): path for w, path in zip(model.weights, model.weight_paths)}
    f.attrs["layer_names"] = np.array([layer.name.encode() for layer, _ in layers])
    f.attrs["backend"] = b"scratchnet"
    f.attrs["keras_version"] = KERAS_VERSION.encode()
    for layer, weights in layers:
        group = f.create_group(layer.name)
        names = [paths[id(w)] for w in weights]        # Keras's variable paths
        group.attrs["weight_names"] = np.array([n.encode() for n in names])
        for name, w in zip(names, weights):
            _dataset(group, name, w)


def _legacy_layers(model, Model):
    """[(layer, weights)] in Keras's legacy order: the model's layers (a nested model is one
    entry holding all its weights, as Keras 3's legacy writer stores it)."""
    return [(layer, layer.trainable_weights + layer.non_trainable_weights)
            for layer in model.layers]


def _dataset(group, name, array):
    """Write one array, with HDF5's Fletcher-32 checksum where HDF5 allows one (chunked,
    non-empty arrays): a flipped bit in the stored numbers is then an error on loading, not a
    silently different weight. (Keras and h5py read such files as any other.) The whole array
    is one chunk (HDF5 allows chunks below 4 GiB): h5py's automatic small chunks made saving
    and loading the Python-ML CNN's 12.8 MB kernel ~1.3-1.9x slower."""
    array = np.asarray(array)
    checksum = array.ndim > 0 and array.size > 0
    chunks = array.shape if checksum and array.nbytes < 2**32 - 1 else None
    group.create_dataset(name, data=array, fletcher32=checksum,
                         chunks=chunks if checksum else None)


def write_h5(filepath, write):
    """A new HDF5 file at `filepath`, filled by `write(open file)`, written atomically."""
    def write_file(tmp):
        with _h5py().File(tmp, "w") as f:
            write(f)

    write_atomically(filepath, write_file)


# ---- reading ------------------------------------------------------------------------------
def load_weights(model, filepath):
    what = "load_weights"
    Model = _check_model(model, what)
    filepath = os.fspath(filepath)
    if filepath.endswith(".keras"):              # the weights inside a whole-model zip
        from scratchnet.saving import keras_zip

        return keras_zip.load_weights(model, filepath)
    layout = layout_of(filepath, what)
    # files.open_h5 checks the file's structure first (no links out of it, no external
    # data) and turns whatever h5py raises on a damaged file into one ValueError naming it
    with open_h5(filepath, what) as f:
        if layout == "legacy" and "layer_names" not in f.attrs and "model_weights" in f:
            f = f["model_weights"]              # a whole-model .h5 file (model.save), as Keras
        if layout == "legacy" and "layer_names" not in f.attrs and "layers" in f:
            layout = "keras3"                   # a Keras 3 file under a plain .h5 name
        if layout == "keras3":
            plan = read_keras3(f, model, filepath)
        else:
            plan = _read_legacy(f, model, Model, filepath)
    apply_plan(plan)


def apply_plan(plan):
    """Assign what a read checked: (array, value) pairs, and functions (optimizer state)."""
    for item in plan:
        if callable(item):
            item()
        else:
            target, value = item
            target[...] = value


def _fail(filepath, message):
    raise ValueError(f"load_weights: {filepath!r}: {message}")


def _checked(filepath, where, dataset, target):
    h5py = _h5py()
    if not isinstance(dataset, h5py.Dataset):
        _fail(filepath, f"{where} is not an array")
    if tuple(dataset.shape) != target.shape:
        _fail(filepath, f"{where} has shape {tuple(dataset.shape)}, the model expects "
                        f"{target.shape}")
    value = np.asarray(dataset[()])
    if not np.issubdtype(value.dtype, np.number):
        _fail(filepath, f"{where} holds {value.dtype} values, expected numbers")
    return value.astype(target.dtype, copy=False)


def read_keras3(f, model, filepath):
    """Check every array of Keras 3's layout in `f` against `model`; return the plan that
    assigns them (nothing is assigned here). The optimizer's state is read when the file has
    it and the model is compiled."""
    from scratchnet.models.model import Model

    plan = []
    for path, layer in _keras3_entries(model, "", Model):
        weights = _own_weights(layer, Model)
        group = f.get(f"{path}/vars")
        if group is None:
            if weights:
                _fail(filepath, f"no weights for layer {layer.name!r} "
                                f"({type(layer).__name__}) at {path}/vars")
            continue
        stored = sorted(group.keys(), key=lambda k: int(k) if k.isdigit() else -1)
        if len(stored) != len(weights):
            _fail(filepath, f"layer {layer.name!r} ({type(layer).__name__}) at {path} has "
                            f"{len(stored)} arrays, the model's layer has {len(weights)}")
        for i, w in enumerate(weights):
            plan.append((w, _checked(filepath, f"{path}/vars/{i} (layer {layer.name!r})",
                                     group.get(str(i)), w)))
    optimizer = getattr(model, "optimizer", None)
    group = f.get("optimizer/vars")
    if optimizer is not None and group is not None:
        arrays = []
        for i in range(len(group.keys())):
            where = f"optimizer/vars/{i}"
            dataset = group.get(str(i))
            if not isinstance(dataset, _h5py().Dataset):
                _fail(filepath, f"{where} is missing or not an array")
            value = np.asarray(dataset[()])
            if not np.issubdtype(value.dtype, np.number):
                _fail(filepath, f"{where} holds {value.dtype} values, expected numbers")
            arrays.append(value)
        plan.append(optimizer.state_plan(arrays, model.trainable_weights,
                                         f"load_weights: {filepath!r}"))
    return plan


def read_legacy(group, model, filepath):
    """Check the legacy layout's arrays in `group` (a file's root, or a whole-model file's
    model_weights) against `model`; return the plan that assigns them."""
    from scratchnet.models.model import Model

    return _read_legacy(group, model, Model, filepath)


def _read_legacy(f, model, Model, filepath):
    if "layer_names" not in f.attrs:
        _fail(filepath, "no `layer_names` attribute: not a Keras HDF5 weights file")
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in f.attrs["layer_names"]]
    stored = []
    for name in names:
        group = f.get(name)
        if group is None:
            _fail(filepath, f"layer {name!r} is listed but has no group")
        weight_names = [n.decode() if isinstance(n, bytes) else str(n)
                        for n in group.attrs.get("weight_names", [])]
        if weight_names:
            stored.append((name, group, weight_names))
    layers = [(layer, weights) for layer, weights in _legacy_layers(model, Model) if weights]
    if len(stored) != len(layers):
        _fail(filepath, f"it holds weights for {len(stored)} layers "
                        f"{[name for name, _, _ in stored]}, the model has {len(layers)} layers "
                        f"with weights {[layer.name for layer, _ in layers]}")
    plan = []
    for (name, group, weight_names), (layer, weights) in zip(stored, layers):
        if len(weight_names) != len(weights):
            _fail(filepath, f"layer {name!r} holds {len(weight_names)} arrays, the model's "
                            f"layer {layer.name!r} has {len(weights)}")
        for weight_name, w in zip(weight_names, weights):
            plan.append((w, _checked(filepath, f"{name}/{weight_name}",
                                     group.get(weight_name), w)))
    return plan

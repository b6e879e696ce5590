"""Objects <-> configs: how a model becomes JSON and JSON becomes a model again, as in Keras 3
(`keras/src/saving/serialization_lib.py`).

Every Keras object that can be saved -- layer, model, initializer, regularizer, constraint,
optimizer, learning-rate schedule, loss, metric -- describes itself with `get_config()`, a dict
of plain values (the arguments that rebuild it), and is rebuilt by `cls.from_config(config)`
(by default `cls(**config)`). A saved file stores each object as

    {"module": "keras.layers", "class_name": "Dense", "config": {...}, "registered_name": None}

with the objects inside its config (a Dense's kernel_initializer, ...) stored the same way, so
`serialize_keras_object` and `deserialize_keras_object` are two short recursions. Loading
looks the class up by name in scratchnet (the `module` says which family: keras.layers,
keras.initializers, ...), never imports a module the file names and never runs code from the
file: an unknown class is an error unless the caller passes it in `custom_objects=` or
registered it with `@register_keras_serializable()`. Configs written by Keras hold options
scratchnet does not implement (Dense's `quantization_config`, BatchNormalization's `renorm`,
...): at their inert default they are dropped; set to anything else they are refused by name
(`check_keras_only`), never silently ignored.
"""
import contextlib
import inspect
import threading

import numpy as np

# Which family a config's "module" names, and the module Keras writes for each family.
_FAMILIES = ("layers", "initializers", "regularizers", "constraints", "optimizers",
             "schedules", "losses", "metrics")
_KERAS_MODULE = {"layers": "keras.layers", "initializers": "keras.initializers",
                 "regularizers": "keras.regularizers", "constraints": "keras.constraints",
                 "optimizers": "keras.optimizers", "schedules": "keras.optimizers.schedules",
                 "losses": "keras.losses", "metrics": "keras.metrics"}

# Options of Keras configs that scratchnet does not implement, with the value that means "not
# used". A config that sets one of them to anything else is refused (see check_keras_only).
KERAS_ONLY_DEFAULTS = {
    "quantization_config": None, "lora_rank": None, "lora_alpha": None, "groups": 1,
    "data_format": "channels_last", "negative_slope": 0.0, "threshold": 0.0,
    "synchronized": False, "renorm": False, "renorm_clipping": None, "renorm_momentum": 0.99,
    "sparse": False, "ragged": False, "optional": False, "autocast": True,
    "input_axes": None, "output_axes": None,
    "weight_decay": None, "use_ema": False, "ema_momentum": 0.99,
    "ema_overwrite_frequency": None, "loss_scale_factor": None,
    "gradient_accumulation_steps": None, "reduction": "sum_over_batch_size",
    "ignore_class": None, "label_smoothing": 0.0, "axis": -1,
}

# ------------------------------------------------------------------ custom objects
_GLOBAL_CUSTOM_OBJECTS = {}       # registered name -> class or function
_GLOBAL_CUSTOM_NAMES = {}         # class or function -> registered name
_scope = threading.local()        # custom_object_scope / safe_mode of the current load


def register_keras_serializable(package="Custom", name=None):
    """Decorator: make a user class (or function) loadable by name, as Keras's
    `keras.saving.register_keras_serializable`. It is saved as "package>name" and found again
    by that name when a file is loaded (no custom_objects= needed)."""
    def decorator(obj):
        registered = f"{package}>{name or obj.__name__}"
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"register_keras_serializable: {obj.__name__} cannot be "
                             "serialized: it has no get_config()")
        _GLOBAL_CUSTOM_OBJECTS[registered] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = registered
        return obj
    return decorator


def get_custom_objects():
    """The global {name: class or function} table that loading consults (Keras's): entries
    added by @register_keras_serializable(), or by hand (`get_custom_objects()['X'] = X`)."""
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_name(obj):
    """"package>name" for a registered object, else its own name (Keras's function)."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", None))


def get_registered_object(name, custom_objects=None, module_objects=None):
    for table in (custom_objects or {}, _current_custom_objects(), _GLOBAL_CUSTOM_OBJECTS,
                  module_objects or {}):
        if name in table:
            return table[name]
    return None


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Within the block, names in `custom_objects` ({name: class or function}) resolve while
    loading, as with Keras's `keras.saving.custom_object_scope`."""
    stack = _scope.__dict__.setdefault("custom", [])
    stack.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        stack.pop()


CustomObjectScope = custom_object_scope


def _current_custom_objects():
    found = {}
    for table in getattr(_scope, "custom", []):
        found.update(table)
    return found


@contextlib.contextmanager
def safe_mode_scope(safe_mode):
    previous = getattr(_scope, "safe_mode", True)
    _scope.safe_mode = bool(safe_mode)
    try:
        yield
    finally:
        _scope.safe_mode = previous


def in_safe_mode():
    return getattr(_scope, "safe_mode", True)


# ------------------------------------------------------------------ the families
def _family_objects(family):
    """{class or function name: object} that a config of `family` may name."""
    import scratchnet.layers as layers
    from scratchnet import (constraints, initializers, losses, metrics, models, optimizers,
                            regularizers)
    from scratchnet.optimizers import schedules

    module = {"layers": layers, "initializers": initializers, "regularizers": regularizers,
              "constraints": constraints, "optimizers": optimizers, "schedules": schedules,
              "losses": losses, "metrics": metrics}[family]
    found = {name: getattr(module, name) for name in getattr(module, "__all__", ())
             if inspect.isclass(getattr(module, name))}
    if family == "layers":          # a model inside a model is a layer
        found.update(Sequential=models.Sequential, Functional=models.Functional,
                     Model=models.Functional)
    return found


def family_of(obj):
    """Which family (a key of _KERAS_MODULE) an object belongs to."""
    from scratchnet import constraints, initializers, losses, metrics, optimizers, regularizers
    from scratchnet.layers.base import Layer
    from scratchnet.optimizers import schedules

    for family, base in (("layers", Layer), ("initializers", initializers.Initializer),
                         ("regularizers", regularizers.Regularizer),
                         ("constraints", constraints.Constraint),
                         ("optimizers", optimizers.Optimizer),
                         ("schedules", schedules.LearningRateSchedule),
                         ("losses", losses.Loss), ("metrics", metrics.Metric)):
        if isinstance(obj, base):
            return family
    return None


def _family_of_module(module):
    """'keras.layers' -> 'layers', 'keras.src.models.functional' -> 'layers', ..."""
    if not isinstance(module, str):
        return None
    if "schedules" in module:
        return "schedules"
    if module in ("keras", "keras.models") or ".models" in module:
        return "layers"
    for family in _FAMILIES:
        if module.split(".")[-1] == family or f".{family}" in module:
            return family
    return None


# ------------------------------------------------------------------ serializing
def serialize_keras_object(obj):
    """A JSON-ready description of `obj` (None, numbers, strings, lists and dicts stay as
    they are; NumPy scalars and arrays become plain numbers and lists)."""
    from scratchnet.activations import ActivationFunction

    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(x) for x in obj]
    if isinstance(obj, dict):
        return {str(k): serialize_keras_object(v) for k, v in obj.items()}
    if isinstance(obj, ActivationFunction):
        return obj.name
    if isinstance(obj, np.dtype):
        return obj.name
    registered = _GLOBAL_CUSTOM_NAMES.get(type(obj))
    if hasattr(obj, "get_config"):
        family = family_of(obj)
        config = {"module": _module_for(obj, family, registered),
                  "class_name": type(obj).__name__,
                  "config": serialize_keras_object(obj.get_config()),
                  "registered_name": registered}
        build = getattr(obj, "get_build_config", None)
        if family == "layers" and build is not None and build() is not None:
            config["build_config"] = serialize_keras_object(build())
        compiled = getattr(obj, "get_compile_config", None)
        if compiled is not None and compiled() is not None:      # a compiled model
            config["compile_config"] = serialize_keras_object(compiled())
        return config
    if callable(obj):                     # a function: by its (registered) name
        name = _GLOBAL_CUSTOM_NAMES.get(obj) or getattr(obj, "__name__", None)
        if name and name != "<lambda>":
            return name
    raise TypeError(f"Cannot serialize {obj!r}: it has no get_config() (define one, and "
                    "register the class with @register_keras_serializable())")


def _module_for(obj, family, registered):
    builtin = family is not None and _family_objects(family).get(type(obj).__name__) is type(obj)
    if registered is not None or not builtin:
        return type(obj).__module__
    if family == "layers" and type(obj).__name__ in ("Sequential", "Functional", "Model"):
        return "keras" if type(obj).__name__ == "Sequential" else "keras.src.models.functional"
    return _KERAS_MODULE[family]


def dtype_config(dtype):
    """A layer's dtype as Keras 3 writes it: a DTypePolicy."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype},
            "registered_name": None}


def dtype_from_config(value, where):
    """'float32' from 'float32' or from Keras's DTypePolicy dict; mixed precision refused."""
    if isinstance(value, dict):
        name = (value.get("config") or {}).get("name")
    else:
        name = value
    if name is None:
        return None
    if name not in ("float32", "float64"):
        raise ValueError(f"{where}: dtype policy {name!r} is not supported by scratchnet "
                         "(float32 or float64 only; no mixed precision)")
    return name


# ------------------------------------------------------------------ deserializing
def deserialize_keras_object(config, family, custom_objects=None, where=None):
    """The object a config (a dict as written by `serialize_keras_object`) describes; the
    class is looked up in `family` first (layers, initializers, ...). A bare name is
    resolved here only when it is a custom or registered object (else None: each family's
    own get() knows its names, such as 'glorot_uniform')."""
    where = where or f"deserialize ({family})"
    custom_objects = dict(custom_objects or {})
    if config is None:
        return None
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        if found is not None:
            return found() if inspect.isclass(found) else found
        return None           # the family's own get() resolves its names
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"{where}: expected a config dict with 'class_name' and 'config', "
                         f"received {config!r}")
    class_name = config["class_name"]
    if class_name in ("__lambda__", "function", "__bytes__") or _is_lambda_layer(config):
        _refuse_code(config, where)
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(f"{where}: the 'config' of {class_name!r} must be a dict, "
                         f"received {inner!r}")
    cls = _find_class(config, family, custom_objects, where)
    if hasattr(cls, "from_config"):
        obj = cls.from_config(dict(inner)) if not _takes_custom(cls) else cls.from_config(
            dict(inner), custom_objects=custom_objects)
    else:
        obj = cls(**inner)
    build = config.get("build_config")
    if build is not None and hasattr(obj, "build_from_config"):
        obj.build_from_config(build)
    return obj


def _takes_custom(cls):
    try:
        return "custom_objects" in inspect.signature(cls.from_config).parameters
    except (TypeError, ValueError):
        return False


def _is_lambda_layer(config):
    return config.get("class_name") == "Lambda"


def _refuse_code(config, where):
    if in_safe_mode():
        raise ValueError(
            f"{where}: the file holds Python code ({config.get('class_name')!r}: a Lambda "
            "layer or a serialized function). Loading it would run code from the file, which "
            "scratchnet refuses (as Keras does in its default safe_mode=True). Only if you "
            "trust the file's author, pass safe_mode=False.")
    raise ValueError(
        f"{where}: the file holds Python code ({config.get('class_name')!r}); even with "
        "safe_mode=False scratchnet cannot use it: its layers need a forward AND a backward, "
        "and a Lambda's code has no backward here. Rebuild that part as a custom Layer.")


def _find_class(config, family, custom_objects, where):
    class_name = config["class_name"]
    registered = config.get("registered_name")
    for name in (registered, class_name):
        if isinstance(name, str):
            found = get_registered_object(name, custom_objects)
            if found is not None:
                return found
    families = [f for f in (_family_of_module(config.get("module")), family) if f]
    for fam in families + [f for f in _FAMILIES if f not in families]:
        found = _family_objects(fam).get(class_name)
        if found is not None:
            return found
    raise ValueError(
        f"{where}: unknown class {class_name!r} (module {config.get('module')!r}). "
        "scratchnet does not have it; if it is your own class, pass it as "
        f"custom_objects={{'{class_name}': {class_name}}} or decorate it with "
        "@scratchnet.keras.saving.register_keras_serializable()")


def check_keras_only(owner, config, accepted):
    """Drop the Keras-only options of `config` that sit at their inert default (see
    KERAS_ONLY_DEFAULTS); refuse any other option that `accepted` (the constructor's argument
    names) does not take. Returns the cleaned config."""
    cleaned = {}
    for key, value in config.items():
        if key in accepted:
            cleaned[key] = value
        elif key in KERAS_ONLY_DEFAULTS and _inert(value, KERAS_ONLY_DEFAULTS[key]):
            continue
        elif key in KERAS_ONLY_DEFAULTS:
            raise ValueError(f"{owner}: the config sets {key}={value!r}, a Keras option "
                             f"scratchnet does not implement (only {key}="
                             f"{KERAS_ONLY_DEFAULTS[key]!r} is supported)")
        else:
            raise ValueError(f"{owner}: unknown config key {key!r} (value {value!r}); "
                             f"expected some of {sorted(accepted)}")
    return cleaned


def from_config_default(cls, config, extra=()):
    """cls(**config), after dropping the Keras-only options at their inert defaults (and
    refusing the others with a clear error). `extra`: more argument names cls takes through
    **kwargs."""
    owner = f"{cls.__name__}.from_config"
    if not isinstance(config, dict):
        raise ValueError(f"{owner}: expected a config dict, received {config!r}")
    config = dict(config)
    if "dtype" in config and "dtype" not in accepted_arguments(cls):
        dtype_from_config(config.pop("dtype"), owner)        # checked, then not needed
    return cls(**check_keras_only(owner, config, accepted_arguments(cls) | set(extra)))


def _inert(value, default):
    if isinstance(value, dict) and default is None:       # e.g. {'class_name': None}
        return False
    return value == default or (default is False and value is None)


def accepted_arguments(cls):
    """The keyword names cls(...) takes, through its __init__ chain up to Layer's."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        names.update(n for n, p in params.items()
                     if n != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return names


__all__ = ["serialize_keras_object", "deserialize_keras_object", "register_keras_serializable",
           "get_registered_name", "get_registered_object", "get_custom_objects",
           "custom_object_scope",
           "CustomObjectScope", "check_keras_only"]

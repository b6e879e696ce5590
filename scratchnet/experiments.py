"""The two comparison experiments of Hands-On Computer Vision with TensorFlow 2, ch. 3.

Lecture: Hands-On CV ch. 3 (notes 001_073b64b9829f1c14.txt), "Improving the training
process": LeNet-5 on MNIST trained once per optimizer, and once per regularization method;
the book plots the training and validation loss and accuracy of every run in one figure.
Behind `scratchnet compare optimizers|regularization` (scratchnet/cli.py).

The book's two notebooks (Chapter03/ch3_nb3_experiment_with_optimizers.ipynb and
ch3_nb4_apply_regularization_methods_to_cnns.ipynb), and what `--full` reproduces:

    optimizers      LeNet-5 (Conv2D(6, 5x5, 'same', relu) / MaxPooling2D(2) / Conv2D(16, 5x5,
                    relu) / MaxPooling2D(2) / Flatten / Dense(120, relu) / Dense(84, relu) /
                    Dense(10, softmax)), sparse_categorical_crossentropy, metrics=['accuracy'];
                    sgd: SGD()  momentum: SGD(momentum=0.9)  nag: SGD(momentum=0.9,
                    nesterov=True)  adagrad: Adagrad()  adadelta: Adadelta()
                    rmsprop: RMSprop()  adam: Adam()     (all at Keras's default rates)
                    60,000 training images, the 10,000 test images as validation_data,
                    batch_size=32, epochs=20, seeds reset to 42 before each model.
    regularization  the same LeNet-5 with the activations as separate Activation('relu')
                    layers so that BatchNormalization() can sit between each Conv2D/Dense(120)
                    and its ReLU, Dropout(0.25) after each pooling and after Dense(120)'s ReLU,
                    kernel_regularizer on both Conv2D, Dense(120) and Dense(84);
                    optimizer='sgd', only the first 200 training images (to make it overfit),
                    the 10,000 test images as validation_data, batch_size=32, epochs=300.
                    none | l1: regularizers.l1(0.01) | l2: regularizers.l2(0.01) |
                    dropout | bn (BatchNormalization) | early_stopping: the 'none' model with
                    callbacks.EarlyStopping(patience=3, monitor='val_loss'), the callback
                    the chapter's first LeNet-5 training uses (the regularization notebook
                    has no early-stopping run of its own). The notebook's three combined
                    configurations are left out: as published they all build the same model
                    (use_dropout=False, use_batchnorm=True, l1), i.e. 'l1+bn' three times.

The default (short) setting keeps each experiment to a few minutes on 2 CPU cores: the
first 6,000 training / 1,000 test images and 10 epochs for the optimizers; the book's 200
training images, 1,000 test images and 100 epochs for the regularizations (long enough for
the unregularized model's validation loss to turn up, so that early stopping stops: with
tf.keras and seed 42 it bottoms out at epoch 65). Every number can be overridden
(--samples, --val-samples, --epochs, --batch-size, --seed).

Each model is built by ONE builder, `lenet(K, ...)` / `lenet_regularized(K, ...)`, called
with `scratchnet.keras` or (with --tf) `tensorflow.keras`: the same code runs on both. Before
each model, `K.utils.set_random_seed(seed)` (the book resets its seeds the same way), so the
variants of one experiment start from the same weights and see the same batch order.

A variant that needs a piece scratchnet does not have yet (a layer, `K.regularizers`, a
`kernel_regularizer` argument, a callback) is not trained and not faked: the run says which
piece is missing, lists the variant as "not built" in the table, and the command exits 3.
A regularized model is also checked before training: its `losses` must be non-empty and
`evaluate` must include their sum in the loss (otherwise the L1/L2 curve would be a copy of
'none').

Outputs, in --out (default compare_results/), each written to a temp file then renamed:
    <experiment>_<framework>.png   the book's figure: 2x2 panels loss / val-loss /
                                   accuracy / val-accuracy, one colour per variant
    <experiment>_<framework>.md    the table (final and best validation accuracy, epochs
                                   run, seconds per epoch), the setting, skipped variants
    <experiment>_<framework>.json  the same plus every History curve
where <framework> is 'scratchnet' or 'tf'.
"""
import dataclasses
import inspect
import io
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np

BOOK = "Hands-On Computer Vision with TensorFlow 2 (Planche & Andres, Packt 2019), ch. 3"
NUM_CLASSES = 10
INPUT_SHAPE = (28, 28, 1)
DEFAULT_SEED = 42          # the notebooks' random_seed
DEFAULT_OUT = "compare_results"
EXIT_SOME_VARIANTS_MISSING = 3


class SetupError(ValueError):
    """A bad request (unknown experiment or variant, more images than MNIST has, ...)."""


# ---- the two builders (one function, two frameworks) ---------------------------------------
def lenet(K, name="lenet"):
    """The optimizer notebook's LeNet-5, in the Keras namespace `K` (scratchnet.keras or
    tensorflow.keras): 28x28x1 -> conv 6@28x28 -> pool 6@14x14 -> conv 16@10x10 ->
    pool 16@5x5 -> 400 -> 120 -> 84 -> 10 class probabilities."""
    layers = K.layers
    model = K.Sequential(name=name)
    # 1st block:
    model.add(layers.Conv2D(6, kernel_size=(5, 5), padding="same", activation="relu",
                            input_shape=INPUT_SHAPE))
    model.add(layers.MaxPooling2D(pool_size=(2, 2)))
    # 2nd block:
    model.add(layers.Conv2D(16, kernel_size=(5, 5), activation="relu"))
    model.add(layers.MaxPooling2D(pool_size=(2, 2)))
    # Dense layers:
    model.add(layers.Flatten())
    model.add(layers.Dense(120, activation="relu"))
    model.add(layers.Dense(84, activation="relu"))
    model.add(layers.Dense(NUM_CLASSES, activation="softmax"))
    return model


def lenet_regularized(K, name="lenet", use_dropout=False, use_batchnorm=False,
                      regularizer=None):
    """The regularization notebook's LeNet-5: the same layers as `lenet`, with the ReLUs as
    separate Activation layers, optional BatchNormalization before them, optional
    Dropout(0.25) after the blocks and Dense(120), and `regularizer` on the kernels of both
    convolutions, Dense(120) and Dense(84)."""
    L = K.layers
    layers = []
    # 1st block:
    layers += [L.Conv2D(6, kernel_size=(5, 5), padding="same", input_shape=INPUT_SHAPE,
                        kernel_regularizer=regularizer)]
    if use_batchnorm:
        layers += [L.BatchNormalization()]
    layers += [L.Activation("relu"), L.MaxPooling2D(pool_size=(2, 2))]
    if use_dropout:
        layers += [L.Dropout(0.25)]
    # 2nd block:
    layers += [L.Conv2D(16, kernel_size=(5, 5), kernel_regularizer=regularizer)]
    if use_batchnorm:
        layers += [L.BatchNormalization()]
    layers += [L.Activation("relu"), L.MaxPooling2D(pool_size=(2, 2))]
    if use_dropout:
        layers += [L.Dropout(0.25)]
    # Dense layers:
    layers += [L.Flatten()]
    layers += [L.Dense(120, kernel_regularizer=regularizer)]
    if use_batchnorm:
        layers += [L.BatchNormalization()]
    layers += [L.Activation("relu")]
    if use_dropout:
        layers += [L.Dropout(0.25)]
    layers += [L.Dense(84, kernel_regularizer=regularizer)]
    layers += [L.Activation("relu")]
    layers += [L.Dense(NUM_CLASSES, activation="softmax")]
    return K.Sequential(layers, name=name)


# ---- what scratchnet must have for a variant ------------------------------------------------
def _has(K, dotted):
    obj = K
    for part in dotted.split("."):
        if not hasattr(obj, part):
            return False
        obj = getattr(obj, part)
    return True


def _accepts(K, layer, argument):
    """Whether K.layers.<layer> takes `argument` (a named parameter of its __init__)."""
    cls = getattr(K.layers, layer, None)
    if cls is None:
        return False
    try:
        return argument in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError):
        return False


REQUIREMENTS = {
    # key: (check(K) -> bool, the missing piece, as said when the check fails)
    "Dropout": (lambda K: _has(K, "layers.Dropout"), "layers.Dropout"),
    "BatchNormalization": (lambda K: _has(K, "layers.BatchNormalization"),
                           "layers.BatchNormalization"),
    "regularizers": (lambda K: _has(K, "regularizers.l1") and _has(K, "regularizers.l2"),
                     "the regularizers module (regularizers.l1 / regularizers.l2)"),
    "kernel_regularizer": (lambda K: _accepts(K, "Dense", "kernel_regularizer")
                           and _accepts(K, "Conv2D", "kernel_regularizer"),
                           "a kernel_regularizer argument on layers.Dense and layers.Conv2D"),
    "EarlyStopping": (lambda K: _has(K, "callbacks.EarlyStopping"), "callbacks.EarlyStopping"),
}


def missing_pieces(K, variant):
    """The pieces `variant` needs that the namespace `K` lacks (descriptions; [] = none)."""
    return [REQUIREMENTS[key][1] for key in variant.needs if not REQUIREMENTS[key][0](K)]


# ---- experiments ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Setting:
    """How much data and training one experiment run gets."""
    samples: int         # the first N training images
    val_samples: int     # the first M test images, passed as validation_data
    epochs: int
    batch_size: int = 32


@dataclasses.dataclass(frozen=True)
class Variant:
    name: str                     # the book's key: 'nag', 'l1', ...
    description: str              # the Keras code it stands for
    optimizer: object             # K -> optimizer (instance or Keras string)
    model_options: object = None  # K -> kwargs of the builder
    callbacks: object = None      # K -> list of callbacks
    needs: tuple = ()             # keys of REQUIREMENTS
    regularized: bool = False     # check that the penalty reaches the loss


@dataclasses.dataclass(frozen=True)
class Experiment:
    name: str
    title: str
    builder: object               # def build(K, name=..., **options) -> model
    variants: tuple
    short: Setting
    full: Setting
    notebook: str

    def variant(self, name):
        for v in self.variants:
            if v.name == name:
                return v
        raise SetupError(f"experiment {self.name!r} has no variant {name!r}; its variants: "
                         f"{', '.join(v.name for v in self.variants)}")


def _sgd(K):
    return "sgd"


OPTIMIZERS = Experiment(
    name="optimizers",
    title="LeNet-5 on MNIST, one optimizer per run",
    builder=lenet,
    variants=(
        Variant("sgd", "optimizers.SGD()", lambda K: K.optimizers.SGD()),
        Variant("momentum", "optimizers.SGD(momentum=0.9)",
                lambda K: K.optimizers.SGD(momentum=0.9)),
        Variant("nag", "optimizers.SGD(momentum=0.9, nesterov=True)",
                lambda K: K.optimizers.SGD(momentum=0.9, nesterov=True)),
        Variant("adagrad", "optimizers.Adagrad()", lambda K: K.optimizers.Adagrad()),
        Variant("adadelta", "optimizers.Adadelta()", lambda K: K.optimizers.Adadelta()),
        Variant("rmsprop", "optimizers.RMSprop()", lambda K: K.optimizers.RMSprop()),
        Variant("adam", "optimizers.Adam()", lambda K: K.optimizers.Adam()),
    ),
    short=Setting(samples=6000, val_samples=1000, epochs=10),
    full=Setting(samples=60000, val_samples=10000, epochs=20),
    notebook="Chapter03/ch3_nb3_experiment_with_optimizers.ipynb",
)

REGULARIZATION = Experiment(
    name="regularization",
    title="LeNet-5 on MNIST, one regularization per run",
    builder=lenet_regularized,
    variants=(
        Variant("none", "no regularization", _sgd),
        Variant("l1", "kernel_regularizer=regularizers.l1(0.01)", _sgd,
                model_options=lambda K: {"regularizer": K.regularizers.l1(0.01)},
                needs=("regularizers", "kernel_regularizer"), regularized=True),
        Variant("l2", "kernel_regularizer=regularizers.l2(0.01)", _sgd,
                model_options=lambda K: {"regularizer": K.regularizers.l2(0.01)},
                needs=("regularizers", "kernel_regularizer"), regularized=True),
        Variant("dropout", "Dropout(0.25) after each block and Dense(120)", _sgd,
                model_options=lambda K: {"use_dropout": True}, needs=("Dropout",)),
        Variant("bn", "BatchNormalization() before each block's and Dense(120)'s ReLU", _sgd,
                model_options=lambda K: {"use_batchnorm": True},
                needs=("BatchNormalization",)),
        Variant("early_stopping", "callbacks.EarlyStopping(patience=3, monitor='val_loss')",
                _sgd, callbacks=lambda K: [K.callbacks.EarlyStopping(patience=3,
                                                                     monitor="val_loss")],
                needs=("EarlyStopping",)),
    ),
    short=Setting(samples=200, val_samples=1000, epochs=100),
    full=Setting(samples=200, val_samples=10000, epochs=300),
    notebook="Chapter03/ch3_nb4_apply_regularization_methods_to_cnns.ipynb",
)

EXPERIMENTS = {e.name: e for e in (OPTIMIZERS, REGULARIZATION)}


def get_experiment(name):
    if name not in EXPERIMENTS:
        raise SetupError(f"unknown experiment {name!r}; available: {', '.join(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def resolve_setting(experiment, full=False, samples=None, val_samples=None, epochs=None,
                    batch_size=None):
    """The short (default) or full (--full) setting, with any given number replacing its own."""
    base = experiment.full if full else experiment.short
    changes = {k: v for k, v in (("samples", samples), ("val_samples", val_samples),
                                 ("epochs", epochs), ("batch_size", batch_size))
               if v is not None}
    for key, value in changes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise SetupError(f"{key} must be a positive integer, received {value!r}")
    return dataclasses.replace(base, **changes)


# ---- frameworks ----------------------------------------------------------------------------
class TensorFlowMissingError(ImportError):
    """--tf was asked for and TensorFlow cannot be imported."""


class PlottingUnavailableError(ImportError):
    """matplotlib (needed for the figures) cannot be imported."""


def keras_namespace(tf=False):
    """(K, framework key, description): scratchnet.keras, or tensorflow.keras when tf=True."""
    if not tf:
        import scratchnet
        from scratchnet import keras, threads

        return keras, "scratchnet", (f"scratchnet {scratchnet.__version__} (NumPy "
                                     f"{np.__version__}, {threads.num_threads()} threads)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's C++ start-up chatter out
    try:
        import tensorflow
    except ImportError as error:
        raise TensorFlowMissingError(
            "TensorFlow is not installed: install the tf extra: pip install 'scratchnet[tf]' "
            f"({error})") from error
    tensorflow.config.experimental.enable_tensor_float_32_execution(False)
    gpus = tensorflow.config.list_logical_devices("GPU")
    keras = tensorflow.keras
    version = getattr(keras, "__version__", None) or getattr(keras, "version", lambda: "?")()
    where = f"GPU ({gpus[0].name})" if gpus else "CPU"
    return keras, "tf", f"TensorFlow {tensorflow.__version__} / Keras {version} on {where}"


def require_matplotlib():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401
    except ImportError as error:
        raise PlottingUnavailableError(
            f"matplotlib is needed for the figures: pip install matplotlib ({error})") from error


# ---- data ----------------------------------------------------------------------------------
def load_mnist(setting, data=None):
    """The book's preprocessing (x / 255, shape (n, 28, 28, 1)) of the first `samples` training
    and first `val_samples` test images. `data` may give ((x_train, y_train), (x_test,
    y_test)) directly (tests); otherwise scratchnet.keras.datasets.mnist.load_data()."""
    if data is None:
        from scratchnet.keras.datasets import mnist

        data = mnist.load_data()
    (x_train, y_train), (x_test, y_test) = data
    for what, wanted, have in (("samples", setting.samples, len(x_train)),
                               ("val_samples", setting.val_samples, len(x_test))):
        if wanted > have:
            raise SetupError(f"{what}={wanted} is more than the {have} images available")

    def prepare(x):
        return (np.asarray(x) / 255.0).astype(np.float32).reshape((-1,) + INPUT_SHAPE)

    return ((prepare(x_train[:setting.samples]), np.asarray(y_train[:setting.samples])),
            (prepare(x_test[:setting.val_samples]), np.asarray(y_test[:setting.val_samples])))


# ---- running -------------------------------------------------------------------------------
@dataclasses.dataclass
class VariantResult:
    name: str
    description: str
    built: bool
    reason: str = ""              # why it was not built
    history: dict = None          # History.history (lists of floats)
    epochs_run: int = 0
    seconds: float = 0.0          # fit's wall time (training + validation)

    @property
    def seconds_per_epoch(self):
        return self.seconds / self.epochs_run if self.epochs_run else float("nan")

    def final(self, key):
        return self.history[key][-1]

    @property
    def best_val_accuracy(self):
        return max(self.history["val_accuracy"])

    @property
    def best_epoch(self):
        """1-based epoch of the best validation accuracy (the first, on ties)."""
        values = self.history["val_accuracy"]
        return values.index(max(values)) + 1

    def to_dict(self):
        out = {"name": self.name, "description": self.description, "built": self.built}
        if not self.built:
            out["reason"] = self.reason
            return out
        out.update({
            "epochs_run": self.epochs_run,
            "seconds": self.seconds,
            "seconds_per_epoch": self.seconds_per_epoch,
            "final_loss": self.final("loss"),
            "final_accuracy": self.final("accuracy"),
            "final_val_loss": self.final("val_loss"),
            "final_val_accuracy": self.final("val_accuracy"),
            "best_val_accuracy": self.best_val_accuracy,
            "best_epoch": self.best_epoch,
            "history": self.history,
        })
        return out


@dataclasses.dataclass
class ExperimentResult:
    experiment: str
    title: str
    framework: str                # 'scratchnet' | 'tf'
    framework_description: str
    setting: Setting
    seed: int
    setting_name: str             # 'short' | 'full' | 'custom'
    variants: list
    seconds: float = 0.0
    command: str = ""

    @property
    def built(self):
        return [v for v in self.variants if v.built]

    @property
    def not_built(self):
        return [v for v in self.variants if not v.built]

    def to_dict(self):
        return {"experiment": self.experiment, "title": self.title, "book": BOOK,
                "framework": self.framework,
                "framework_description": self.framework_description,
                "setting": dataclasses.asdict(self.setting), "setting_name": self.setting_name,
                "seed": self.seed, "seconds": self.seconds, "command": self.command,
                "variants": [v.to_dict() for v in self.variants]}


class _NotBuilt(Exception):
    """A variant cannot be trained faithfully in this framework (message: why)."""


def _history_floats(history):
    return {key: [float(v) for v in values] for key, values in history.history.items()}


def _check_penalty_in_loss(model, x, y):
    """A regularized model must report its penalties and `evaluate` must add them to the
    loss; otherwise its curves would silently be those of the unregularized model."""
    losses = getattr(model, "losses", None)
    if losses is None:
        raise _NotBuilt("the model has no `losses` (the regularization penalties)")
    penalties = [float(np.asarray(p)) for p in losses]
    if not penalties:
        raise _NotBuilt("kernel_regularizer is accepted but model.losses is empty")
    penalty = sum(penalties)
    evaluated = model.evaluate(x, y, batch_size=len(x), verbose=0, return_dict=True)["loss"]
    probs = np.asarray(model.predict(x, batch_size=len(x), verbose=0), dtype=np.float64)
    eps = 1e-7
    picked = np.clip(probs[np.arange(len(y)), np.asarray(y, dtype=np.int64)], eps, 1 - eps)
    cross_entropy = float(np.mean(-np.log(picked)))
    if abs(float(evaluated) - (cross_entropy + penalty)) > 1e-3 * max(1.0, penalty):
        raise _NotBuilt(f"the regularization penalty ({penalty:.4g}) is not in the loss: "
                        f"evaluate() gives {float(evaluated):.6g}, cross-entropy alone "
                        f"{cross_entropy:.6g}")


def _build(K, experiment, variant, seed):
    missing = missing_pieces(K, variant)
    if missing:
        raise _NotBuilt("missing " + "; ".join(missing))
    K.utils.set_random_seed(seed)
    options = variant.model_options(K) if variant.model_options else {}
    with warnings.catch_warnings():
        # Keras 3 prefers an Input layer to the book's input_shape= argument; same model.
        warnings.filterwarnings("ignore", message=".*input_shape.*")
        model = experiment.builder(K, name=f"lenet_{variant.name}", **options)
    model.compile(optimizer=variant.optimizer(K), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = variant.callbacks(K) if variant.callbacks else []
    return model, callbacks


def run_experiment(name, tf=False, full=False, samples=None, val_samples=None, epochs=None,
                   batch_size=None, seed=DEFAULT_SEED, variants=None, verbose=0, data=None,
                   log=print):
    """Train LeNet-5 once per variant of experiment `name` ('optimizers' or
    'regularization') with scratchnet (or tf.keras when tf=True). `variants` keeps only the
    named ones (in the experiment's order); `verbose` is each fit's (0 or 2). Returns an
    ExperimentResult; nothing is written (see `write_outputs`)."""
    experiment = get_experiment(name)
    if verbose not in (0, 1, 2):
        raise SetupError(f"verbose must be 0, 1 or 2, received {verbose!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SetupError(f"seed must be a non-negative integer, received {seed!r}")
    chosen = list(experiment.variants)
    if variants is not None:
        wanted = list(variants)
        if not wanted:
            raise SetupError("variants: give at least one variant")
        for v in wanted:
            experiment.variant(v)  # raises for an unknown name
        chosen = [v for v in experiment.variants if v.name in wanted]
    setting = resolve_setting(experiment, full, samples, val_samples, epochs, batch_size)
    setting_name = ("full" if full else "short") if setting == (
        experiment.full if full else experiment.short) else "custom"
    K, framework, description = keras_namespace(tf)
    (x_train, y_train), (x_val, y_val) = load_mnist(setting, data)

    result = ExperimentResult(experiment.name, experiment.title, framework, description,
                              setting, int(seed), setting_name, [])
    log(f"Experiment {experiment.name!r} ({experiment.title}) with {description}: "
        f"{setting.samples:,} training / {setting.val_samples:,} validation images, "
        f"batch {setting.batch_size}, {setting.epochs} epochs, seed {seed}")
    start_all = time.perf_counter()
    for i, variant in enumerate(chosen, 1):
        tag = f"[{i}/{len(chosen)}] {variant.name}"
        try:
            model, callbacks = _build(K, experiment, variant, int(seed))
            if variant.regularized:
                # (evaluate/predict only: no random numbers drawn, the batches stay the same)
                _check_penalty_in_loss(model, x_train[:64], y_train[:64])
        except _NotBuilt as why:
            result.variants.append(VariantResult(variant.name, variant.description, False,
                                                 reason=str(why)))
            log(f"{tag}: NOT BUILT in {framework}: {why}")
            continue
        log(f"{tag} ({variant.description}): training...")
        start = time.perf_counter()
        history = model.fit(x_train, y_train, batch_size=setting.batch_size,
                            epochs=setting.epochs, validation_data=(x_val, y_val),
                            callbacks=callbacks, verbose=verbose)
        seconds = time.perf_counter() - start
        record = VariantResult(variant.name, variant.description, True,
                               history=_history_floats(history),
                               epochs_run=len(history.history["loss"]), seconds=seconds)
        result.variants.append(record)
        stopped = (f", stopped early after {record.epochs_run} epochs"
                   if record.epochs_run < setting.epochs else "")
        log(f"{tag}: done in {seconds:.1f} s ({record.seconds_per_epoch:.2f} s/epoch){stopped}"
            f"; val_accuracy {record.final('val_accuracy'):.4f} (best "
            f"{record.best_val_accuracy:.4f} at epoch {record.best_epoch})")
    result.seconds = time.perf_counter() - start_all
    return result


# ---- outputs -------------------------------------------------------------------------------
def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_atomic(path, data):
    """Write bytes/str to `path` through a temp file in the same folder and a rename."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a plain file follows umask
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def format_markdown(result):
    s = result.setting
    lines = [
        f"# {result.title}",
        "",
        f"- experiment: `{result.experiment}` ({BOOK})",
        f"- framework: {result.framework_description}",
        f"- data: MNIST, first {s.samples:,} training images, first {s.val_samples:,} test "
        f"images as validation_data; batch size {s.batch_size}; up to {s.epochs} epochs; seed "
        f"{result.seed} ({result.setting_name} setting)",
        f"- total time: {result.seconds:.1f} s (s/epoch: fit's wall time, validation and the "
        "first epoch's compilation included, over the epochs run)",
    ]
    if result.command:
        lines.append(f"- command: `{result.command}`")
    lines += [
        "",
        "| variant | Keras | epochs run | s/epoch | final loss | final acc | final val loss "
        "| final val acc | best val acc (epoch) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for v in result.variants:
        if not v.built:
            lines.append(f"| {v.name} | {v.description} | not built | | | | | | |")
            continue
        lines.append(
            f"| {v.name} | {v.description} | {v.epochs_run} | {v.seconds_per_epoch:.2f} | "
            f"{v.final('loss'):.4f} | {v.final('accuracy'):.4f} | {v.final('val_loss'):.4f} | "
            f"{v.final('val_accuracy'):.4f} | {v.best_val_accuracy:.4f} ({v.best_epoch}) |")
    if result.not_built:
        lines += ["", f"Not built in {result.framework} (nothing was trained for them):"]
        lines += [f"- {v.name}: {v.reason}" for v in result.not_built]
    return "\n".join(lines) + "\n"


def plot(result):
    """The book's figure as PNG bytes: 2x2 panels (loss, val-loss / accuracy, val-accuracy),
    epochs on x, one colour per variant, the legend on the right."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(10, 10))
    FigureCanvasAgg(fig)
    ax = fig.subplots(2, 2, sharex="col")
    panels = (((0, 0), "loss", "loss"), ((0, 1), "val_loss", "val-loss"),
              ((1, 0), "accuracy", "accuracy"), ((1, 1), "val_accuracy", "val-accuracy"))
    for (r, c), _, title in panels:
        ax[r, c].set_title(title)
        ax[r, c].grid(True, alpha=0.3)
    for c in range(2):
        ax[1, c].set_xlabel("epoch")
        ax[1, c].xaxis.set_major_locator(MaxNLocator(integer=True))
    lines, labels = [], []
    for i, v in enumerate(result.variants):
        if not v.built:
            continue
        color = f"C{i % 10}"
        epochs = np.arange(1, v.epochs_run + 1)
        for (r, c), key, _ in panels:
            line, = ax[r, c].plot(epochs, v.history[key], color=color)
        lines.append(line)
        labels.append(v.name)
    fig.legend(lines, labels, loc="center right", borderaxespad=0.1)
    s = result.setting
    fig.suptitle(f"{result.title}\n{result.framework_description}; {s.samples:,} train / "
                 f"{s.val_samples:,} val images, batch {s.batch_size}, seed {result.seed}",
                 fontsize=11)
    if result.not_built:
        fig.text(0.01, 0.005, "not built: " + ", ".join(v.name for v in result.not_built),
                 fontsize=9, color="firebrick")
    fig.subplots_adjust(right=0.84)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def output_paths(result, out):
    stem = os.path.join(out, f"{result.experiment}_{result.framework}")
    return {"png": stem + ".png", "md": stem + ".md", "json": stem + ".json"}


def write_outputs(result, out=DEFAULT_OUT):
    """Write the figure, the Markdown table and the JSON into `out`; returns their paths."""
    paths = output_paths(result, out)
    _write_atomic(paths["png"], plot(result))
    _write_atomic(paths["md"], format_markdown(result))
    _write_atomic(paths["json"], json.dumps(result.to_dict(), indent=1) + "\n")
    return paths


def command_line(argv=None):
    """`scratchnet <args>` as typed (for the table's record of how it was made)."""
    args = sys.argv[1:] if argv is None else list(argv)
    return " ".join(["scratchnet"] + args)

"""The lecture models, in one registry: `MODELS` (name -> `LectureModel`).

Each entry is the network a lecture builds, written once against a `keras`-like namespace, so
the same code builds it with `scratchnet.keras` and with `tf.keras`:

    from scratchnet import keras
    from scratchnet.lecture_models import get
    spec = get("coursera_cnn")
    model = spec.build(keras)                          # compiled as the lecture compiles it
    x = spec.preprocess(x_train_uint8)                 # / 255.0 (+ channel axis for CNNs)
    y = spec.prepare_labels(y_train)                   # sparse ints, or one-hot rows
    model.fit(x, y, batch_size=spec.batch_size, epochs=5)

`scratchnet demo --model NAME`, benchmarks/bench.py and tests/test_lecture_models.py read this
registry; a new lecture model is one `register(...)` call away from all three.

Entries with `trainable=False` (horse_or_human: 40 million weights on 300x300 colour images,
and no dataset bundled) are for `summary()` only: the demo prints the summary instead of
training, and the benchmarks skip them.

Nothing here imports TensorFlow; a builder only touches the namespace it is given.
"""
import dataclasses

import numpy as np

LABEL_FORMATS = ("sparse", "one_hot", "binary")


@dataclasses.dataclass(frozen=True)
class LectureModel:
    """One lecture model.

    builder(keras) -> the uncompiled `keras.Sequential`, layers exactly as the lecture has them.
    compile_args(keras) -> the keyword arguments of the lecture's `model.compile(...)`.
    input_shape: one sample's shape as the model takes it (after `preprocess`).
    dataset: the lecture's dataset (a `scratchnet.datasets` name), None if not bundled.
    labels: 'sparse' (integer class ids), 'one_hot' (`to_categorical` rows) or 'binary' (0/1).
    batch_size: the batch size the lecture trains with (Keras's default 32 when it gives none).
    trainable: False for the models the array-based demo and benchmarks do not train.
    image_folder: the lecture's image-folder dataset (`scratchnet.datasets.image_folders`:
        'horse-or-human'), which the demo trains such a model on, from generators.
    """
    name: str
    description: str
    lecture: str
    builder: object
    compile_args: object
    input_shape: tuple
    num_classes: int = 10
    dataset: str = "mnist"
    labels: str = "sparse"
    batch_size: int = 32
    trainable: bool = True
    note: str = ""
    image_folder: str = None

    def __post_init__(self):
        if self.labels not in LABEL_FORMATS:
            raise ValueError(f"{self.name}: labels must be one of {LABEL_FORMATS}, "
                             f"received {self.labels!r}")

    @property
    def channels(self):
        """True when the model takes a channel axis (a CNN): preprocess adds it if missing."""
        return len(self.input_shape) == 3

    @property
    def metric_name(self):
        """The accuracy metric's name in History / evaluate (the lecture's spelling)."""
        metrics = self.compile_args(_NamespaceProbe()).get("metrics") or []
        return next((m for m in metrics if m in ("accuracy", "acc")), None)

    def build(self, keras, compile=True):
        """The model built with `keras` (scratchnet.keras or tf.keras), compiled unless told not."""
        model = self.builder(keras)
        if compile:
            model.compile(**self.compile_args(keras))
        return model

    def preprocess(self, x, dtype="float32"):
        """The lecture's input pipeline on uint8 images: `/ 255.0`, then (for CNNs) the channel
        axis (`reshape(n, 28, 28, 1)`), cast once to `dtype`."""
        x = np.asarray(x)
        if self.channels and x.ndim == len(self.input_shape):  # (n, h, w) -> (n, h, w, 1)
            x = x.reshape(x.shape + (1,))
        return (x / 255.0).astype(dtype)

    def prepare_labels(self, y, dtype="float32"):
        """Labels in the lecture's format: as given ('sparse', 'binary') or one-hot rows."""
        y = np.asarray(y)
        if self.labels == "one_hot" and (y.ndim == 1 or y.shape[-1] == 1):
            return np.eye(self.num_classes, dtype=dtype)[y.reshape(-1).astype(np.int64)]
        return y

    def random_data(self, n, seed=0):
        """`(x_uint8, y)` of the model's shape: n random images and raw labels (tests, benches)."""
        rng = np.random.default_rng(seed)
        x = rng.integers(0, 256, (n,) + tuple(self.input_shape), dtype=np.uint8)
        y = rng.integers(0, max(2, self.num_classes), n).astype(np.uint8)
        return x, y


class _NamespaceProbe:
    """Stands in for `keras` when only the compile arguments' strings are wanted."""

    def __getattr__(self, name):
        return _NamespaceProbe()

    def __call__(self, *args, **kwargs):
        return _NamespaceProbe()


MODELS = {}


def register(spec):
    """Add a `LectureModel` to `MODELS` (replacing one of the same name); returns it."""
    MODELS[spec.name] = spec
    return spec


def get(name):
    """The registry entry `name`, or a ValueError that lists the choices."""
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(MODELS))}") \
            from None


def names(trainable=None):
    """Registry names in registration order (only the trainable ones with trainable=True)."""
    return [n for n, s in MODELS.items() if trainable is None or s.trainable == trainable]


def _adam_sparse(keras):
    return dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


# ---- the lecture models ------------------------------------------------------------------
def _mlp(keras):
    return keras.Sequential([
        keras.layers.Flatten(input_shape=(28, 28)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])


register(LectureModel(
    "mlp", "Flatten(28x28) -> Dense(128, relu) -> Dense(10, softmax); Adam, sparse "
           "categorical crossentropy",
    "ML Zero to Hero part 2; Coursera 'Introduction to TensorFlow' C1 W2 (Fashion-MNIST)",
    _mlp, _adam_sparse, (28, 28), dataset="fashion_mnist"))


def _coursera_cnn(filters):
    def build(keras):
        return keras.Sequential([
            keras.layers.Conv2D(filters, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            keras.layers.MaxPooling2D(2, 2),
            keras.layers.Conv2D(filters, (3, 3), activation="relu"),
            keras.layers.MaxPooling2D(2, 2),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ])
    return build


register(LectureModel(
    "coursera_cnn", "Conv2D(64,3x3,relu) -> MaxPooling2D(2,2) -> Conv2D(64,3x3,relu) -> "
                    "MaxPooling2D(2,2) -> Flatten -> Dense(128,relu) -> Dense(10,softmax); "
                    "Adam, sparse categorical crossentropy",
    "Coursera 'Introduction to TensorFlow' C1 W3 and ML Zero to Hero part 3 (Fashion-MNIST)",
    _coursera_cnn(64), _adam_sparse, (28, 28, 1), dataset="fashion_mnist"))

register(LectureModel(
    "coursera_cnn32", "the Coursera CNN with 32 filters per Conv2D; Adam, sparse categorical "
                      "crossentropy",
    "Coursera C1 W3 exercise on MNIST (2 conv x 32 filters, 10 epochs: test accuracy 0.9922 in "
    "the lecture's table)",
    _coursera_cnn(32), _adam_sparse, (28, 28, 1), dataset="mnist"))


def _lenet5(batch_norm):
    """LeNet-5 as the Sequential `lenet()` of Hands-On CV ch. 3; with `batch_norm`, a
    BatchNormalization() after each convolution (after its ReLU)."""
    def build(keras):
        def after_conv():
            return [keras.layers.BatchNormalization()] if batch_norm else []

        return keras.Sequential([
            keras.layers.Conv2D(6, kernel_size=(5, 5), padding="same", activation="relu",
                                input_shape=(28, 28, 1)),
            *after_conv(),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Conv2D(16, kernel_size=(5, 5), activation="relu"),
            *after_conv(),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Flatten(),
            keras.layers.Dense(120, activation="relu"),
            keras.layers.Dense(84, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ], name="lenet_bn" if batch_norm else "lenet")
    return build


def _sgd_sparse(keras):
    return dict(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


register(LectureModel(
    "lenet5", "LeNet-5: Conv2D(6,5x5,same,relu) -> MaxPooling2D -> Conv2D(16,5x5,relu) -> "
              "MaxPooling2D -> Flatten -> Dense(120) -> Dense(84) -> Dense(10,softmax); SGD, "
              "sparse categorical crossentropy",
    "Hands-On Computer Vision with TensorFlow 2, ch. 3, Sequential version (MNIST; "
    "model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', "
    "metrics=['accuracy']), fit(batch_size=32))",
    _lenet5(batch_norm=False),
    _sgd_sparse,
    (28, 28, 1), dataset="mnist"))


register(LectureModel(
    "lenet5_bn", "LeNet-5 with BatchNormalization() after each convolution: "
                 "Conv2D(6,5x5,same,relu) -> BatchNormalization -> MaxPooling2D -> "
                 "Conv2D(16,5x5,relu) -> BatchNormalization -> MaxPooling2D -> Flatten -> "
                 "Dense(120) -> Dense(84) -> Dense(10,softmax); SGD, sparse categorical "
                 "crossentropy",
    "Hands-On Computer Vision with TensorFlow 2, ch. 3, regularization: LeNet-5 trained with "
    "batch normalization (the chapter's comparison of regularization methods on MNIST)",
    _lenet5(batch_norm=True),
    _sgd_sparse,
    (28, 28, 1), dataset="mnist",
    note="the chapter shows the curves, not the code: here a BatchNormalization() follows "
         "each Conv2D (after its ReLU), the rest is the Sequential LeNet-5 above"))


def _python_ml_cnn(keras):
    layers = keras.layers
    return keras.Sequential([
        layers.Conv2D(32, (5, 5), padding="valid", activation="relu", input_shape=(28, 28, 1)),
        layers.MaxPool2D((2, 2)),
        layers.Conv2D(64, (5, 5), padding="valid", activation="relu"),
        layers.MaxPool2D((2, 2)),
        layers.Flatten(),
        layers.Dense(1024, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])


register(LectureModel(
    "python_ml_cnn", "Conv2D(32,5x5,valid,relu) -> MaxPool2D -> Conv2D(64,5x5,valid,relu) -> "
                     "MaxPool2D -> Flatten -> Dense(1024,relu) -> Dropout(0.5) -> "
                     "Dense(10,softmax); Adam, categorical crossentropy on one-hot labels, "
                     "metrics ['acc']",
    "Python Machine Learning 2nd ed., ch. 15 (MNIST, batch 64)",
    _python_ml_cnn,
    lambda keras: dict(loss="categorical_crossentropy", optimizer="adam", metrics=["acc"]),
    (28, 28, 1), dataset="mnist", labels="one_hot", batch_size=64,
    note="the book feeds mean-centred, std-scaled pixels; here they are / 255.0 like the "
         "other lectures"))


def _horse_or_human(keras, size=300):
    """Coursera C1 W4's ConvNet on size x size colour images (300; the lab's "compacted
    images" variant: 150)."""
    layers = keras.layers
    return keras.Sequential([
        layers.Conv2D(16, (3, 3), activation="relu", input_shape=(size, size, 3)),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(32, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Conv2D(64, (3, 3), activation="relu"),
        layers.MaxPooling2D(2, 2),
        layers.Flatten(),
        layers.Dense(512, activation="relu"),
        layers.Dense(1, activation="sigmoid"),
    ])


def _functional_form(builder, input_shape):
    """The same network written with the Functional API, as Hands-On CV ch. 2 writes its
    MLP: an Input, each of the lecture's layers called on the previous output, then
    Model(inputs, outputs). The layers are the Sequential builder's own objects."""
    def build(keras):
        stack = builder(keras)
        inputs = keras.Input(shape=input_shape)
        x = inputs
        for layer in stack.layers:
            x = layer(x)
        return keras.Model(inputs, x, name=f"{stack.name}_functional")
    return build


for _name in ("coursera_cnn", "coursera_cnn32", "lenet5", "python_ml_cnn"):
    _spec = MODELS[_name]
    register(dataclasses.replace(
        _spec, name=f"{_name}_functional", builder=_functional_form(_spec.builder,
                                                                    _spec.input_shape),
        description=f"{_name} written with the Functional API (Input -> layer calls -> "
                    "Model(inputs, outputs)); compiled the same way",
        lecture=f"{_spec.lecture}; the Functional form of Hands-On CV ch. 2"))


HORSE_OR_HUMAN_PARAMS = 40_165_409
HORSE_OR_HUMAN_150_PARAMS = 9_494_561


def _horse_or_human_150(keras):
    return _horse_or_human(keras, 150)


def _rmsprop_binary(keras):
    # The lecture writes RMSprop(lr=0.001); Keras 3 only accepts `learning_rate`.
    return dict(loss="binary_crossentropy",
                optimizer=keras.optimizers.RMSprop(learning_rate=0.001), metrics=["acc"])


register(LectureModel(
    "horse_or_human", "Conv2D(16) -> MaxPool -> Conv2D(32) -> MaxPool -> Conv2D(64) -> MaxPool "
                      "(3x3 kernels, relu) -> Flatten -> Dense(512,relu) -> Dense(1,sigmoid) on "
                      "300x300x3; RMSprop(0.001), binary crossentropy",
    "Coursera C1 W4 'horse or human' (ImageDataGenerator, 300x300 colour images; "
    f"{HORSE_OR_HUMAN_PARAMS:,} parameters)",
    _horse_or_human, _rmsprop_binary,
    (300, 300, 3), num_classes=1, dataset=None, labels="binary", batch_size=128,
    trainable=False, image_folder="horse-or-human",
    note="40 million weights on 300x300 colour images: the demo trains it from the "
         "horse-or-human folders (scratchnet data fetch) with ImageDataGenerator on both "
         "sides; not in the array benchmarks (benchmarks/bench_images.py times it)"))

register(LectureModel(
    "horse_or_human_150", "the horse_or_human layers on 150x150x3 (the lab's 'compacted "
                          "images'); RMSprop(0.001), binary crossentropy",
    "Coursera C1 W4 'horse or human', the 150x150 variant "
    f"({HORSE_OR_HUMAN_150_PARAMS:,} parameters)",
    _horse_or_human_150, _rmsprop_binary,
    (150, 150, 3), num_classes=1, dataset=None, labels="binary", batch_size=128,
    trainable=False, image_folder="horse-or-human",
    note="trained by the demo from the horse-or-human folders resized to 150x150"))

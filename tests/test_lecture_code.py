"""The lectures' own model code, run twice with only the import swapped.

Each snippet below is the lecture's text (../shared/lectures), executed once as written
against TensorFlow and once with `tensorflow` replaced by `scratchnet`. The two models then
start from the same weights (scratchnet's, copied with set_weights(get_weights())) and must
agree: predictions, a few steps of fit (History and weights), evaluate, and -- for the
Coursera activation model -- every intermediate output.

* Hands-On CV ch. 2: the MNIST MLP with the Functional API, fed (N, 28, 28) images although
  its Input says (28, 28, 1) (Keras 3's input-rank rule adds the channel axis).
* Hands-On CV ch. 3: LeNet-5 as `lenet()` (Sequential, `model.add`) and as the subclassed
  `class LeNet5(Model)` whose `call` uses ONE MaxPooling2D object twice.
* Python ML ch. 14: `output = tf.keras.layers.Dense(1)(input); model = tf.keras.Model(input,
  output)`, fit with validation_split on 1-D x, predict on `np.arange(-2, 2, 0.1)`.
* Coursera C1 W3: `Model(inputs=model.input, outputs=[layer.output for layer in
  model.layers])` on a trained Sequential CNN. Keras 3 no longer gives a Sequential model an
  `.input` (tf.keras 2 did; scratchnet does): the TensorFlow run reads `model.inputs`.
"""
import re

import numpy as np
import pytest

import parity_log
from lecture_cnns import PYTHON_ML_CNN_CELL
import scratchnet
from tf_support import import_tf

tf = import_tf()
from reference import floatx_scope  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
DTYPE = "float64"           # exact arithmetic comparisons: float64 (floatx for both libraries)


def check(actual, expected, what, area):
    parity_log.check(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                     "float64", what, f"lecture code {area}")


def run(snippet, library, **names):
    """Execute a lecture snippet with `tensorflow` as written or swapped for scratchnet."""
    code = snippet if library == "tensorflow" else snippet.replace("tensorflow", "scratchnet")
    namespace = {"np": np, **names}
    exec(compile(code, f"<lecture snippet, {library}>", "exec"), namespace)
    return namespace


def mnist_subset(n=48):
    (x_train, y_train), _ = scratchnet.keras.datasets.mnist.load_data()
    return x_train[:n] / 255.0, y_train[:n]


def same_start(ours, theirs):
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    theirs.set_weights(ours.get_weights())


def fit_and_compare(ours, theirs, x, y, area, batch_size=16, **fit):
    hs = ours.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0, **fit)
    hk = theirs.fit(x, y, batch_size=batch_size, epochs=2, shuffle=False, verbose=0, **fit)
    assert set(hs.history) == set(hk.history)
    for key in hk.history:
        check(hs.history[key], hk.history[key], f"History[{key!r}]", area)
    for i, (a, b) in enumerate(zip(ours.get_weights(), theirs.get_weights())):
        check(a, b, f"weights[{i}]", area)


# ---------------------------------------------------------------- Hands-On CV ch. 2
FUNCTIONAL_MLP = '''
import tensorflow as tf

num_classes = 10
img_rows, img_cols = 28, 28
num_channels = 1
input_shape = (img_rows, img_cols, num_channels)

model_input = tf.keras.layers.Input(shape=input_shape)
output = tf.keras.layers.Flatten()(model_input)
output = tf.keras.layers.Dense(128, activation='relu')(output)
output = tf.keras.layers.Dense(num_classes, activation='softmax')(output)
model = tf.keras.Model(model_input, output)
model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
'''


def test_hands_on_cv_functional_mlp():
    x, y = mnist_subset()
    assert x.shape[1:] == (28, 28)                   # no channel axis: the rank rule adds it
    with floatx_scope(DTYPE):
        ours = run(FUNCTIONAL_MLP, "scratchnet")["model"]
        theirs = run(FUNCTIONAL_MLP, "tensorflow")["model"]
        assert type(ours).__name__ == "Functional" and len(ours.layers) == 4
        same_start(ours, theirs)
        check(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), "predict", "MLP")
        fit_and_compare(ours, theirs, x, y, "MLP")
        check(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), "evaluate",
              "MLP")


# ---------------------------------------------------------------- Hands-On CV ch. 3
LENET_IMPORTS = '''
import tensorflow as tf
import numpy as np

from tensorflow.keras.models import Sequential
from tensorflow.keras.layers import Dense, Flatten, Conv2D, MaxPooling2D

num_classes = 10
img_rows, img_cols, img_ch = 28, 28, 1
input_shape = (img_rows, img_cols, img_ch)
'''

LENET_SEQUENTIAL = LENET_IMPORTS + '''
def lenet(name='lenet'):
    model = Sequential(name=name)
    # 1st block:
    model.add(Conv2D(6, kernel_size=(5, 5), padding='same', activation='relu', input_shape=input_shape))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    # 2nd block:
    model.add(Conv2D(16, kernel_size=(5, 5), activation='relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    # Dense layers:
    model.add(Flatten())
    model.add(Dense(120, activation='relu'))
    model.add(Dense(84, activation='relu'))
    model.add(Dense(num_classes, activation='softmax'))
    return model
# creating the model
model = lenet()
model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
'''

LENET_SUBCLASSED = LENET_IMPORTS + '''
from tensorflow.keras import Model
# 이 방식을 사용하기 위해서는 추가적으로 Model을 import 해줘야함.
class LeNet5(Model):
    # Model은 Layer와 동일한 API를 가지고 있으며 이를 더 확장해줌.
    def __init__(self, num_classes):
        """
        Initialize the model.
        :param num_classes:     Number of classes to predict from
        """
        super(LeNet5, self).__init__()
        # We instantiate the various layers composing LeNet-5:
        # self.conv1 = SimpleConvolutionLayer(6, kernel_size=(5, 5))
        # self.conv2 = SimpleConvolutionLayer(16, kernel_size=(5, 5))
        # ... or using the existing and (recommended) Conv2D class:
        self.conv1 = Conv2D(6, kernel_size=(5, 5), padding='same', activation='relu')
        self.conv2 = Conv2D(16, kernel_size=(5, 5), activation='relu')
        self.max_pool = MaxPooling2D(pool_size=(2, 2))
        self.flatten = Flatten()
        self.dense1 = Dense(120, activation='relu')
        self.dense2 = Dense(84, activation='relu')
        self.dense3 = Dense(num_classes, activation='softmax')

    def call(self, inputs):
        """
        Call the layers and perform their operations on the input tensors
        :param inputs:  Input tensor
        :return:        Output tensor
        """
        x = self.max_pool(self.conv1(inputs))        # 1st block
        x = self.max_pool(self.conv2(x))             # 2nd block
        x = self.flatten(x)
        x = self.dense3(self.dense2(self.dense1(x))) # dense layers
        return x

# creating the model.
model = LeNet5(num_classes)
model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
'''


@pytest.mark.parametrize("snippet", ["sequential", "subclassed"])
def test_hands_on_cv_lenet5(snippet):
    text = {"sequential": LENET_SEQUENTIAL, "subclassed": LENET_SUBCLASSED}[snippet]
    x, y = mnist_subset()
    x = x.reshape(x.shape[0], 28, 28, 1)             # the lecture's reshape(..., *input_shape)
    with floatx_scope(DTYPE):
        ours = run(text, "scratchnet")["model"]
        theirs = run(text, "tensorflow")["model"]
        if snippet == "subclassed":
            ours(x[:1]), theirs(x[:1])               # built by a first call, as in Keras
            assert [layer.name.split("_")[0] for layer in ours.layers] == [
                "conv2d", "conv2d", "max", "flatten", "dense", "dense", "dense"]
        same_start(ours, theirs)
        check(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), "predict", "LeNet-5")
        fit_and_compare(ours, theirs, x, y, "LeNet-5")
        check(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), "evaluate",
              "LeNet-5")
        assert ours.count_params() == theirs.count_params() == 61706


# ---------------------------------------------------------------- Python ML ch. 14
PYTHON_ML_MODEL = '''
import tensorflow as tf
from tensorflow.keras import Model,Input
model = tf.keras.Sequential()
input = tf.keras.Input(shape=(1,))  # 튜플크기를 지정하여 input객체를 만듦.
dense = tf.keras.layers.Dense(1)
output= dense.__call__(input)
model = tf.keras.Model(input,output)
model.compile(optimizer='sgd',loss='mse')
'''


def test_python_ml_model_input_output():
    rng = np.random.default_rng(0)
    x_train = np.arange(10, dtype=DTYPE)                    # 1-D, as the chapter's data
    y_train = 2 * x_train - 1 + rng.normal(scale=0.3, size=10)
    x_arr = np.arange(-2, 2, 0.1)
    with floatx_scope(DTYPE):
        ours = run(PYTHON_ML_MODEL, "scratchnet")["model"]
        theirs = run(PYTHON_ML_MODEL, "tensorflow")["model"]
        same_start(ours, theirs)
        # history = model.fit(x_train, y_train, epochs=500, validation_split=0.3), shortened
        fit_and_compare(ours, theirs, x_train * 0.1, y_train * 0.1, "Python ML ch. 14",
                        batch_size=32, validation_split=0.3)
        check(ours.evaluate(x_train, y_train, verbose=0),
              theirs.evaluate(x_train, y_train, verbose=0), "evaluate", "Python ML ch. 14")
        y_arr = ours.predict(x_arr, verbose=0)
        assert y_arr.shape == (40, 1)
        check(y_arr, theirs.predict(x_arr, verbose=0), "predict(x_arr)", "Python ML ch. 14")


# ---------------------------------------------------------------- Coursera C1 W3
COURSERA_CNN = '''
import tensorflow as tf
model = tf.keras.models.Sequential([
  tf.keras.layers.Conv2D(32, (3,3), activation='relu', input_shape=(28, 28, 1)),
  tf.keras.layers.MaxPooling2D(2, 2),
  tf.keras.layers.Conv2D(32, (3,3), activation='relu'),
  tf.keras.layers.MaxPooling2D(2,2),
  tf.keras.layers.Flatten(),
  tf.keras.layers.Dense(128, activation='relu'),
  tf.keras.layers.Dense(10, activation='softmax')
])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])
'''

ACTIVATION_MODEL = '''
import tensorflow as tf
layer_outputs = [layer.output for layer in model.layers]
activation_model = tf.keras.models.Model(inputs = model.input, outputs = layer_outputs)
'''


def test_coursera_activation_model():
    x, y = mnist_subset()
    test_images = x.reshape(-1, 28, 28, 1)
    with floatx_scope(DTYPE):
        ours = run(COURSERA_CNN, "scratchnet")["model"]
        theirs = run(COURSERA_CNN, "tensorflow")["model"]
        same_start(ours, theirs)
        fit_and_compare(ours, theirs, test_images, y, "Coursera CNN")
        mine = run(ACTIVATION_MODEL, "scratchnet", model=ours)["activation_model"]
        keras3 = ACTIVATION_MODEL.replace("inputs = model.input,", "inputs = model.inputs,")
        their = run(keras3, "tensorflow", model=theirs)["activation_model"]
        for image in (0, 7, 26):               # FIRST_IMAGE, SECOND_IMAGE, THIRD_IMAGE
            for x_index, (a, b) in enumerate(zip(
                    mine.predict(test_images[image].reshape(1, 28, 28, 1), verbose=0),
                    their.predict(test_images[image].reshape(1, 28, 28, 1), verbose=0))):
                assert a.shape == b.shape
                check(a, b, f"activation_model output {x_index}", "Coursera activations")
        # the trained model itself still runs fused, the activation model cannot
        assert any(step.pool is not None for step in ours._graph.plan.steps_for(False))
        assert all(step.pool is None for step in mine._graph.plan.steps_for(False))


# ---------------------------------------------------------------- the import paths
IMPORTS = '''
import tensorflow as tf
from tensorflow.keras.layers import Dense, Conv2D, Flatten, MaxPooling2D, Input
from tensorflow.keras.models import Sequential, Model
from tensorflow.keras import Model, layers, models, datasets
from tensorflow.keras.utils import to_categorical
from tensorflow.keras.optimizers import RMSprop
from tensorflow.keras.callbacks import Callback
from tensorflow.keras import Model, Input
from tensorflow.keras.datasets import mnist, fashion_mnist
import tensorflow.keras as keras
from tensorflow import keras
'''


def test_every_import_path_the_lectures_use():
    ns = run(IMPORTS, "scratchnet")
    assert ns["Dense"] is scratchnet.layers.Dense and ns["Model"] is scratchnet.Model
    assert ns["Sequential"] is scratchnet.Sequential and ns["RMSprop"] is scratchnet.optimizers.RMSprop
    assert ns["to_categorical"] is scratchnet.utils.to_categorical
    assert ns["mnist"].load_data is scratchnet.datasets.mnist.load_data
    assert ns["keras"].layers.Dense is ns["Dense"]
    tf_ns = run(IMPORTS, "tensorflow")               # the same text is valid TensorFlow code
    assert tf_ns["Dense"].__name__ == "Dense"


def test_tensorflow_names_around_the_models():
    """tf.newaxis, tf.cast(..., dtype=tf.float32), tf.optimizers, TF1's tf.train and
    tf.set_random_seed, as the university course and older notebooks write them."""
    image = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    for lib in (scratchnet, tf):
        batch = lib.cast(image, dtype=lib.float32)[lib.newaxis, ..., lib.newaxis]
        assert tuple(batch.shape) == (1, 28, 28, 1) and np.asarray(batch).dtype == np.float32
    assert scratchnet.optimizers.Adam is scratchnet.keras.optimizers.Adam
    assert isinstance(scratchnet.train.AdamOptimizer(), scratchnet.optimizers.Adam)
    assert scratchnet.train.AdamOptimizer().epsilon == 1e-8      # TF1's default
    scratchnet.set_random_seed(3)
    scratchnet.random.set_seed(3)
    assert scratchnet.losses.mse is scratchnet.keras.losses.mse
    assert scratchnet.constant([1.0, 2.0]).dtype == np.float32


# ---------------------------------------------------------------- training control (issue 8)
LENET_CALLBACKS = '''
import tensorflow as tf
callbacks = [
    # 3 epochs가 지나도 'val_loss'가 개선되지 않으면 훈련을 중단함.
    tf.keras.callbacks.EarlyStopping(patience=3, monitor='val_loss'),
    #  graph, losses and metrics을 TensorBoard에 기록(log files을 `./logs`에 저장)
    tf.keras.callbacks.TensorBoard(log_dir='./logs', histogram_freq=1, write_graph=True)]

# 모델 훈련
history = model.fit(x_train, y_train, batch_size=32, epochs=80,
          validation_data=(x_test, y_test), verbose=1, callbacks=callbacks)
'''


def _event_tags(run_dir):
    """({scalar tag: [(step, value)]}, {histogram tags}) of one TensorBoard run, read with
    TensorBoard's own reader (TF 2 writes both kinds as tensor summaries)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "histograms": 0,
                                                           "tensors": 0})
    events.Reload()
    tags = events.Tags()
    scalars = {t: [(e.step, e.value) for e in events.Scalars(t)] for t in tags["scalars"]}
    histograms = set(tags["histograms"])
    for t in tags.get("tensors", []):
        arrays = [(e.step, tf.make_ndarray(e.tensor_proto)) for e in events.Tensors(t)]
        if any(a.dtype.kind in "SOU" for _, a in arrays):
            continue                  # text (the model's config that write_graph adds)
        if all(np.ndim(a) == 0 for _, a in arrays):
            scalars[t] = [(step, float(a)) for step, a in arrays]
        else:  # (auto layer names count per library and session: 'dense_12' -> 'dense')
            histograms.add(re.sub(r"_\d+(?=/)", "", t))
    return scalars, histograms


def test_hands_on_cv_lenet5_with_early_stopping_and_tensorboard(tmp_path, monkeypatch, capsys):
    """The LeNet-5 training cell as written (80 epochs, EarlyStopping(patience=3) on
    val_loss, TensorBoard into ./logs) on a small MNIST subset: the same epochs run, the
    same History, and TensorBoard runs with the same scalars."""
    x, y = mnist_subset(64)
    x = x.reshape(-1, 28, 28, 1)
    # one batch of 32 (fit shuffles, as written: within one batch that changes no result),
    # and validation labels that training cannot fit, so that val_loss soon rises
    x_train, y_train, x_test, y_test = x[:32], y[:32], x[32:], (y[32:] + 1) % 10
    histories = {}
    with floatx_scope(DTYPE):
        models = {lib: run(LENET_SEQUENTIAL, lib)["model"] for lib in ("scratchnet",
                                                                       "tensorflow")}
        same_start(models["scratchnet"], models["tensorflow"])
        for lib, model in models.items():
            (tmp_path / lib).mkdir()
            monkeypatch.chdir(tmp_path / lib)             # the cell writes ./logs
            histories[lib] = run(LENET_CALLBACKS, lib, model=model, x_train=x_train,
                                 y_train=y_train, x_test=x_test, y_test=y_test)["history"]
    ours, theirs = histories["scratchnet"], histories["tensorflow"]
    assert ours.epoch == theirs.epoch and len(ours.epoch) < 80     # stopped early, same epoch
    for key in theirs.history:
        check(ours.history[key], theirs.history[key], f"History[{key!r}]", "LeNet-5 callbacks")
    assert "Epoch 1/80" in capsys.readouterr().out
    for run_name in ("train", "validation"):
        ours_scalars, ours_hist = _event_tags(tmp_path / "scratchnet" / "logs" / run_name)
        theirs_scalars, theirs_hist = _event_tags(tmp_path / "tensorflow" / "logs" / run_name)
        assert set(ours_scalars) == set(theirs_scalars) and "epoch_loss" in ours_scalars
        assert ours_hist == theirs_hist and (run_name == "validation" or ours_hist)
        for tag in theirs_scalars:
            assert [s for s, _ in ours_scalars[tag]] == [s for s, _ in theirs_scalars[tag]]
            check([v for _, v in ours_scalars[tag]], [v for _, v in theirs_scalars[tag]],
                  f"TensorBoard {run_name}/{tag}", "LeNet-5 callbacks")


PYTHON_ML_EARLY_STOPPING = '''
import tensorflow as tf
model = tf.keras.Sequential()
model.add(tf.keras.layers.Dense(units=1,input_dim=1))
model.compile(optimizer='sgd',loss='mse')
''', '''
import tensorflow as tf
callback_list = [tf.keras.callbacks.EarlyStopping(patience=5)]
history= model.fit(x_train,y_train,epochs=500,
                   validation_split=0.2,callbacks=callback_list)
'''


def test_python_ml_early_stopping():
    """Python ML ch. 14's EarlyStopping(patience=5) cell (its ModelCheckpoint, a file format,
    is left out here) on the chapter's 1-D data: the same epochs, the same History."""
    rng = np.random.default_rng(1)
    x_train = np.arange(10, dtype=DTYPE) * 0.1
    y_train = 2 * x_train - 1 + rng.normal(scale=0.3, size=10)
    build, train = PYTHON_ML_EARLY_STOPPING
    histories = {}
    with floatx_scope(DTYPE):
        models = {lib: run(build, lib)["model"] for lib in ("scratchnet", "tensorflow")}
        for model in models.values():       # start at the noise-free line y = 2x - 1
            model.set_weights([np.array([[2.0]]), np.array([-1.0])])
        for lib, model in models.items():
            histories[lib] = run(train, lib, model=model, x_train=x_train,
                                 y_train=y_train)["history"]
    ours, theirs = histories["scratchnet"], histories["tensorflow"]
    assert ours.epoch == theirs.epoch and len(ours.epoch) < 500
    for key in theirs.history:
        check(ours.history[key], theirs.history[key], f"History[{key!r}]", "EarlyStopping")


PYTHON_ML_CNN = PYTHON_ML_CNN_CELL


def test_python_ml_cnn_with_dropout():
    """Python ML ch. 15's CNN with its Dropout(0.5): identity at inference (predict and
    evaluate agree with TensorFlow), active in fit (a training step differs from the one
    without dropout, and the model learns)."""
    x, y = mnist_subset(64)
    x = x.reshape(-1, 28, 28, 1)
    y_onehot = scratchnet.keras.utils.to_categorical(y, 10)
    with floatx_scope(DTYPE):
        ours = run(PYTHON_ML_CNN, "scratchnet")["model"]
        theirs = run(PYTHON_ML_CNN, "tensorflow")["model"]
        same_start(ours, theirs)
        assert ours.count_params() == theirs.count_params()
        check(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), "predict", "dropout")
        check(ours.evaluate(x, y_onehot, verbose=0), theirs.evaluate(x, y_onehot, verbose=0),
              "evaluate", "dropout")
        start = ours.get_weights()
        ours.fit(x, y_onehot, batch_size=64, epochs=1, shuffle=False, verbose=0)
        with_dropout = ours.get_weights()
        ours.set_weights(start)
        ours.layers[-2].rate = 0.0              # the same step without dropout
        ours.fit(x, y_onehot, batch_size=64, epochs=1, shuffle=False, verbose=0)
        assert not np.allclose(with_dropout[-4], ours.get_weights()[-4])
        ours.layers[-2].rate = 0.5
        ours.set_weights(start)
        history = ours.fit(x, y_onehot, batch_size=16, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


COURSERA_LR_SWEEP = '''
import tensorflow as tf
lr_schedule = tf.keras.callbacks.LearningRateScheduler(
    lambda epoch: 1e-8 * 10**(epoch / 20))
optimizer = tf.keras.optimizers.SGD(lr=1e-8, momentum=0.9)
model.compile(loss="mse", optimizer=optimizer)
history = model.fit(x, y, epochs=100, callbacks=[lr_schedule], verbose=0)
'''


def test_coursera_learning_rate_sweep():
    """The Coursera notebooks' learning-rate sweep (LearningRateScheduler raising the rate
    tenfold every 20 epochs, `SGD(lr=..., momentum=0.9)` as tf.keras 2 wrote it): the same
    learning-rate trajectory and losses. (The notebook feeds a windowed series; here 30
    windows of a noisy sine, one batch, as arrays.) Keras 3 refuses `lr=`, so its run reads
    `learning_rate=`."""
    rng = np.random.default_rng(2)
    series = np.sin(np.arange(60) * 0.3) + rng.normal(scale=0.1, size=60)
    x = np.stack([series[i:i + 5] for i in range(30)])   # one batch of 30: fit's
    y = series[5:35]                                        # shuffling changes no sum
    build = '''
import tensorflow as tf
model = tf.keras.models.Sequential([
  tf.keras.layers.Dense(10, input_shape=[5], activation="relu"),
  tf.keras.layers.Dense(10, activation="relu"),
  tf.keras.layers.Dense(1)
])
'''
    with floatx_scope(DTYPE):
        ours = run(build, "scratchnet")["model"]
        theirs = run(build, "tensorflow")["model"]
        same_start(ours, theirs)
        h1 = run(COURSERA_LR_SWEEP, "scratchnet", model=ours, x=x, y=y)
        h2 = run(COURSERA_LR_SWEEP.replace("lr=", "learning_rate="), "tensorflow",
                 model=theirs, x=x, y=y)
    ours, theirs = h1["history"].history, h2["history"].history
    assert set(ours) == set(theirs) == {"loss", "learning_rate"}
    check(ours["learning_rate"], theirs["learning_rate"], "learning_rate", "LR sweep")
    finite = np.isfinite(theirs["loss"])
    check(np.asarray(ours["loss"])[finite], np.asarray(theirs["loss"])[finite], "loss",
          "LR sweep")

"""Whole-model parity with tf.keras for convolutional networks: fit / evaluate / predict.

The same protocol as tests/test_model_parity.py (whose helpers this file imports): a
scratchnet Sequential and its tf.keras twin start from identical weights, train for 1-3 steps
of `fit(shuffle=False)` on identical small random data, and must end with the same weights
and the same History, then agree on `evaluate` and `predict`. Tolerances come from
tests/tolerances.py only (float64 1e-9, float32 1e-4 relative).

* The lecture CNNs, written in tf.keras exactly as the lectures write them: the Coursera C1 W3
  CNN (Conv2D(64, (3, 3)) -> MaxPooling2D(2, 2) -> ... -> Dense(10, softmax); adam, sparse
  crossentropy, accuracy) and its 32-filter variant, LeNet-5 as Hands-On CV ch. 3 builds it,
  and the Python ML ch. 15 CNN without its Dropout (adam, categorical crossentropy on one-hot
  labels, metrics=['acc']). Small batches (12 samples: a batch of 8 and a partial 4).
* Drawn small CNNs (Hypothesis): random Conv2D / MaxPooling2D / AveragePooling2D stacks
  ('same' / 'valid', strides, dilation), a Flatten or global-pooling head, 5-12 pixel inputs
  with 1-3 channels, every optimizer and loss, batches of 1-4 with a partial last batch.
* The university course's facts: `Conv2D(3, 3, 1, 'SAME')` on one MNIST image (1, 28, 28, 1)
  gives (1, 28, 28, 3) with a (3, 3, 1, 3) kernel; ReLU then `MaxPool2D(pool_size=(2, 2),
  strides=(2, 2), padding='SAME')` gives (1, 14, 14, 3); the values equal TensorFlow's.

float32: Adam / RMSprop / Adagrad / Adadelta step by about lr * g / |g|, so a gradient whose
float32 value is decided by rounding (a sum that cancels) moves its weight by a different
amount in each library. As in test_model_parity.py, a float32 weight mismatch is accepted only
where TensorFlow's own float32 result misses the float64 truth (the float64 twin trained from
the same start) by more than the float32 tolerance; then evaluate/predict are compared from
identical (scratchnet's) weights so that they test evaluate/predict, not that drift.
"""
import math

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import parity_log
import scratchnet as sn
import test_model_parity as model_parity
from test_model_parity import (DTYPES, check_evaluate_predict, check_history, check_weights,
                               check_float32_weights_against_float64_truth, fit_both,
                               optimizer_specs, random_data)
from lecture_cnns import coursera_cnn, lenet5, pyml_ch15_cnn
from tf_support import import_tf
from tolerances import assert_close

tf = import_tf()
import keras  # noqa: E402  (after TF)

from reference import floatx_scope, to_keras  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")


def check(actual, expected, dtype, what, kind):
    """Assert and log through parity_log (conftest prints the table at the end of the run),
    under the area 'CNN model <kind>'."""
    parity_log.check(actual, expected, dtype, what, f"CNN model {kind}")


@pytest.fixture(scope="module", autouse=True)
def _log_model_parity_as_cnn():
    """The helpers imported from test_model_parity compare through that module's `check`;
    while this module runs they use this module's, so the numbers land in parity_log."""
    original = model_parity.check
    model_parity.check = check
    yield
    model_parity.check = original


def run_parity(model, twin, make_twin64, x, y, batch_size, epochs, dtype, steps):
    """fit both from the same weights, then compare History, weights, evaluate, predict."""
    check_weights(model, twin, dtype, "initial weights")
    initial = model.get_weights()
    hs, hk = fit_both(model, twin, x, y, batch_size, epochs)
    check_history(hs, hk, dtype)
    assert model.optimizer.iterations == int(twin.optimizer.iterations.numpy()) == steps
    try:
        check_weights(model, twin, dtype)
    except AssertionError:
        if dtype != "float32":
            raise
        check_float32_weights_against_float64_truth(model, twin, make_twin64, initial, x, y,
                                                    batch_size, epochs)
        twin.set_weights(model.get_weights())   # evaluate/predict from identical weights
    check_evaluate_predict(model, twin, x, y, batch_size, dtype)

# ---------------------------------------------------------------------------- lecture models


LECTURES = {
    # name: (builder(Sequential, layers), compile kwargs, one-hot labels?)
    "coursera_cnn_64": (lambda S, L: coursera_cnn(S, L, 64),
                        dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                             metrics=["accuracy"]), False),
    "coursera_cnn_32": (lambda S, L: coursera_cnn(S, L, 32),
                        dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                             metrics=["accuracy"]), False),
    "lenet5": (lenet5, dict(optimizer="adam", loss="sparse_categorical_crossentropy",
                            metrics=["accuracy"]), False),
    "pyml_ch15_cnn": (pyml_ch15_cnn, dict(optimizer="adam", loss="categorical_crossentropy",
                                          metrics=["acc"]), True),
}


def mnist_like(n, seed, dtype):
    """n 28x28x1 images with MNIST's pixel scale (0..255 / 255) and labels 0..9."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28, 1)).astype(dtype) / 255.0
    return x.astype(dtype), rng.integers(0, 10, size=n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", sorted(LECTURES))
def test_lecture_cnn_fit_evaluate_predict_match_keras(which, dtype):
    build, compile_kwargs, one_hot = LECTURES[which]
    x, labels = mnist_like(12, seed=sorted(LECTURES).index(which), dtype=dtype)
    y = np.eye(10, dtype=dtype)[labels] if one_hot else labels

    def make_twin():
        twin = build(keras.Sequential, keras.layers)
        twin.compile(**compile_kwargs, jit_compile=False)
        return twin

    with floatx_scope(dtype):
        sn.backend.set_random_seed(17)
        model = build(sn.Sequential, sn.layers)
        model.compile(**compile_kwargs)
        twin = make_twin()
        twin.set_weights(model.get_weights())
        # 2 steps: a batch of 8 and a partial batch of 4
        run_parity(model, twin, make_twin, x, y, 8, 1, dtype, steps=2)

# ---------------------------------------------------------------------------- drawn models


OUTPUTS = {  # loss -> (output activation, metrics choices)
    "sparse_categorical_crossentropy": (("softmax", "logits"), (["accuracy"], [])),
    "categorical_crossentropy": (("softmax", "logits"), (["acc"], [])),
    "binary_crossentropy": (("sigmoid", "logits"), (["accuracy"], [])),
    "mse": (("linear", "tanh"), (["mae"], [])),
}


@st.composite
def cnn_cases(draw):
    dtype = draw(st.sampled_from(DTYPES))
    h, w, c = draw(st.integers(5, 12)), draw(st.integers(5, 12)), draw(st.integers(1, 3))
    blocks, shape = [], (h, w)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["conv", "conv", "max", "avg"]))
        padding = draw(st.sampled_from(["valid", "same"]))
        if kind == "conv":
            kernel = draw(st.sampled_from([1, 2, 3, (3, 2), (1, 3)]))
            k = (kernel, kernel) if isinstance(kernel, int) else kernel
            strides = draw(st.sampled_from([1, 1, 2, (1, 2)]))
            s = (strides, strides) if isinstance(strides, int) else strides
            dilation = 2 if (s == (1, 1) and draw(st.integers(0, 3)) == 0) else 1
            block = dict(kind=kind, filters=draw(st.integers(1, 4)), kernel_size=kernel,
                         strides=strides, padding=padding, dilation_rate=dilation,
                         activation=draw(st.sampled_from(["relu", "relu", "tanh", "sigmoid",
                                                          "linear"])),
                         use_bias=draw(st.booleans()))
            eff = tuple((kk - 1) * dilation + 1 for kk in k)
        else:
            pool = draw(st.sampled_from([2, 2, 3, (2, 1)]))
            k = (pool, pool) if isinstance(pool, int) else pool
            strides = draw(st.sampled_from([None, 1, 2]))
            s = k if strides is None else (strides, strides)
            block = dict(kind=kind, pool_size=pool, strides=strides, padding=padding)
            eff = k
        if padding == "valid" and any(n < e for n, e in zip(shape, eff)):
            block["padding"] = padding = "same"   # 'valid' would leave nothing
        shape = tuple(math.ceil(n / ss) if padding == "same" else (n - e) // ss + 1
                      for n, e, ss in zip(shape, eff, s))
        blocks.append(block)
    loss = draw(st.sampled_from(sorted(OUTPUTS)))
    outputs, metric_choices = OUTPUTS[loss]
    classes = draw(st.integers(2, 3)) if "categorical" in loss else draw(st.integers(1, 2))
    batch_size = draw(st.integers(1, 4))
    steps = draw(st.integers(1, 3))
    last = draw(st.integers(1, batch_size))
    return {
        "dtype": dtype, "in_shape": (h, w, c), "blocks": blocks,
        "head": draw(st.sampled_from(["flatten", "global_avg", "global_max",
                                      "global_max_keepdims"])),
        "hidden": draw(st.sampled_from([0, 0, 3])),
        "loss": loss, "output": draw(st.sampled_from(outputs)), "classes": classes,
        "metrics": draw(st.sampled_from(metric_choices)),
        "optimizer": draw(optimizer_specs()),
        "batch_size": batch_size, "steps": steps,
        "samples": batch_size * (steps - 1) + last,
        "seed": draw(st.integers(0, 2**16)),
    }


def build_cnn(spec):
    """The scratchnet model (built, compiled) and the data of a drawn CNN case."""
    L = sn.layers
    sn.backend.set_random_seed(spec["seed"])
    layers = [L.Input(shape=spec["in_shape"])]
    for block in spec["blocks"]:
        args = {k: v for k, v in block.items() if k != "kind"}
        layers.append({"conv": L.Conv2D, "max": L.MaxPooling2D,
                       "avg": L.AveragePooling2D}[block["kind"]](**args))
    head = spec["head"]
    if head == "flatten":
        layers.append(L.Flatten())
    elif head == "global_avg":
        layers.append(L.GlobalAveragePooling2D())
    elif head == "global_max":
        layers.append(L.GlobalMaxPooling2D())
    else:
        layers += [L.GlobalMaxPooling2D(keepdims=True), L.Flatten()]
    if spec["hidden"]:
        layers.append(L.Dense(spec["hidden"], activation="tanh"))
    out, k = spec["output"], spec["classes"]
    layers.append(L.Dense(k, activation=None if out == "logits" else out))
    model = sn.Sequential(layers)
    loss = spec["loss"]
    if out == "logits":
        loss = {"sparse_categorical_crossentropy": sn.losses.SparseCategoricalCrossentropy,
                "categorical_crossentropy": sn.losses.CategoricalCrossentropy,
                "binary_crossentropy": sn.losses.BinaryCrossentropy}[loss](from_logits=True)
    optimizer = type(spec["optimizer"]).from_config(spec["optimizer"].get_config())
    model.compile(optimizer=optimizer, loss=loss, metrics=spec["metrics"])

    x, y = random_data(spec, k)
    return model, x, y


@given(cnn_cases())
def test_drawn_cnns_fit_evaluate_predict_match_keras(spec):
    dtype = spec["dtype"]
    event(f"{len(spec['blocks'])} conv/pool blocks, head {spec['head']}")

    def make_twin64():
        model64, _, _ = build_cnn({**spec, "dtype": "float64"})
        return to_keras(model64)

    with floatx_scope(dtype):
        model, x, y = build_cnn(spec)
        assert model.dtype == dtype
        twin = to_keras(model)
        run_parity(model, twin, make_twin64, x, y, spec["batch_size"], 1, dtype,
                   steps=spec["steps"])

# ---------------------------------------------------------------------------- lecture facts


def one_mnist_image(monkeypatch):
    """The first MNIST training image as (1, 28, 28, 1) floats in [0, 1]; without a cached
    MNIST (offline CI), a drawn stroke of the same size and scale."""
    monkeypatch.setenv("SCRATCHNET_OFFLINE", "1")
    try:
        (x_train, _), _ = sn.datasets.mnist.load_data()
        image = x_train[0]
    except (OSError, ValueError):   # DatasetUnavailableError is a FileNotFoundError
        image = np.zeros((28, 28), np.uint8)
        rows = np.arange(5, 23)
        image[rows, 14 + (rows - 14) // 3] = 255
        image[rows, 15 + (rows - 14) // 3] = 180
    return image.reshape(1, 28, 28, 1).astype(np.float32) / 255.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_university_course_conv_relu_maxpool_on_one_image(dtype, monkeypatch):
    """The university course's code, line by line, against TensorFlow with the same kernel."""
    img = one_mnist_image(monkeypatch).astype(dtype)
    assert img.shape == (1, 28, 28, 1)
    with floatx_scope(dtype):
        sn.backend.set_random_seed(0)
        layer = sn.layers.Conv2D(3, 3, 1, "SAME")
        out = layer(img)
        assert out.shape == (1, 28, 28, 3)
        assert layer.get_weights()[0].shape == (3, 3, 1, 3)
        assert layer.get_weights()[1].shape == (3,)
        relu = sn.layers.ReLU()(out)
        pooled = sn.layers.MaxPool2D(pool_size=(2, 2), strides=(2, 2), padding="SAME")(relu)
        assert pooled.shape == (1, 14, 14, 3)
        assert out.dtype == relu.dtype == pooled.dtype == np.dtype(dtype)

        k_layer = tf.keras.layers.Conv2D(3, 3, 1, "SAME")
        k_layer.build((1, 28, 28, 1))
        k_layer.set_weights(layer.get_weights())
        k_out = k_layer(tf.constant(img))
        k_relu = tf.keras.layers.ReLU()(k_out)
        k_pooled = tf.keras.layers.MaxPool2D(pool_size=(2, 2), strides=(2, 2),
                                             padding="SAME")(k_relu)
    assert tuple(k_out.shape) == (1, 28, 28, 3) and tuple(k_pooled.shape) == (1, 14, 14, 3)
    check(out, k_out.numpy(), dtype, "Conv2D(3, 3, 1, 'SAME')", "lecture")
    check(relu, k_relu.numpy(), dtype, "ReLU", "lecture")
    check(pooled, k_pooled.numpy(), dtype, "MaxPool2D SAME", "lecture")
    # the pooled map is the max of each 2x2 block of the ReLU output (28 is even: no padding)
    blocks = relu.reshape(1, 14, 2, 14, 2, 3).max(axis=(2, 4))
    assert_close(pooled, blocks, dtype, "2x2 block maxima")

"""`model.summary()` shows the same rows and totals as Keras's, for the lecture models.

Both summaries are captured through `print_fn` and parsed into (layer type, output shape,
parameter count) rows plus the total; layer *names* are not compared, since both libraries
number them with session-wide counters ('dense_7' here may be 'dense_3' there).
"""
import re

import pytest

import scratchnet as sn
from tf_support import import_tf

tf = import_tf()
import keras  # noqa: E402

_ROW = re.compile(r"^[│┃]\s*(?P<name>\S+) \((?P<type>\w+)\)\s*[│┃]\s*(?P<shape>\([^)]*\))\s*[│┃]"
                  r"\s*(?P<params>[\d,]+)\s*[│┃]")
_TOTAL = re.compile(r"Total params:\s*([\d,]+)")


def capture(model):
    lines = []

    def print_fn(text, line_break=True):  # Keras passes line_break=...
        lines.extend(str(text).splitlines())

    model.summary(print_fn=print_fn)
    return lines


def parse(lines):
    rows = [(m["type"], m["shape"].replace(" ", ""), int(m["params"].replace(",", "")))
            for m in map(_ROW.match, lines) if m]
    totals = [int(m.group(1).replace(",", "")) for m in map(_TOTAL.search, lines) if m]
    assert len(totals) == 1, lines
    return rows, totals[0]


def lecture_pairs():
    L, K = sn.layers, keras.layers
    return {
        # ML Zero to Hero 2 (Fashion-MNIST)
        "fashion_mlp": (
            lambda: sn.Sequential([L.Flatten(input_shape=(28, 28)),
                                   L.Dense(128, activation=sn.nn.relu),
                                   L.Dense(10, activation=sn.nn.softmax)]),
            lambda: keras.Sequential([K.Flatten(input_shape=(28, 28)),
                                      K.Dense(128, activation=tf.nn.relu),
                                      K.Dense(10, activation=tf.nn.softmax)])),
        # ML Zero to Hero 1 (y = 2x - 1)
        "line": (lambda: sn.Sequential([L.Dense(units=1, input_shape=[1])]),
                 lambda: keras.Sequential([K.Dense(units=1, input_shape=[1])])),
        # Dense(512) / Dense(256) MLP on MNIST-sized inputs
        "mlp_512_256": (
            lambda: sn.Sequential([L.Flatten(input_shape=(28, 28)),
                                   L.Dense(512, activation="relu"),
                                   L.Dense(256, activation="relu"),
                                   L.Dense(10, activation="softmax")]),
            lambda: keras.Sequential([K.Flatten(input_shape=(28, 28)),
                                      K.Dense(512, activation="relu"),
                                      K.Dense(256, activation="relu"),
                                      K.Dense(10, activation="softmax")])),
        # Python Machine Learning ch. 13
        "pyml_ch13": (
            lambda: sn.Sequential([
                L.Dense(50, input_dim=784, kernel_initializer="glorot_uniform",
                        bias_initializer="zeros", activation="tanh"),
                L.Dense(50, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                        activation="tanh"),
                L.Dense(10, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                        activation="softmax")]),
            lambda: keras.Sequential([
                K.Input(shape=(784,)),
                K.Dense(50, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                        activation="tanh"),
                K.Dense(50, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                        activation="tanh"),
                K.Dense(10, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                        activation="softmax")])),
    }


EXPECTED_TOTALS = {"fashion_mlp": 101_770, "line": 2, "mlp_512_256": 535_818,
                   "pyml_ch13": 42_310}


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
@pytest.mark.parametrize("which", sorted(lecture_pairs()))
def test_summary_rows_match_keras(which):
    make_ours, make_keras = lecture_pairs()[which]
    ours_lines, keras_lines = capture(make_ours()), capture(make_keras())
    ours, keras_rows = parse(ours_lines), parse(keras_lines)
    assert ours[0], ours_lines
    assert ours == keras_rows, "\n".join(ours_lines + ["--- keras ---"] + keras_lines)
    assert ours[1] == EXPECTED_TOTALS[which]


def test_fashion_dense_has_100480_params():
    rows, _ = parse(capture(lecture_pairs()["fashion_mlp"][0]()))
    assert rows[:2] == [("Flatten", "(None,784)", 0), ("Dense", "(None,128)", 100_480)]

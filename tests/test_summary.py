"""`model.summary()` shows the same rows and totals as Keras's, for the lecture models.

Both summaries are captured through `print_fn` and parsed into (layer type, output shape,
parameter count) rows plus the total; layer *names* are not compared, since both libraries
number them with session-wide counters ('dense_7' here may be 'dense_3' there). A row whose
name wraps over several lines (Keras wraps 'average_pooling2d (AveragePooling2D)') is joined
back first. The models: the lecture MLPs and the lecture CNNs (Coursera C1 W3 and its quiz,
LeNet-5, Python ML ch. 15, the 300x300x3 horse-or-human network of C1 W4); for the long-name
layout, the whole printout is compared with Keras's, line for line.
"""
import re

import pytest

import scratchnet as sn
from lecture_cnns import coursera_cnn, horse_or_human, lenet5, pyml_ch15_cnn
from tf_support import import_tf

tf = import_tf()
import keras  # noqa: E402

_ROW = re.compile(r"^[│┃]\s*(?P<name>.+?) \((?P<type>\w+)\)\s*[│┃]\s*(?P<shape>\([^)]*\))\s*[│┃]"
                  r"\s*(?P<params>[\d,]+)\s*[│┃]")
_TOTAL = re.compile(r"Total params:\s*([\d,]+)")


def capture(model):
    lines = []

    def print_fn(text, line_break=True):  # Keras passes line_break=...
        lines.extend(str(text).splitlines())

    model.summary(print_fn=print_fn)
    return lines


def table_rows(lines):
    """The body rows of a summary table, a row that wraps over several lines joined back:
    each cell's fragments are joined with spaces (Keras wraps 'average_pooling2d
    (AveragePooling2D)' over two lines in an 80-column terminal)."""
    rows, current = [], None
    for line in lines:
        if line[:1] in ("┡", "├", "└"):        # a rule closes the row above it
            if current:
                rows.append("│ " + " │ ".join(" ".join(c) for c in current) + " │")
            current = [] if line[:1] != "└" else None
        elif line[:1] == "│" and current is not None:
            cells = [c.strip() for c in line.strip()[1:-1].split("│")]
            current = current or [[] for _ in cells]
            for parts, cell in zip(current, cells):
                if cell:
                    parts.append(cell)
    return rows


def parse(lines):
    rows = [(m["type"], m["shape"].replace(" ", ""), int(m["params"].replace(",", "")))
            for m in map(_ROW.match, table_rows(lines)) if m]
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


def conv_lecture_pairs():
    """The convolutional lecture models, each written the same way with both libraries."""

    def both(build):
        return (lambda: build(sn.Sequential, sn.layers, sn.nn),
                lambda: build(keras.Sequential, keras.layers, tf.nn))

    return {
        # Coursera C1 W3 / ML Zero to Hero 3 (and its 32-filter variant)
        "coursera_cnn_64": both(lambda S, L, nn: coursera_cnn(S, L, 64)),
        "coursera_cnn_32": both(lambda S, L, nn: coursera_cnn(S, L, 32)),
        "lenet5": both(lambda S, L, nn: lenet5(S, L)),
        "pyml_ch15_cnn": both(lambda S, L, nn: pyml_ch15_cnn(S, L)),
        "horse_or_human": both(lambda S, L, nn: horse_or_human(S, L)),
        "global_pools": both(lambda S, L, nn: S([
            L.Conv2D(8, 3, padding="same", activation="relu", input_shape=(12, 12, 3)),
            L.AveragePooling2D(pool_size=(2, 2), strides=1, padding="same"),
            L.Conv2D(4, 3, strides=2),
            L.GlobalMaxPooling2D(keepdims=True),
            L.GlobalAveragePooling2D(),
            L.Dense(2, activation=nn.softmax)])),
    }


EXPECTED_TOTALS = {"fashion_mlp": 101_770, "line": 2, "mlp_512_256": 535_818,
                   "pyml_ch13": 42_310,
                   # the conv models: Keras's numbers, written out
                   "coursera_cnn_64": 243_786, "coursera_cnn_32": 113_386, "lenet5": 61_706,
                   "pyml_ch15_cnn": 1_111_946, "horse_or_human": 40_165_409,
                   "global_pools": 526}


def all_pairs():
    return {**lecture_pairs(), **conv_lecture_pairs()}


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
@pytest.mark.parametrize("which", sorted(all_pairs()))
def test_summary_rows_match_keras(which):
    make_ours, make_keras = all_pairs()[which]
    ours_lines, keras_lines = capture(make_ours()), capture(make_keras())
    ours, keras_rows = parse(ours_lines), parse(keras_lines)
    assert ours[0], ours_lines
    assert ours == keras_rows, "\n".join(ours_lines + ["--- keras ---"] + keras_lines)
    assert ours[1] == EXPECTED_TOTALS[which]


def test_fashion_dense_has_100480_params():
    rows, _ = parse(capture(lecture_pairs()["fashion_mlp"][0]()))
    assert rows[:2] == [("Flatten", "(None,784)", 0), ("Dense", "(None,128)", 100_480)]


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
def test_coursera_quiz_conv_shapes_and_params():
    """Conv2D(64, (3, 3)) on 28x28x1 -> (None, 26, 26, 64) with 640 parameters
    (3*3*1*64 + 64); MaxPooling2D(2, 2) -> (None, 13, 13, 64)."""
    rows, _ = parse(capture(conv_lecture_pairs()["coursera_cnn_64"][0]()))
    assert rows[:3] == [("Conv2D", "(None,26,26,64)", 640),
                        ("MaxPooling2D", "(None,13,13,64)", 0),
                        ("Conv2D", "(None,11,11,64)", 36_928)]


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
def test_horse_or_human_has_40165409_params():
    """Coursera C1 W4 notes: the 300x300x3 network has 40,165,409 parameters, almost all of
    them in the Dense(512) after Flatten (300 -> 298 -> 149 -> 147 -> 73 -> 71 -> 35:
    35x35x64 = 78,400 inputs)."""
    model = conv_lecture_pairs()["horse_or_human"][0]()
    assert model.count_params() == 40_165_409
    rows, total = parse(capture(model))
    assert total == 40_165_409
    assert rows[5:8] == [("MaxPooling2D", "(None,35,35,64)", 0), ("Flatten", "(None,78400)", 0),
                         ("Dense", "(None,512)", 40_141_312)]


def test_long_names_wrap_like_keras(monkeypatch):
    """'average_pooling2d (AveragePooling2D)' does not fit the 31 characters of the first
    column: like Keras (rich), scratchnet wraps it at the space onto a second line instead of
    pushing the column borders out, and cuts a single word that is too long with '…'. With the
    same names, the whole printout equals Keras's in an 80-column terminal."""
    monkeypatch.setenv("COLUMNS", "80")  # Keras sizes its table to the terminal

    def build(S, L, name):
        return S([L.Input(shape=(12, 12, 3)) if S is sn.Sequential else keras.Input((12, 12, 3)),
                  L.Conv2D(4, 3, name="conv2d"),
                  L.AveragePooling2D(pool_size=(2, 2), name="average_pooling2d"),
                  L.GlobalAveragePooling2D(name="global_average_pooling2d", keepdims=True),
                  L.GlobalMaxPooling2D(name="a_very_long_layer_name_without_any_space"),
                  L.Dense(3, name="a name with spaces that needs three lines of the first "
                                  "column to fit")],
                 name=name)

    ours = capture(build(sn.Sequential, sn.layers, "wrapping"))
    theirs = [line.rstrip() for line in capture(build(keras.Sequential, keras.layers,
                                                      "wrapping"))]
    assert [line.rstrip() for line in ours] == theirs, "\n".join(ours + ["--- keras ---"] + theirs)
    widths = {len(line) for line in ours if line[:1] in "┏┃┡│├└"}
    assert widths == {76}, widths
    starts = [line[:35] for line in ours]
    assert "│ average_pooling2d               │" in starts
    assert "│ (AveragePooling2D)              │" in starts
    assert any(line.startswith("│ a_very_long_layer_name_without… │") for line in ours)
    rows, total = parse(ours)
    assert [r[0] for r in rows] == ["Conv2D", "AveragePooling2D", "GlobalAveragePooling2D",
                                    "GlobalMaxPooling2D", "Dense"]
    assert total == 4 * 28 + 3 * 4 + 3


def whole_printout_equal(ours_model, keras_model):
    ours = [line.rstrip() for line in capture(ours_model)]
    theirs = [line.rstrip() for line in capture(keras_model)]
    assert ours == theirs, "\n".join(ours + ["--- keras ---"] + theirs)
    return ours


def test_functional_graph_with_connections_like_keras(monkeypatch):
    """A graph that is not a chain (two inputs, a shared layer, merges, two outputs): Keras
    adds the "Connected to" column, each call as layer[node][tensor]; so does scratchnet."""
    monkeypatch.setenv("COLUMNS", "80")

    def build(K):
        L = K.layers
        a, b = K.Input(shape=(4,), name="a"), K.Input(shape=(4,), name="b")
        shared = L.Dense(3, name="shared")
        ha, hb = shared(a), shared(b)
        s = L.Add(name="sum")([ha, hb])
        c = L.Concatenate(name="joined")([ha, s])
        return K.Model([a, b], [L.Dense(1, name="score")(c), L.Dense(2, name="label")(s)],
                       name="two_headed")

    lines = whole_printout_equal(build(sn.keras), build(keras))
    assert any("Connected to" in line for line in lines)
    assert any("a[0][0], b[0][0]" in line for line in lines)


def test_nested_sequential_in_functional_like_keras(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")

    def build(K):
        L = K.layers
        block = K.Sequential([L.Dense(3, activation="relu", name="b1"), L.Dense(2, name="b2")],
                             name="block")
        inputs = K.Input(shape=(4,), name="x")
        return K.Model(inputs, L.Dense(1, name="top")(block(inputs)), name="outer")

    whole_printout_equal(build(sn.keras), build(keras))


@pytest.mark.filterwarnings("ignore:`build\\(\\)` was called")
def test_subclassed_lenet5_after_fit_like_keras():
    """Hands-On CV's `class LeNet5(Model)`: before a first call every row is unbuilt; after
    fit the rows show each layer's output shape ('?' for the pooling layer called on two
    shapes, as Keras prints it) and the optimizer's variables are counted."""
    import numpy as np

    def make(M, L):
        class LeNet5(M):
            def __init__(self, num_classes):
                super().__init__(name="le_net5")
                self.conv1 = L.Conv2D(6, kernel_size=(5, 5), padding="same", activation="relu")
                self.conv2 = L.Conv2D(16, kernel_size=(5, 5), activation="relu")
                self.max_pool = L.MaxPooling2D(pool_size=(2, 2))
                self.flatten = L.Flatten()
                self.dense1 = L.Dense(120, activation="relu")
                self.dense2 = L.Dense(84, activation="relu")
                self.dense3 = L.Dense(num_classes, activation="softmax")

            def call(self, inputs):
                x = self.max_pool(self.conv1(inputs))
                x = self.max_pool(self.conv2(x))
                x = self.flatten(x)
                return self.dense3(self.dense2(self.dense1(x)))

        return LeNet5(10)

    ours, theirs = make(sn.Model, sn.layers), make(keras.Model, keras.layers)
    unbuilt = [line.split("│")[1].strip() for line in capture(ours) if "unbuilt" in line]
    assert [name.split(" ")[1] for name in unbuilt] == ["(Conv2D)", "(Conv2D)", "(Flatten)",
                                                      "(Dense)", "(Dense)", "(Dense)"]
    x, y = np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, "int64")
    for model in (ours, theirs):
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
        model.fit(x, y, verbose=0)
    ours_lines, keras_lines = capture(ours), capture(theirs)
    assert parse(ours_lines) == parse(keras_lines)
    assert [r for r in table_rows(ours_lines) if "MaxPooling2D" in r][0].split("│")[2].strip() \
        == "?"
    tail = [line.strip() for line in ours_lines if "params:" in line]
    assert tail == [line.strip() for line in keras_lines if "params:" in line]
    assert tail[-1] == "Optimizer params: 2 (12.00 B)"

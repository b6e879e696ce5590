"""The progress display against Keras 3's: its Progbar for the same inputs, and what
`fit`/`evaluate`/`predict` print next to tf.keras.

* Progbar, unit level, with a fake clock (both read `time.time()`): verbose=2 and the
  redrawn terminal bar (verbose=1 on a terminal) are byte for byte Keras's, drawn by
  Hypothesis over targets, widths, update sequences, metric values and step times.
* Not a terminal (pytest's captured stdout, a log file): scratchnet writes only the finished
  line of each bar; it must be the line a terminal shows at the end of Keras's output
  (Keras draws with backspaces and '\\r' there too; `render` plays them like a terminal).
* fit/evaluate/predict next to tf.keras: the same lines once the timings are masked.
"""
import contextlib
import io
import re
import time
from unittest import mock

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet as sn
from scratchnet.callbacks.progbar import Progbar
from tf_support import import_tf

tf = import_tf()
from keras.src.utils.progbar import Progbar as KerasProgbar  # noqa: E402
from reference import floatx_scope  # noqa: E402

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def render(text):
    """The screen a terminal shows after `text`: '\\r' returns to the line's start, '\\b'
    moves one left, characters overwrite; ANSI colour codes take no room. Trailing spaces
    (Keras pads a shorter line to wipe a longer one) are dropped."""
    lines, line, col = [], [], 0
    for ch in _ANSI.sub("", text):
        if ch == "\n":
            lines.append("".join(line).rstrip())
            line, col = [], 0
        elif ch == "\r":
            col = 0
        elif ch == "\b":
            col = max(col - 1, 0)
        else:
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
    if line:
        lines.append("".join(line).rstrip())
    return lines


def run_bar(cls, script, times, dynamic, **kwargs):
    """Drive a Progbar through `script` [(current, values, finalize)] with time.time()
    returning `times` in turn; what it printed."""
    clock = iter(times)
    out = io.StringIO()
    with mock.patch.object(time, "time", lambda: next(clock)), contextlib.redirect_stdout(out):
        bar = cls(**kwargs)
        bar._dynamic_display = dynamic
        for current, values, finalize in script:
            bar.update(current, values, finalize=finalize)
    return out.getvalue()


NAMES = ["accuracy", "loss", "val_loss", "mae", "learning_rate"]
VALUES = st.one_of(st.floats(-1e4, 1e4, allow_nan=False),
                   st.sampled_from([0.0, 1e-3, -1e-3, 0.0010001, 1e-7, 123456.789, -0.5]))


@st.composite
def bar_cases(draw):
    target = draw(st.one_of(st.none(), st.integers(1, 200_000)))
    steps = 1 if target == 1 else draw(st.integers(1, 8))
    top = 5000 if target is None else max(target - 1, 1)  # the last update ends the bar
    currents = sorted(draw(st.lists(st.integers(1, top), min_size=steps, max_size=steps)))
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    script = []
    for i, current in enumerate(currents):
        last = i == len(currents) - 1
        shown = names if not last else names + draw(st.lists(st.sampled_from(NAMES),
                                                             unique=True, max_size=2))
        values = [(k, draw(VALUES)) for k in dict.fromkeys(shown)]
        script.append((target if last and target else current, values,
                       True if last else draw(st.sampled_from([None, False]))))
    # start time, then one clock reading per update: steps from microseconds to hours
    gaps = draw(st.lists(st.sampled_from([0.0, 1e-5, 3e-4, 0.02, 0.06, 1.5, 75.0, 4000.0]),
                         min_size=len(script), max_size=len(script)))
    times = list(np.cumsum([1000.0] + gaps))
    kwargs = dict(target=target, width=draw(st.sampled_from([20, 7, 33])),
                  verbose=draw(st.sampled_from([1, 2])),
                  unit_name=draw(st.sampled_from(["step", "sample"])))
    if draw(st.booleans()):
        kwargs["stateless_metrics"] = set()        # as ProgbarLogger: shown as given
    elif draw(st.booleans()):
        kwargs["stateful_metrics"] = {"loss"}      # the others averaged over the steps
    return script, times, kwargs


@given(case=bar_cases())
def test_progbar_writes_keras_bytes(case):
    """On a terminal (verbose=1) and at verbose=2: exactly Keras's output."""
    script, times, kwargs = case
    theirs = run_bar(KerasProgbar, script, times, True, **kwargs)
    mine = run_bar(Progbar, script, times, True, **kwargs)
    assert mine == theirs


@given(case=bar_cases())
def test_progbar_off_a_terminal_writes_the_finished_line(case):
    """Not a terminal: only the last line, as a terminal shows Keras's output at the end."""
    script, times, kwargs = case
    kwargs["verbose"] = 1
    theirs = run_bar(KerasProgbar, script, times, True, **kwargs)
    mine = run_bar(Progbar, script, times, False, **kwargs)
    assert "\b" not in mine and "\r" not in mine and "\x1b" not in mine
    assert mine.endswith("\n") and mine.count("\n") == 1
    assert mine.splitlines() == render(theirs)


def test_progbar_examples():
    """A few lines written out, to read what the format is."""
    values = [("accuracy", 0.87251), ("loss", 0.35678)]
    script = [(1, values, None), (1875, values, True)]
    times = [0.0, 0.4, 2.3]
    line = run_bar(Progbar, script, times, False, target=1875, stateless_metrics=set())
    assert line == "1875/1875 " + "━" * 20 + " 2s 1ms/step - accuracy: 0.8725 - loss: 0.3568\n"
    line = run_bar(Progbar, script, times, False, target=1875, verbose=2,
                   stateless_metrics=set())
    assert line == "1875/1875 - 2s - 1ms/step - accuracy: 0.8725 - loss: 0.3568\n"
    line = run_bar(Progbar, [(3, None, True)], [0.0, 0.0003], False,
                   target=3)  # no metrics: nothing after the step time
    assert line == "3/3 " + "━" * 20 + " 0s 100us/step\n"
    line = run_bar(Progbar, [(2, [("loss", -1e-5)], True)], [0.0, 1.0], False,
                   target=2, verbose=2)  # (Keras's verbose=2 test is avg > 1e-3)
    assert line == "2/2 - 1s - 500ms/step - loss: -1.0000e-05\n"


# ---- fit / evaluate / predict next to tf.keras ------------------------------------------------
RNG = np.random.default_rng(3)
X = RNG.normal(size=(40, 3))
Y = (X[:, 0] - X[:, 1] > 0).astype("int64")

_BAR = re.compile(r"^\s*\d+/\d+ ")


def mask_times(line):
    line = re.sub(r"\d+(us|ms|s)/step", "T/step", line)
    line = re.sub(r"^(\s*\d+/\d+ \S+) \d+s ", r"\1 Ts ", line)     # verbose=1: elapsed
    line = re.sub(r"^(\s*\d+/\d+) - \d+s - ", r"\1 - Ts - ", line)  # verbose=2
    return line


_HEADER = re.compile(r"Epoch \d+/\d+")


def screen(lines):
    """The lines of the output, timings masked, without the bars Keras drew before a
    message and then redrew under it (a log without redraws has only the final ones)."""
    lines = [line for line in lines if line]
    kept = []
    for i, line in enumerate(lines):
        if _BAR.match(line):
            j = i + 1
            while j < len(lines) and not _BAR.match(lines[j]) and not _HEADER.fullmatch(lines[j]):
                j += 1
            if i + 1 < j < len(lines) and _BAR.match(lines[j]):
                continue  # a bar drawn before a message, redrawn after it
        kept.append(mask_times(line))
    return kept


def printed(K, capsys, verbose, epochs, callbacks=(), metrics=("accuracy",), **fit_kwargs):
    with floatx_scope("float64"):
        model = K.Sequential([K.Input((3,)), K.layers.Dense(4, activation="relu", name="h"),
                              K.layers.Dense(2, activation="softmax", name="o")])
        if K is sn.keras:
            model.set_weights(printed.weights)
        else:
            printed.weights = model.get_weights()
        extra = {"jit_compile": False} if K is tf.keras else {}
        model.compile(optimizer=K.optimizers.SGD(0.05), loss="sparse_categorical_crossentropy",
                      metrics=list(metrics), **extra)
        capsys.readouterr()
        model.fit(X, Y, batch_size=8, epochs=epochs, verbose=verbose, shuffle=False,
                  callbacks=[make(K) for make in callbacks], **fit_kwargs)
        model.evaluate(X, Y, batch_size=16, verbose=verbose)
        model.predict(X, batch_size=16, verbose=verbose)
        return capsys.readouterr().out


@pytest.mark.parametrize("verbose", [1, 2])
@pytest.mark.parametrize("epochs,metrics,callbacks,fit_kwargs", [
    (3, ("accuracy",), (), {"validation_split": 0.25}),
    (1, (), (), {}),                                            # no "Epoch 1/1", no metrics
    (4, ("acc", "accuracy"), (lambda K: K.callbacks.ReduceLROnPlateau(
        monitor="loss", patience=0, min_delta=1.0, verbose=1),), {}),  # + learning_rate, message
], ids=["validation", "one_epoch_no_metrics", "reduce_lr_messages"])
def test_fit_evaluate_predict_print_what_keras_prints(verbose, epochs, metrics, callbacks,
                                                       fit_kwargs, capsys):
    theirs = printed(tf.keras, capsys, verbose, epochs, callbacks, metrics, **fit_kwargs)
    mine = printed(sn.keras, capsys, verbose, epochs, callbacks, metrics, **fit_kwargs)
    assert "\b" not in mine and "\x1b" not in mine  # captured stdout is not a terminal
    assert screen(mine.splitlines()) == screen(render(theirs))
    headers = [line for line in mine.splitlines() if _HEADER.fullmatch(line)]
    assert headers == ([f"Epoch {e}/{epochs}" for e in range(1, epochs + 1)] if epochs > 1
                       else [])
    bars = [line for line in mine.splitlines() if _BAR.match(line)]
    assert len(bars) == epochs + 2  # one per epoch, evaluate, predict
    assert not any(line.rstrip().endswith("-") for line in bars)


def test_demo_labels_each_epoch_of_the_whole_run(capsys):
    from scratchnet import demo

    rng = np.random.default_rng(0)
    data = ((rng.integers(0, 255, (32, 28, 28)).astype("uint8"), rng.integers(0, 10, 32)),
            (rng.integers(0, 255, (16, 28, 28)).astype("uint8"), rng.integers(0, 10, 16)))
    demo.run_demo(epochs=3, batch_size=16, tf=False, verbose=2, data=data)
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("Epoch ")] == [
        "Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    assert len(re.findall(r"^2/2 - \d+s - \d+\w+/step - accuracy: ", out, re.M)) == 3

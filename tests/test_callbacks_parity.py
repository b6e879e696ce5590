"""Keras's callbacks, scratchnet against tf.keras: the same `fit` with the same callbacks.

Each case builds the model once per side from ONE `build(K)` (same names, float64, the
scratchnet twin gets the tf.keras weights), compiles both the same way and runs
`fit(..., shuffle=False)` with callbacks made by the same `make(K)`. Then it compares what a
student can observe: the History (keys in order, values to 1e-9 relative), the epoch at which
training stopped, the learning rate the optimizer ends with, the weights (EarlyStopping's
restore_best_weights), the CSV rows and header, the TensorBoard event files (tags, steps,
values), the warnings and the messages printed at verbose=1.

Tolerances come from tests/tolerances.py; `parity_log.check` records the worst errors.
"""
import json
import csv
import dataclasses
import os
import re
import warnings

import numpy as np
import pytest

import scratchnet as sn
from parity_log import check
from tf_support import import_tf

tf = import_tf()
from reference import floatx_scope  # noqa: E402  (needs TF)

AREA = "callbacks"
from small_classifier import X, X_VAL, Y, Y_VAL, build  # noqa: E402


def compile_args(K, lr=0.1, metrics=("accuracy",)):
    return dict(optimizer=K.optimizers.SGD(learning_rate=lr),
                loss="sparse_categorical_crossentropy", metrics=list(metrics))


@dataclasses.dataclass
class Run:
    model: object
    history: object
    callbacks: list
    out: str
    warnings: list
    learning_rate: float   # the optimizer's rate after fit, read while floatx is `dtype`


def twin_fit(make, capsys, compile_kw=None, build_fn=build, dtype="float64", **fit_kw):
    """Fit a tf.keras model and its scratchnet twin with `make(K)`'s callbacks.
    Returns {'tf': Run, 'sn': Run}."""
    compile_kw = compile_kw or compile_args
    fit_kw = {"x": X, "y": Y, "batch_size": 8, "epochs": 6, "verbose": 0, "shuffle": False,
              **fit_kw}
    runs = {}
    with floatx_scope(dtype):
        tf.keras.utils.set_random_seed(1)  # the same starting weights every run
        twin = build_fn(tf.keras)
        mine = build_fn(sn.keras)
        mine.set_weights(twin.get_weights())
        capsys.readouterr()
        for side, K, model in (("tf", tf.keras, twin), ("sn", sn.keras, mine)):
            extra = {"jit_compile": False} if side == "tf" else {}
            model.compile(**compile_kw(K), **extra)
            callbacks = make(K)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                history = model.fit(callbacks=callbacks, **fit_kw)
            runs[side] = Run(model, history, callbacks, capsys.readouterr().out, list(caught),
                             float(np.asarray(model.optimizer.learning_rate)))
    return runs


def check_history(runs, dtype="float64"):
    hk, hs = runs["tf"].history, runs["sn"].history
    assert list(hs.history) == list(hk.history), "History keys (and their order) differ"
    for key, values in hk.history.items():
        assert len(hs.history[key]) == len(values), f"History[{key!r}] length"
        check(hs.history[key], values, dtype, f"History[{key!r}]", AREA)
        assert all(type(v) is float for v in hs.history[key]), "History holds Python floats"
    assert hs.epoch == hk.epoch
    assert runs["sn"].model.history is hs


def check_weights(runs, dtype="float64"):
    for i, (a, b) in enumerate(zip(runs["sn"].model.get_weights(),
                                   runs["tf"].model.get_weights())):
        check(a, b, dtype, f"weights[{i}]", AREA)


# ---- EarlyStopping ------------------------------------------------------------------------
EARLY_STOPPING_CASES = [
    dict(monitor="val_loss", patience=1, min_delta=0.06),
    dict(monitor="val_loss", patience=2, baseline=0.3, min_delta=0.07,
         restore_best_weights=True),
    dict(monitor="val_accuracy", patience=1, baseline=0.99, restore_best_weights=True),
    dict(monitor="loss", patience=0, min_delta=0.08, restore_best_weights=True),
    dict(monitor="val_accuracy", patience=1),                       # auto -> max
    dict(monitor="accuracy", mode="max", patience=1, start_from_epoch=2),
    dict(monitor="val_loss", mode="min", patience=2, min_delta=-0.5),  # |min_delta| counts
]


@pytest.mark.parametrize("kwargs", EARLY_STOPPING_CASES,
                         ids=lambda k: ",".join(map(str, k.values())))
def test_early_stopping_matches_keras(kwargs, capsys):
    runs = twin_fit(lambda K: [K.callbacks.EarlyStopping(verbose=1, **kwargs)], capsys,
                    epochs=8, validation_data=(X_VAL, Y_VAL))
    assert len(runs["tf"].history.epoch) < 8, "each case stops early (seeded weights)"
    check_history(runs)
    check_weights(runs)  # with restore_best_weights: the best epoch's weights
    ck, cs = runs["tf"].callbacks[0], runs["sn"].callbacks[0]
    assert (cs.stopped_epoch, cs.best_epoch, cs.wait) == (ck.stopped_epoch, ck.best_epoch, ck.wait)
    assert cs.best == pytest.approx(ck.best, rel=1e-9)
    assert runs["sn"].out == runs["tf"].out  # "Epoch 4: early stopping", "Restoring ..."


def test_early_stopping_stops_and_restores_with_the_same_messages(capsys):
    runs = twin_fit(lambda K: [K.callbacks.EarlyStopping(monitor="val_loss", patience=1,
                                                         min_delta=0.05, verbose=1,
                                                         restore_best_weights=True)],
                    capsys, epochs=8, validation_data=(X_VAL, Y_VAL))
    assert len(runs["tf"].history.epoch) < 8, "the case must really stop early"
    assert "early stopping" in runs["tf"].out and "Restoring model weights" in runs["tf"].out
    assert runs["sn"].out == runs["tf"].out
    check_history(runs)
    check_weights(runs)


# ---- ReduceLROnPlateau ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kwargs", [
    dict(monitor="loss", factor=0.5, patience=1, min_delta=0.05),
    dict(monitor="val_loss", factor=0.2, patience=0, min_delta=1.0, cooldown=1, min_lr=0.005),
    dict(monitor="val_accuracy", factor=0.5, patience=2),
])
def test_reduce_lr_on_plateau_matches_keras(kwargs, dtype, capsys):
    runs = twin_fit(lambda K: [K.callbacks.ReduceLROnPlateau(verbose=1, **kwargs)], capsys,
                    dtype=dtype, epochs=7, validation_data=(X_VAL, Y_VAL))
    check_history(runs, dtype)  # 'learning_rate' included, last
    assert list(runs["sn"].history.history)[-1] == "learning_rate"
    rates = [run.history.history["learning_rate"] for run in (runs["sn"], runs["tf"])]
    assert rates[0] == rates[1]
    assert runs["sn"].learning_rate == runs["tf"].learning_rate
    ck, cs = runs["tf"].callbacks[0], runs["sn"].callbacks[0]
    assert (cs.wait, cs.cooldown_counter) == (ck.wait, ck.cooldown_counter)
    assert runs["sn"].out == runs["tf"].out  # "\nEpoch 3: ReduceLROnPlateau reducing ..."
    assert "ReduceLROnPlateau reducing learning rate" in runs["tf"].out  # each case reduces


def test_reduce_lr_on_plateau_rejects_factor_one():
    with pytest.raises(ValueError) as mine:
        sn.keras.callbacks.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError) as theirs:
        tf.keras.callbacks.ReduceLROnPlateau(factor=1.0)
    assert str(mine.value) == str(theirs.value)


# ---- LearningRateScheduler ------------------------------------------------------------------
SCHEDULES = {
    "epoch_and_lr": lambda epoch, lr: lr if epoch < 2 else lr * float(np.exp(-0.5)),
    "epoch_only": lambda epoch: 0.2 / (epoch + 1),
    "numpy_float": lambda epoch, lr: np.float64(0.05 * (epoch % 3 + 1)),
}


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_learning_rate_scheduler_matches_keras(name, dtype, capsys):
    runs = twin_fit(lambda K: [K.callbacks.LearningRateScheduler(SCHEDULES[name], verbose=1)],
                    capsys, dtype=dtype, epochs=5)
    check_history(runs, dtype)
    rates = [run.history.history["learning_rate"] for run in (runs["sn"], runs["tf"])]
    assert rates[0] == rates[1]
    assert runs["sn"].out == runs["tf"].out  # "\nEpoch 1: LearningRateScheduler setting ..."
    assert runs["sn"].out.count("LearningRateScheduler setting learning rate") == 5


def test_learning_rate_scheduler_wants_a_float(capsys):
    errors = []
    for K in (tf.keras, sn.keras):
        model = build(K)
        model.compile(**compile_args(K))
        with pytest.raises(ValueError) as info:
            model.fit(X, Y, epochs=1, verbose=0,
                      callbacks=[K.callbacks.LearningRateScheduler(lambda epoch: 1)])
        errors.append(str(info.value))
    assert errors[0] == errors[1]


# ---- CSVLogger ------------------------------------------------------------------------------
def _read_csv(path, separator=","):
    with open(path, newline="") as f:
        raw = f.read()
    rows = list(csv.reader(raw.splitlines(), delimiter=separator))
    return raw, rows[0], rows[1:]


def _check_csv_rows(rows_sn, rows_tf):
    assert len(rows_sn) == len(rows_tf)
    for r_sn, r_tf in zip(rows_sn, rows_tf):
        assert len(r_sn) == len(r_tf)
        for a, b in zip(r_sn, r_tf):
            if b == "NA" or a == "NA":
                assert a == b
            else:
                check(float(a), float(b), "float64", "CSV value", AREA)


@pytest.mark.parametrize("validation", [True, False])
@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_logger_writes_keras_rows(tmp_path, capsys, validation, separator):
    paths = {"tf": tmp_path / "tf.csv", "sn": tmp_path / "sn.csv"}
    made = iter(["tf", "sn"])

    def make(K):
        side = next(made)
        return [K.callbacks.CSVLogger(paths[side], separator=separator),
                K.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=0.05)]

    extra = {"validation_data": (X_VAL, Y_VAL)} if validation else {}
    twin_fit(make, capsys, epochs=4, **extra)
    raw_tf, header_tf, rows_tf = _read_csv(paths["tf"], separator)
    raw_sn, header_sn, rows_sn = _read_csv(paths["sn"], separator)
    assert header_sn == header_tf  # epoch, sorted keys (+ val_ columns of NA without val data)
    assert raw_sn.count("\r\n") == raw_tf.count("\r\n") == 5
    _check_csv_rows(rows_sn, rows_tf)
    assert [r[0] for r in rows_sn] == ["0", "1", "2", "3"]


def test_csv_logger_append_continues_the_file(tmp_path, capsys):
    paths = {"tf": tmp_path / "tf.csv", "sn": tmp_path / "sn.csv"}
    for _ in range(2):  # two fits appending to the same file
        made = iter(["tf", "sn"])
        twin_fit(lambda K: [K.callbacks.CSVLogger(str(paths[next(made)]), append=True)],
                 capsys, epochs=2)
    _, header_tf, rows_tf = _read_csv(paths["tf"])
    _, header_sn, rows_sn = _read_csv(paths["sn"])
    assert header_sn == header_tf and [r[0] for r in rows_sn] == ["0", "1"] * 2
    _check_csv_rows(rows_sn, rows_tf)


# ---- TerminateOnNaN, LambdaCallback -----------------------------------------------------------
def build_regression(K):
    return K.Sequential([K.Input((3,)), K.layers.Dense(1, name="linear")], name="regression")


def regression_args(K):
    # a learning rate this large makes the loss overflow to inf after a few updates
    return dict(optimizer=K.optimizers.SGD(learning_rate=1e40), loss="mse")


Y_REG = X @ np.array([1.0, -2.0, 0.5])


def test_terminate_on_nan_matches_keras(capsys):
    # one batch per epoch: Keras also stops in the middle of an epoch, scratchnet at its end
    runs = twin_fit(lambda K: [K.callbacks.TerminateOnNaN()], capsys, y=Y_REG, epochs=30,
                    batch_size=24, build_fn=build_regression, compile_kw=regression_args)
    check_history(runs)
    loss = runs["sn"].history.history["loss"]
    assert 1 < len(loss) < 30 and not np.isfinite(loss[-1]) and np.isfinite(loss[-2])
    assert runs["sn"].out == runs["tf"].out == "Batch 0: Invalid loss, terminating training\n"


def test_terminate_on_nan_can_raise():
    errors = []
    for K in (tf.keras, sn.keras):
        with floatx_scope("float64"):
            model = build_regression(K)
            model.compile(**regression_args(K))
            with pytest.raises(RuntimeError) as info:
                model.fit(X, Y_REG, batch_size=24, epochs=30, verbose=0, shuffle=False,
                          callbacks=[K.callbacks.TerminateOnNaN(raise_error=True)])
        errors.append(str(info.value))
    assert errors[0].startswith("NaN or Inf loss encountered at batch 0. Loss value: ")
    assert errors[1].split("Loss value:")[0] == errors[0].split("Loss value:")[0]


def test_lambda_callback_sees_the_same_calls_and_logs(capsys):
    seen = {}

    def make(K):
        calls = seen.setdefault("tf" if K is tf.keras else "sn", [])
        return [K.callbacks.LambdaCallback(
            on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, logs)),
            on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, dict(logs))),
            on_train_begin=lambda logs: calls.append(("train_begin", logs)),
            on_train_end=lambda logs: calls.append(("train_end", dict(logs))),
            on_train_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, logs)),
            on_train_batch_end=lambda batch, logs: calls.append(("batch_end", batch, dict(logs))),
            on_test_end=lambda logs: calls.append(("test_end", dict(logs))))]

    twin_fit(make, capsys, epochs=2, validation_data=(X_VAL, Y_VAL))
    theirs, mine = seen["tf"], seen["sn"]
    assert [c[:-1] for c in mine] == [c[:-1] for c in theirs]
    for a, b in zip(mine, theirs):
        assert list(a[-1]) == list(b[-1]), f"{a[0]}: log keys (and order) differ"
        for key in b[-1]:
            check(a[-1][key], b[-1][key], "float64", f"{a[0]} {key}", AREA)


# ---- CallbackList: order, History, params, unknown monitors ---------------------------------
def test_user_callbacks_come_before_history_and_progbar(capsys):
    class Order(sn.keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.5  # History (after us) must record it

    class OrderTF(tf.keras.callbacks.Callback):
        on_epoch_end = Order.on_epoch_end

    runs = twin_fit(lambda K: [OrderTF() if K is tf.keras else Order()], capsys, epochs=2,
                    verbose=2)
    assert runs["sn"].history.history["extra"] == runs["tf"].history.history["extra"] == [1.5] * 2
    assert list(runs["sn"].history.history) == list(runs["tf"].history.history)
    assert runs["sn"].history.params == runs["tf"].history.params == {
        "verbose": 2, "epochs": 2, "steps": 3}
    assert " - extra: 1.5000" in runs["sn"].out and " - extra: 1.5000" in runs["tf"].out
    cb_sn = runs["sn"].model  # a History passed by the user is the one fit returns
    mine = sn.keras.callbacks.History()
    assert cb_sn.fit(X, Y, epochs=1, verbose=0, callbacks=[mine]) is mine


def _warning_texts(run):
    return [(w.category, str(w.message)) for w in run.warnings if "conditioned" in str(w.message)]


@pytest.mark.parametrize("make", [
    lambda K: [K.callbacks.EarlyStopping(monitor="val_loss")],
    lambda K: [K.callbacks.EarlyStopping(monitor="val_accuracy", mode="max")],
    lambda K: [K.callbacks.ReduceLROnPlateau(monitor="val_loss")],
], ids=["early_stopping", "early_stopping_max", "reduce_lr"])
def test_a_missing_monitor_warns_as_keras(make, capsys):
    runs = twin_fit(make, capsys, epochs=2)  # no validation data: no val_* in the logs
    texts = _warning_texts(runs["tf"])
    assert texts and _warning_texts(runs["sn"]) == texts
    assert texts[0][0] is UserWarning
    check_history(runs)


@pytest.mark.parametrize("callback", ["EarlyStopping", "ReduceLROnPlateau"])
def test_a_monitor_of_unknown_direction_fails_as_keras(callback):
    errors = []
    for K in (tf.keras, sn.keras):
        model = build(K)
        model.compile(**compile_args(K))
        with pytest.raises(ValueError) as info:
            model.fit(X, Y, epochs=2, verbose=0,
                      callbacks=[getattr(K.callbacks, callback)(monitor="learning_rate")])
        errors.append(str(info.value))
    assert errors[0] == errors[1]


def test_an_unknown_mode_warns_as_keras():
    texts = []
    for K in (tf.keras, sn.keras):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            K.callbacks.EarlyStopping(mode="maximum")
        texts.append([(w.category, str(w.message)) for w in caught])
    assert texts[0] and texts[0] == texts[1]


def test_monitor_directions_for_auto_mode():
    """'auto' picks max for accuracies and min for losses and error metrics, as Keras."""
    onehot, onehot_val = np.eye(2)[Y], np.eye(2)[Y_VAL]
    for metric in ["accuracy", "acc", "mae", "mse", "categorical_accuracy"]:
        ops = []
        for K in (tf.keras, sn.keras):
            model = build(K)
            model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=[metric])
            stopper = K.callbacks.EarlyStopping(monitor=f"val_{metric}", min_delta=0.5)
            model.fit(X, onehot, epochs=1, verbose=0, validation_data=(X_VAL, onehot_val),
                      callbacks=[stopper])
            ops.append((getattr(stopper.monitor_op, "__name__", str(stopper.monitor_op)),
                        stopper.min_delta))
        assert ops[1] == ops[0], metric


# ---- TensorBoard ----------------------------------------------------------------------------
def _read_events(logdir):
    """{run: {tag: [(step, value ndarray)]}} and {run: {tag: plugin}}, read with TensorBoard's
    own EventAccumulator."""
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util import tensor_util

    data, plugins = {}, {}
    for run in sorted(os.listdir(logdir)):
        path = os.path.join(logdir, run)
        if not os.path.isdir(path):
            continue
        acc = ea.EventAccumulator(path, size_guidance={ea.TENSORS: 0})
        acc.Reload()
        data[run] = {tag: [(e.step, tensor_util.make_ndarray(e.tensor_proto))
                           for e in acc.Tensors(tag)] for tag in acc.Tags()["tensors"]}
        plugins[run] = {tag: acc.SummaryMetadata(tag).plugin_data.plugin_name
                        for tag in acc.Tags()["tensors"]}
    return data, plugins


TB_CASES = {
    "default": dict(),
    "histograms_images": dict(histogram_freq=1, write_images=True),
    "every_2nd_epoch": dict(histogram_freq=2),
    "batch": dict(update_freq="batch"),
    "update_freq_2": dict(update_freq=2, histogram_freq=1),   # Keras's record_if gating
    "update_freq_3": dict(update_freq=3, histogram_freq=2),
}


@pytest.mark.parametrize("case", list(TB_CASES))
def test_tensorboard_event_files_match_keras(case, tmp_path, capsys):
    dirs = {"tf": tmp_path / "tf", "sn": tmp_path / "sn"}
    made = iter(["tf", "sn"])
    tb = {}

    def make(K):
        side = next(made)
        tb[side] = K.callbacks.TensorBoard(str(dirs[side]), **TB_CASES[case])
        return [K.callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=0.05), tb[side]]

    runs = twin_fit(make, capsys, epochs=3, validation_data=(X_VAL, Y_VAL))
    for side in ("tf", "sn"):  # and a later evaluate with the same callback
        runs[side].model.evaluate(X_VAL, Y_VAL, verbose=0, callbacks=[tb[side]])
    check_history(runs)
    theirs, their_plugins = _read_events(dirs["tf"])
    mine, my_plugins = _read_events(dirs["sn"])
    assert sorted(mine) == sorted(theirs) == ["train", "validation"]
    for run in theirs:
        # the 'keras' tag is the model's JSON (to_json): the same architecture on both sides
        their_tags = {t: v for t, v in theirs[run].items() if t != "keras"}
        assert sorted(mine[run]) == sorted(theirs[run]), run
        if "keras" in theirs[run]:
            assert my_plugins[run]["keras"] == their_plugins[run]["keras"]
            (_, a), (_, b) = mine[run]["keras"][0], theirs[run]["keras"][0]
            a, b = (json.loads(bytes(v.reshape(-1)[0]).decode()) for v in (a, b))
            assert a["class_name"] == b["class_name"]
            assert ([layer["class_name"] for layer in a["config"]["layers"]]
                    == [layer["class_name"] for layer in b["config"]["layers"]])
        for tag, events in their_tags.items():
            assert my_plugins[run][tag] == their_plugins[run][tag]
            # (by step: the evaluate after fit writes a second file, and files of the same
            # second load in the order of their names, on either side)
            events, my_events = (sorted(e, key=lambda ev: ev[0]) for e in (events, mine[run][tag]))
            assert [s for s, _ in my_events] == [s for s, _ in events], f"{run}/{tag} steps"
            for (_, a), (_, b) in zip(my_events, events):
                assert a.dtype == b.dtype and a.shape == b.shape, f"{run}/{tag}"
                if a.dtype == object:  # images: width, height, then PNGs
                    assert list(a[:2]) == list(b[:2])
                    assert [_png_pixels(p) for p in a[2:]] == [_png_pixels(p) for p in b[2:]]
                else:
                    check(a, b, a.dtype, f"{run}/{tag}", AREA)
    # the epoch scalars are the History's values (as float32); not 'learning_rate': History
    # has ReduceLROnPlateau's value from before its reduction, TensorBoard (after it in the
    # list) reads the optimizer's rate after it, in Keras too
    history = runs["sn"].history.history
    for key, values in history.items():
        if key == "learning_rate":
            continue
        run, name = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
        for step, value in mine[run].get(f"epoch_{name}", []):
            assert value == np.float32(values[step]), f"epoch_{name}[{step}]"


def _png_pixels(data):
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data))).tolist()


def test_tensorboard_histogram_tags_are_keras_weight_paths(tmp_path, capsys):
    made = iter(["tf", "sn"])

    def make(K):
        return [K.callbacks.TensorBoard(str(tmp_path / next(made)), histogram_freq=1)]

    def functional(K):
        inputs = K.Input((3,))
        hidden = K.layers.Dense(5, activation="tanh", name="f_hidden")(inputs)
        return K.Model(inputs, K.layers.Dense(2, activation="softmax", name="f_out")(hidden))

    twin_fit(make, capsys, build_fn=functional, epochs=1)
    tags = [sorted(t for t in _read_events(tmp_path / side)[0]["train"] if "histogram" in t)
            for side in ("tf", "sn")]
    assert tags[0] == tags[1] == ["f_hidden/bias/histogram", "f_hidden/kernel/histogram",
                                  "f_out/bias/histogram", "f_out/kernel/histogram"]


def test_tensorboard_steps_per_second_tags(tmp_path, capsys):
    made = iter(["tf", "sn"])
    twin_fit(lambda K: [K.callbacks.TensorBoard(str(tmp_path / next(made)), update_freq=1,
                                                write_steps_per_second=True)], capsys, epochs=2)
    theirs, mine = _read_events(tmp_path / "tf")[0], _read_events(tmp_path / "sn")[0]
    for tag in ("batch_steps_per_second", "epoch_steps_per_second"):
        assert [s for s, _ in mine["train"][tag]] == [s for s, _ in theirs["train"][tag]]
        assert all(v > 0 for _, v in mine["train"][tag])


def test_tensorboard_profiling_is_refused():
    with pytest.raises(ValueError, match="profile_batch=2"):
        sn.keras.callbacks.TensorBoard(profile_batch=2)


def test_callbacks_module_imports_no_tensorflow():
    import subprocess
    import sys

    code = ("import sys, scratchnet\n"
            "scratchnet.keras.callbacks.TensorBoard('/tmp/unused')\n"
            "assert 'tensorflow' not in sys.modules, 'tensorflow was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_csv_values_are_printed_as_python_floats(tmp_path):
    """Keras writes str(float): full precision, e.g. 0.6931471805599453."""
    logger = sn.keras.callbacks.CSVLogger(tmp_path / "log.csv")
    logger.on_train_begin()
    logger.on_epoch_end(0, {"loss": 0.6931471805599453, "val_loss": 1e-7})
    logger.on_train_end()
    text = (tmp_path / "log.csv").read_bytes()
    assert text == b"epoch,loss,val_loss\r\n0,0.6931471805599453,1e-07\r\n"
    assert re.fullmatch(rb"[^\r]*\r\n[^\r]*\r\n", text)


def test_evaluate_and_predict_give_callbacks_keras_params():
    seen = {}
    for side, K in (("tf", tf.keras), ("sn", sn.keras)):
        class Grab(K.callbacks.Callback):
            def on_test_begin(self, logs=None):
                seen[side, "evaluate"] = dict(self.params)

            def on_predict_begin(self, logs=None):
                seen[side, "predict"] = dict(self.params)

        model = build(K)
        model.compile(**compile_args(K))
        model.evaluate(X, Y, batch_size=5, verbose=0, callbacks=[Grab()])
        model.predict(X, batch_size=10, verbose=0, callbacks=[Grab()])
    assert seen["sn", "evaluate"] == seen["tf", "evaluate"] == {"verbose": 0, "epochs": 1,
                                                                "steps": 5}
    assert seen["sn", "predict"] == seen["tf", "predict"] == {"verbose": 0, "epochs": 1,
                                                              "steps": 3}

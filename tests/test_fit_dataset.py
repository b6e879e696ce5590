"""fit / evaluate / predict on data that yields batches -- a tf.data.Dataset, a generator --
as Keras 3 runs them (scratchnet/models/batches.py).

* On its own: fit on `Dataset.from_tensor_slices((x, y)).batch(b)` is fit on the arrays with
  batch_size=b and shuffle=False, bit for bit (History, weights, evaluate, predict); so is an
  endless generator of the same batches with steps_per_epoch.
* Against tf.keras (one `build(K)` per side, the same starting weights, tolerances from
  tests/tolerances.py): the numbers of fit / evaluate / predict on the equivalent tf.data
  pipelines and generators, with steps_per_epoch, validation_data=dataset, sample weights and
  class weights in the elements, several inputs and outputs by name; and which batches each
  epoch gets (steps_per_epoch across epochs, data that runs out, a generator's replayed
  first batches, unknown lengths), the `steps` the callbacks see and Keras's warnings, read
  from a recording model on each side.
* Bad input: one clear ValueError / TypeError, before anything is trained.
"""
import contextlib
import io
import warnings

import numpy as np
import pytest

import scratchnet as sn
from parity_log import check
from tf_support import import_tf

tf = import_tf()
import keras  # noqa: E402  (after TensorFlow)
from reference import floatx_scope  # noqa: E402  (needs TF)

AREA = "fit on datasets"
DTYPES = ("float32", "float64")
RAN_OUT = "Your input ran out of data"

rng = np.random.default_rng(7)
X = rng.normal(size=(14, 4))
Y = rng.integers(0, 3, size=14)
W = rng.uniform(0.5, 2.0, size=14)
X_VAL = rng.normal(size=(7, 4))
Y_VAL = rng.integers(0, 3, size=7)


def mlp(K):
    return K.Sequential([K.Input((4,)), K.layers.Dense(5, activation="tanh"),
                         K.layers.Dense(3, activation="softmax")])


def two_in_two_out(K):
    a, b = K.Input((4,), name="a"), K.Input((2,), name="b")
    h = K.layers.Dense(5, activation="relu")(K.layers.Concatenate()([a, b]))
    return K.Model({"a": a, "b": b},
                   {"cls": K.layers.Dense(3, activation="softmax", name="cls")(h),
                    "reg": K.layers.Dense(1, name="reg")(h)})


def compiled(K, build, multi=False):
    model = build(K)
    if multi:
        model.compile(K.optimizers.Adam(0.02),
                      {"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                      metrics={"cls": ["accuracy"]})
    else:
        model.compile(K.optimizers.Adam(0.02), "sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    return model


def pair(build, dtype, multi=False):
    """scratchnet's model and its tf.keras twin with the same starting weights."""
    mine, twin = compiled(sn.keras, build, multi), compiled(keras, build, multi)
    twin.set_weights(mine.get_weights())
    return mine, twin


def same_run(a, b, what):
    """Two scratchnet runs: bit for bit."""
    assert a.history == b.history, f"{what}: History differs"
    for i, (p, q) in enumerate(zip(a.model.get_weights(), b.model.get_weights())):
        assert np.array_equal(p, q), f"{what}: weights[{i}] differ"


def close_run(hs, hk, mine, twin, dtype):
    """scratchnet's run against tf.keras's: History and weights within the tolerances."""
    assert set(hs) == set(hk), (sorted(hs), sorted(hk))
    for key in hk:
        check(hs[key], hk[key], dtype, f"History[{key!r}]", AREA)
    for i, (p, q) in enumerate(zip(mine.get_weights(), twin.get_weights())):
        check(p, q, dtype, f"weights[{i}]", AREA)


def quiet(fn, *args, **kwargs):
    """fn(...) and the messages of the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in caught]


# ---------------------------------------------------------------- a Dataset is the arrays

@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_on_a_dataset_equals_fit_on_the_arrays(dtype):
    """Same batches, same steps: the same History and weights, bit for bit -- with
    validation data as arrays on one side and as a Dataset on the other, sample weights as an
    argument on one side and inside the elements on the other."""
    x, w = X.astype(dtype), W.astype(dtype)
    with floatx_scope(dtype):
        a, b = compiled(sn.keras, mlp), compiled(sn.keras, mlp)
        b.set_weights(a.get_weights())
        ha = a.fit(x, Y, batch_size=4, epochs=3, shuffle=False, verbose=0, sample_weight=w,
                   validation_data=(X_VAL.astype(dtype), Y_VAL))
        ds = sn.data.Dataset.from_tensor_slices((x, Y, w)).batch(4)
        val = sn.data.Dataset.from_tensor_slices((X_VAL.astype(dtype), Y_VAL)).batch(4)
        hb = b.fit(ds, epochs=3, shuffle=False, verbose=0, validation_data=val)
        same_run(ha, hb, "sample weights and validation")
        assert a.evaluate(x, Y, batch_size=4, sample_weight=w, verbose=0) == b.evaluate(
            ds, verbose=0)
        pa, pb = a.predict(x, batch_size=4, verbose=0), b.predict(ds, verbose=0)
        assert pa.dtype == pb.dtype == np.dtype(dtype) and np.array_equal(pa, pb)

        # class weights (exact in float32, so the Dataset's float32 table changes nothing)
        cw = {0: 0.5, 1: 2.0, 2: 1.25}
        ha = a.fit(x, Y, batch_size=5, epochs=2, shuffle=False, verbose=0, class_weight=cw)
        hb = b.fit(sn.data.Dataset.from_tensor_slices((x, Y)).batch(5), epochs=2,
                   shuffle=False, verbose=0, class_weight=cw)
        same_run(ha, hb, "class weights")


def test_several_inputs_and_outputs_by_name_equal_the_arrays():
    rng2 = np.random.default_rng(1)
    xa, xb = rng2.normal(size=(11, 4)), rng2.normal(size=(11, 2))
    cls, reg = rng2.integers(0, 3, size=11), rng2.normal(size=(11, 1))
    with floatx_scope("float64"):
        a, b = compiled(sn.keras, two_in_two_out, True), compiled(sn.keras, two_in_two_out, True)
        b.set_weights(a.get_weights())
        ha = a.fit({"a": xa, "b": xb}, {"cls": cls, "reg": reg}, batch_size=3, epochs=2,
                   shuffle=False, verbose=0)
        ds = sn.data.Dataset.from_tensor_slices(({"a": xa, "b": xb},
                                                 {"cls": cls, "reg": reg})).batch(3)
        hb = b.fit(ds, epochs=2, shuffle=False, verbose=0)
        same_run(ha, hb, "two inputs, two outputs")
        pa, pb = a.predict({"a": xa, "b": xb}, batch_size=3, verbose=0), b.predict(ds, verbose=0)
        assert set(pa) == set(pb) == {"cls", "reg"}
        assert all(np.array_equal(pa[k], pb[k]) for k in pa)


def test_an_endless_generator_with_steps_per_epoch_equals_the_arrays():
    def batches():
        while True:
            for i in range(0, 14, 4):
                yield X[i:i + 4], Y[i:i + 4]

    with floatx_scope("float64"):
        a, b = compiled(sn.keras, mlp), compiled(sn.keras, mlp)
        b.set_weights(a.get_weights())
        ha = a.fit(X, Y, batch_size=4, epochs=3, shuffle=False, verbose=0)
        hb = b.fit(batches(), steps_per_epoch=4, epochs=3, verbose=0, shuffle=False)
        same_run(ha, hb, "generator")
        assert a.evaluate(X, Y, batch_size=4, verbose=0) == b.evaluate(batches(), steps=4,
                                                                       verbose=0)
        # any other iterator is taken as a generator is (Keras takes generators only)
        listed = [(X[i:i + 4], Y[i:i + 4]) for i in range(0, 14, 4)]
        assert a.evaluate(X, Y, batch_size=4, verbose=0) == quiet(b.evaluate, iter(listed),
                                                                  verbose=0)[0]


def test_a_subclassed_model_is_built_from_the_first_batch():
    class Net(sn.keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = sn.keras.layers.Dense(5, activation="tanh")
            self.out = sn.keras.layers.Dense(3, activation="softmax")

        def call(self, inputs):
            return self.out(self.hidden(inputs))

    with floatx_scope("float64"):
        a, b = Net(), Net()
        for m in (a, b):
            m.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
        seen = []
        built = sn.keras.callbacks.LambdaCallback(on_train_begin=lambda logs: seen.append(
            b.built))
        a.build((None, 4))
        b.fit(sn.data.Dataset.from_tensor_slices((X, Y)).batch(4), epochs=0, verbose=0,
              callbacks=[built], shuffle=False)
        assert seen == [True]       # built before the callbacks start, as in Keras
        b.set_weights(a.get_weights())
        ha = a.fit(X, Y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        hb = b.fit(sn.data.Dataset.from_tensor_slices((X, Y)).batch(4), epochs=2,
                   shuffle=False, verbose=0)
        same_run(ha, hb, "subclassed")


def test_backup_and_restore_resumes_a_dataset_fit_exactly(tmp_path):
    """Interrupted mid-epoch and run again, fit on a Dataset ends as an uninterrupted one."""
    class Interrupted(Exception):
        pass

    class StopAt(sn.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            if (self.epoch, batch) == (1, 2):
                raise Interrupted

    def run(callbacks):
        sn.backend.set_random_seed(3)
        model = compiled(sn.keras, mlp)
        history = model.fit(sn.data.Dataset.from_tensor_slices((X, Y)).batch(3), epochs=3,
                            verbose=0, callbacks=callbacks, shuffle=False)
        return model, history

    with floatx_scope("float64"):
        reference = run([])
        backup = tmp_path / "backup"
        with pytest.raises(Interrupted):
            run([sn.keras.callbacks.BackupAndRestore(backup, save_freq=2), StopAt()])
        model, history = run([sn.keras.callbacks.BackupAndRestore(backup, save_freq=2)])
    for p, q in zip(model.get_weights(), reference[0].get_weights()):
        assert np.array_equal(p, q)
    for key, values in reference[1].history.items():   # the epochs the resumed fit ran
        assert history.history[key] == values[-len(history.history[key]):]


def test_unknown_length_shows_a_count_without_a_total(monkeypatch):
    """As Keras's bar: '      1/Unknown' during the first epoch (on a terminal); the count
    found by its end is the total from then on."""
    monkeypatch.setattr("scratchnet.callbacks.progbar._is_dynamic_display", lambda: True)
    model = compiled(sn.keras, mlp)
    ds = sn.data.Dataset.from_tensor_slices((X, Y)).batch(3).filter(lambda x, y: True)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        quiet(model.fit, ds, epochs=2, verbose=1, shuffle=False)
    first, second = out.getvalue().split("Epoch 2/2")
    assert "      1/Unknown" in first and first.endswith("\x1b[1m5/5\x1b[0m ", 0,
                                                         first.rindex("\x1b[32m"))
    assert "Unknown" not in second and "\x1b[1m5/5\x1b[0m" in second


# ------------------------------------------------------------------ parity with tf.keras

def _steps_recorder(K, steps):
    """A callback noting the `steps` fit tells the callbacks."""
    class Steps(K.callbacks.Callback):
        def on_train_begin(self, logs=None):
            steps.append(self.params["steps"])

    return Steps()


@pytest.mark.parametrize("dtype", DTYPES)
def test_dataset_fit_evaluate_predict_match_tf_keras(dtype):
    """steps_per_epoch=3 over 4 batches (the pass goes on across epochs and runs out in the
    second), sample weights in the elements, validation_data=dataset with validation_steps,
    evaluate(steps=) and predict(steps=) on (x, y, w) elements."""
    x, w = X.astype(dtype), W.astype(dtype)
    xv = X_VAL.astype(dtype)
    with floatx_scope(dtype):
        mine, twin = pair(mlp, dtype)
        runs = {}
        for name, T, model in (("sn", sn, mine), ("tf", tf, twin)):
            steps = []
            hook = _steps_recorder(keras if T is tf else sn.keras, steps)
            ds = T.data.Dataset.from_tensor_slices((x, Y, w)).batch(4)
            val = T.data.Dataset.from_tensor_slices((xv, Y_VAL)).batch(3)
            history, said = quiet(model.fit, ds, epochs=4, steps_per_epoch=3, verbose=0,
                                  shuffle=False, validation_data=val, validation_steps=2,
                                  callbacks=[hook])
            runs[name] = (history.history, sum(RAN_OUT in m for m in said), steps,
                          model.evaluate(ds, steps=2, verbose=0, return_dict=True),
                          model.predict(ds, steps=3, verbose=0))
        (hs, ran_s, steps_s, es, ps), (hk, ran_k, steps_k, ek, pk) = runs["sn"], runs["tf"]
        close_run(hs, hk, mine, twin, dtype)
        assert ran_s == ran_k == 2 and steps_s == steps_k == [3]
        assert set(es) == set(ek)
        for key in ek:
            check(es[key], ek[key], dtype, f"evaluate[{key!r}]", AREA)
        assert ps.shape == pk.shape == (12, 3)
        check(ps, pk, dtype, "predict", AREA)


def test_generators_and_unknown_lengths_match_tf_keras():
    """An endless generator with steps_per_epoch; a Dataset of unknown length (filter) for
    validation; evaluate and predict on finite generators of (x, y) and (x,)."""
    def endless():
        while True:
            for i in range(0, 14, 5):
                yield X[i:i + 5], Y[i:i + 5], W[i:i + 5]

    def finite(with_y=True):
        for i in range(0, 14, 4):
            yield (X[i:i + 4], Y[i:i + 4]) if with_y else (X[i:i + 4],)

    with floatx_scope("float64"):
        mine, twin = pair(mlp, "float64")
        out = {}
        for name, T, model in (("sn", sn, mine), ("tf", tf, twin)):
            val = T.data.Dataset.from_tensor_slices((X_VAL, Y_VAL)).batch(2).filter(
                lambda x, y: True)
            history, _ = quiet(model.fit, endless(), steps_per_epoch=4, epochs=3, verbose=0,
                               validation_data=val)
            evaluated, _ = quiet(model.evaluate, finite(), verbose=0, return_dict=True)
            predicted, _ = quiet(model.predict, finite(with_y=False), verbose=0)
            out[name] = history.history, evaluated, predicted
        close_run(out["sn"][0], out["tf"][0], mine, twin, "float64")
        for key in out["tf"][1]:
            check(out["sn"][1][key], out["tf"][1][key], "float64", f"evaluate[{key!r}]", AREA)
        check(out["sn"][2], out["tf"][2], "float64", "predict", AREA)


def test_several_inputs_and_outputs_by_name_match_tf_keras():
    rng2 = np.random.default_rng(2)
    xa, xb = rng2.normal(size=(10, 4)), rng2.normal(size=(10, 2))
    cls, reg = rng2.integers(0, 3, size=10), rng2.normal(size=(10, 1))
    with floatx_scope("float64"):
        mine, twin = pair(two_in_two_out, "float64", multi=True)
        out = {}
        for name, T, model in (("sn", sn, mine), ("tf", tf, twin)):
            ds = T.data.Dataset.from_tensor_slices(({"a": xa, "b": xb},
                                                    {"cls": cls, "reg": reg})).batch(4)
            history, _ = quiet(model.fit, ds, epochs=2, verbose=0, shuffle=False)
            out[name] = history.history, model.predict(ds, verbose=0)
        close_run(out["sn"][0], out["tf"][0], mine, twin, "float64")
        for key in ("cls", "reg"):
            check(out["sn"][1][key], out["tf"][1][key], "float64", f"predict[{key!r}]", AREA)


def test_class_weight_on_a_dataset_matches_tf_keras():
    """Keras maps a Dataset's labels to class weights held in float32 (0.3 becomes
    0.30000001192...), unlike arrays' floatx weights: float64 parity needs the same."""
    with floatx_scope("float64"):
        mine, twin = pair(mlp, "float64")
        cw = {0: 0.3, 1: 1.7, 2: 1.1}
        out = {}
        for name, T, model in (("sn", sn, mine), ("tf", tf, twin)):
            ds = T.data.Dataset.from_tensor_slices((X, Y)).batch(5)
            out[name] = quiet(model.fit, ds, epochs=2, verbose=0, shuffle=False,
                              class_weight=cw)[0].history
        close_run(out["sn"], out["tf"], mine, twin, "float64")


# Which batches each epoch trains on (and validates on), the `steps` callbacks get, how many
# "ran out of data" warnings: 5 batches whose first x value is the batch's number.
N_BATCHES = 5
XB = np.repeat(np.arange(2 * N_BATCHES, dtype="float32")[:, None] // 2, 2, axis=1)
YB = np.zeros((2 * N_BATCHES, 1), "float32")


def _batches(T):
    return T.data.Dataset.from_tensor_slices((XB, YB)).batch(2)


def _generator(endless=False):
    while True:
        for b in range(N_BATCHES):
            yield XB[2 * b:2 * b + 2], YB[2 * b:2 * b + 2]
        if not endless:
            return


SCHEDULES = {   # name: (x for T, fit arguments for T)
    "cardinality 5": (_batches, lambda T: dict(epochs=2)),
    "cardinality 5, steps_per_epoch 3": (_batches, lambda T: dict(epochs=3, steps_per_epoch=3)),
    "cardinality 5, steps_per_epoch 7": (_batches, lambda T: dict(epochs=2, steps_per_epoch=7)),
    "unknown length": (lambda T: _batches(T).filter(lambda x, y: True), lambda T: dict(epochs=3)),
    "unknown length, steps_per_epoch 5": (lambda T: _batches(T).filter(lambda x, y: True),
                                          lambda T: dict(epochs=3, steps_per_epoch=5)),
    "repeat(), steps_per_epoch 3": (lambda T: _batches(T).repeat(),
                                    lambda T: dict(epochs=2, steps_per_epoch=3)),
    "generator": (lambda T: _generator(), lambda T: dict(epochs=3)),
    "generator, steps_per_epoch 3": (lambda T: _generator(),
                                     lambda T: dict(epochs=3, steps_per_epoch=3)),
    "validation Dataset, validation_steps 2": (
        _batches, lambda T: dict(epochs=2, validation_data=_batches(T), validation_steps=2)),
    "validation generator": (_batches, lambda T: dict(epochs=3, validation_data=_generator())),
    "empty Dataset": (lambda T: _batches(T).take(0), lambda T: dict(epochs=2)),
    "arrays, steps_per_epoch 2": (lambda T: XB, lambda T: dict(y=YB, batch_size=2, epochs=3,
                                                                 steps_per_epoch=2)),
}


def _recording_model(K, log):
    """A model whose every train / test step notes its batch's number."""
    if K is keras:
        class Recorder(keras.Model):
            def train_step(self, data):
                log.append(("train", int(np.asarray(data[0])[0, 0])))
                return super().train_step(data)

            def test_step(self, data):
                log.append(("test", int(np.asarray(data[0])[0, 0])))
                return super().test_step(data)

        inputs = keras.Input((2,))
        model = Recorder(inputs, keras.layers.Dense(1)(inputs))
        model.compile("sgd", "mse", run_eagerly=True)    # (so the steps run in Python)
        return model
    inputs = sn.keras.Input((2,))
    model = sn.keras.Model(inputs, sn.keras.layers.Dense(1)(inputs))
    model.compile("sgd", "mse")
    train_step, test_step = model.train_step, model._test_step

    def recorded_train_step(xs, targets, weights=None):
        log.append(("train", int(xs[0][0, 0])))
        return train_step(xs, targets, weights)

    def recorded_test_step(xs, targets, weights, regularized):
        log.append(("test", int(xs[0][0, 0])))
        return test_step(xs, targets, weights, regularized)

    model.train_step, model._test_step = recorded_train_step, recorded_test_step
    return model


def _schedule(T, name):
    K = keras if T is tf else sn.keras
    make_x, make_kwargs = SCHEDULES[name]
    log, epochs, steps = [], [], []

    class Watch(K.callbacks.Callback):
        def on_train_begin(self, logs=None):
            steps.append(self.params["steps"])

        def on_epoch_end(self, epoch, logs=None):
            epochs.append(([b for kind, b in log if kind == "train"],
                           [b for kind, b in log if kind == "test"]))
            log.clear()

    model = _recording_model(K, log)
    history, said = quiet(model.fit, make_x(T), verbose=0, shuffle=False, callbacks=[Watch()],
                          **make_kwargs(T))
    return {"epochs": epochs, "steps": steps, "history": sorted(
        (k, len(v)) for k, v in history.history.items()),
        "ran out": sum(RAN_OUT in m for m in said)}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_which_batches_each_epoch_gets_is_keras(name):
    assert _schedule(sn, name) == _schedule(tf, name)


def test_an_example_schedule_written_out():
    """5 batches, steps_per_epoch=3: the pass goes on in the next epoch, runs out there (one
    warning), and the third epoch starts a fresh pass. A finite generator gives its first two
    batches again in later epochs (Keras replays what it looked at ahead)."""
    assert _schedule(sn, "cardinality 5, steps_per_epoch 3") == {
        "epochs": [([0, 1, 2], []), ([3, 4], []), ([0, 1, 2], [])], "steps": [3],
        "history": [("loss", 3)], "ran out": 1}
    assert _schedule(sn, "generator")["epochs"] == [([0, 1, 2, 3, 4], []), ([0, 1], []),
                                                    ([0, 1], [])]


# --------------------------------------------------------------------------- bad input

def _unchanged(model, before):
    return all(np.array_equal(p, q) for p, q in zip(model.get_weights(), before))


BAD_FIT = {
    "y with a Dataset": (lambda ds: dict(x=ds, y=Y), ValueError, "`y` should not be passed"),
    "sample_weight with a Dataset": (lambda ds: dict(x=ds, sample_weight=W), ValueError,
                                     "`sample_weights` should not be passed"),
    "validation_split with a Dataset": (lambda ds: dict(x=ds, validation_split=0.2),
                                        ValueError, "validation_split is only supported"),
    "x only": (lambda ds: dict(x=ds.map(lambda x, y: x)), ValueError,
               "each batch must be (x, y)"),
    "a 4-tuple": (lambda ds: dict(x=ds.map(lambda x, y: (x, y, y, y))), ValueError,
                  "found: a tuple of 4"),
    "unbatched elements": (lambda ds: dict(x=ds.unbatch()), ValueError,
                           "of shape (None, 4) (batch first), received shape (4,)"),
    "a NaN in batch 2": (lambda ds: dict(x=_nan_in_batch_2()), ValueError,
                         "(batch 2 of the tf.data.Dataset): x contains NaN"),
    "a generator of lists": (lambda ds: dict(x=([x, y] for x, y in ds)), ValueError,
                             "the generator must return a tuple"),
    "class_weight with a generator": (lambda ds: dict(x=(e for e in ds),
                                                      class_weight={0: 1.0}),
                                      ValueError, "`class_weight` is not supported"),
    "an empty generator": (lambda ds: dict(x=(e for e in [])), ValueError,
                           "must yield at least one batch"),
    "steps_per_epoch 0": (lambda ds: dict(x=ds, steps_per_epoch=0), ValueError,
                          "steps_per_epoch must be None or a positive int"),
    "steps_per_epoch 2.5": (lambda ds: dict(x=ds, steps_per_epoch=2.5), ValueError,
                            "steps_per_epoch must be None or a positive int"),
    "a TensorFlow Dataset": (lambda ds: dict(x=tf.data.Dataset.from_tensor_slices((X, Y))),
                             TypeError, "scratchnet.data.Dataset"),
}


def _nan_in_batch_2():
    x = X.copy()
    x[9, 1] = np.nan                       # row 9: batch 2 of batches of 4
    return sn.data.Dataset.from_tensor_slices((x, Y)).batch(4)


@pytest.mark.parametrize("name", sorted(BAD_FIT))
def test_bad_input_is_one_clear_error_and_trains_nothing(name):
    make, error, words = BAD_FIT[name]
    model = compiled(sn.keras, mlp)
    before = model.get_weights()
    kwargs = make(sn.data.Dataset.from_tensor_slices((X, Y)).batch(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error) as raised:
            model.fit(verbose=0, shuffle=False, **kwargs)
    assert words in str(raised.value)
    assert str(raised.value).startswith("fit")
    if name != "a NaN in batch 2":          # (batches 0 and 1 trained before it)
        assert _unchanged(model, before)


def test_evaluate_and_predict_name_themselves_in_errors():
    model = compiled(sn.keras, mlp)
    ds = sn.data.Dataset.from_tensor_slices((X, Y)).batch(4)
    with pytest.raises(ValueError, match="^evaluate: .*`y` should not be passed"):
        model.evaluate(ds, Y, verbose=0)
    with pytest.raises(ValueError, match=r"^evaluate \(batch 0 of the tf.data.Dataset\): .*"
                                         r"each batch must be \(x, y\)"):
        model.evaluate(ds.map(lambda x, y: x), verbose=0)
    with pytest.raises(ValueError, match="^predict: x .* yielded no batches"), \
            pytest.warns(UserWarning, match=RAN_OUT):
        model.predict(ds.take(0), verbose=0)
    with pytest.raises(ValueError, match="^predict: steps must be None or a positive int"):
        model.predict(ds, steps=-1, verbose=0)
    with pytest.warns(UserWarning, match=RAN_OUT):
        assert model.evaluate(ds.take(0), verbose=0) == []   # Keras: no batch, no logs
    # predict takes x from (x, y) elements, and bare x elements too
    assert np.array_equal(model.predict(ds, verbose=0),
                          model.predict(ds.map(lambda x, y: x), verbose=0))

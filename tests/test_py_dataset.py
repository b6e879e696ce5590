"""keras.utils.PyDataset / Sequence in fit, evaluate and predict, and tf.keras 2's
fit_generator / evaluate_generator / predict_generator (issue 11): against the same arrays,
against Keras 3, and the loading-ahead rules (order kept, on_epoch_end, errors)."""
import math
import threading
import warnings

import numpy as np
import pytest

import parity_log
import scratchnet as sn
from tf_support import import_tf

tf = import_tf()
from reference import floatx_scope  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def make_sequence(T, x, y, batch_size, log=None):
    """Keras's own PyDataset example, recording which batches were asked for."""
    class Batches(T.keras.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, idx):
            if log is not None:
                log.append(("get", idx, threading.current_thread().name))
            low = idx * batch_size
            high = min(low + batch_size, len(x))
            return x[low:high], y[low:high]

        def on_epoch_end(self):
            if log is not None:
                log.append(("epoch_end",))

    return Batches()


def model_for(T, weights):
    model = T.keras.Sequential([T.keras.Input((4,)), T.keras.layers.Dense(6, activation="relu"),
                                T.keras.layers.Dense(3, activation="softmax")])
    model.set_weights(weights)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data(dtype="float32", n=22):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype(dtype), rng.integers(0, 3, n)


def weights_for(dtype):
    with floatx_scope(dtype):
        return model_for(sn, sn.keras.Sequential([
            sn.keras.Input((4,)), sn.keras.layers.Dense(6), sn.keras.layers.Dense(3)])
            .get_weights()).get_weights()


def test_a_pydataset_trains_exactly_as_its_arrays():
    x, y = data()
    w = weights_for("float32")
    on_arrays, on_sequence = model_for(sn, w), model_for(sn, w)
    h1 = on_arrays.fit(x, y, batch_size=5, epochs=3, shuffle=False, verbose=0)
    h2 = on_sequence.fit(make_sequence(sn, x, y, 5), epochs=3, shuffle=False, verbose=0)
    assert h1.history == h2.history
    for a, b in zip(on_arrays.get_weights(), on_sequence.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(on_arrays.predict(x, batch_size=5, verbose=0),
                                  on_sequence.predict(make_sequence(sn, x, y, 5), verbose=0))
    assert on_arrays.evaluate(x, y, batch_size=5, verbose=0) == \
        on_sequence.evaluate(make_sequence(sn, x, y, 5), verbose=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fit_evaluate_predict_on_a_pydataset_equal_keras(dtype):
    x, y = data(dtype)
    w = weights_for(dtype)
    results = []
    for T in (sn, tf):
        with floatx_scope(dtype):
            model = model_for(T, w)
            seq = make_sequence(T, x, y, 5)
            history = model.fit(seq, validation_data=make_sequence(T, x[:8], y[:8], 4),
                                epochs=2, shuffle=False, verbose=0)
            results.append((history.history, model.get_weights(),
                            model.evaluate(seq, verbose=0), model.predict(seq, verbose=0)))
    ours, theirs = results
    assert sorted(ours[0]) == sorted(theirs[0])
    for key in theirs[0]:
        parity_log.check(np.asarray(ours[0][key], dtype), np.asarray(theirs[0][key], dtype),
                         dtype, key, "PyDataset fit")
    for a, b in zip(ours[1], theirs[1]):
        parity_log.check(a, b, dtype, "weights", "PyDataset fit")
    parity_log.check(np.asarray(ours[2], dtype), np.asarray(theirs[2], dtype), dtype,
                     "evaluate", "PyDataset fit")
    parity_log.check(ours[3], theirs[3], dtype, "predict", "PyDataset fit")


def test_batches_load_ahead_in_order_in_one_background_thread():
    x, y = data()
    log = []
    model = model_for(sn, weights_for("float32"))
    model.fit(make_sequence(sn, x, y, 5, log), epochs=2, shuffle=False, verbose=0)
    # (first batches 0 and 1, read when the PyDataset is adapted, then on_epoch_end, then
    # two passes in order: exactly Keras's calls, in Keras's order)
    keras_log = []
    model_for(tf, weights_for("float32")).fit(make_sequence(tf, x, y, 5, keras_log), epochs=2,
                                              shuffle=False, verbose=0)
    assert [e[:2] for e in log] == [e[:2] for e in keras_log]
    assert [e[1] for e in log if e[0] == "get"] == [0, 1] + list(range(5)) * 2
    assert any(e[2] == "scratchnet PyDataset loader" for e in log if e[0] == "get")


def test_shuffle_reorders_the_batches_each_epoch_reproducibly():
    x, y = data()
    orders = []
    for _ in range(2):
        log = []
        sn.random.set_seed(3)
        model = model_for(sn, weights_for("float32"))
        model.fit(make_sequence(sn, x, y, 5, log), epochs=2, shuffle=True, verbose=0)
        orders.append([g[1] for g in log if g[0] == "get"][2:])
    first, second = orders[0][:5], orders[0][5:]
    assert sorted(first) == sorted(second) == list(range(5))
    assert orders[0] == orders[1]


def test_an_endless_pydataset_with_steps_per_epoch():
    x, y = data()

    class Endless(sn.keras.utils.PyDataset):
        def __init__(self):
            super().__init__()
            self.asked = []

        @property
        def num_batches(self):
            return None

        def __getitem__(self, idx):
            self.asked.append(idx)
            return x[(idx % 4) * 5:(idx % 4) * 5 + 5], y[(idx % 4) * 5:(idx % 4) * 5 + 5]

    seq = Endless()
    model = model_for(sn, weights_for("float32"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(seq, steps_per_epoch=3, epochs=2, verbose=0)
    assert any("infinite PyDataset" in str(w.message) for w in caught)
    assert len(history.history["loss"]) == 2
    assert seq.asked[:7] == [0, 1, 0, 1, 2, 3, 4]


def test_keras2_generator_methods_run_with_a_deprecation_warning():
    x, y = data()
    w = weights_for("float32")
    reference, old_style = model_for(sn, w), model_for(sn, w)
    expected = reference.fit(make_sequence(sn, x, y, 5), epochs=2, shuffle=False, verbose=0)

    def endless():
        while True:
            for i in range(0, 20, 5):
                yield x[i:i + 5], y[i:i + 5]

    with pytest.warns(DeprecationWarning, match="fit_generator"):
        history = old_style.fit_generator(make_sequence(sn, x, y, 5), epochs=2, verbose=0,
                                          shuffle=False, workers=4, max_queue_size=3)
    assert history.history == expected.history
    with pytest.warns(DeprecationWarning, match="evaluate_generator"):
        loss = old_style.evaluate_generator(endless(), steps=4)
    assert loss == pytest.approx(old_style.evaluate(x[:20], y[:20], batch_size=5,
                                                    verbose=0))
    with pytest.warns(DeprecationWarning, match="predict_generator"):
        out = old_style.predict_generator(make_sequence(sn, x, y, 5))
    np.testing.assert_array_equal(out, old_style.predict(x, batch_size=5, verbose=0))


def test_bad_batches_and_missing_super_init_are_clear():
    x, y = data()

    class NoSuper(sn.keras.utils.PyDataset):
        def __init__(self):
            self.name = "no super().__init__()"

        def __len__(self):
            return 2

        def __getitem__(self, idx):
            return "not a batch"

    model = model_for(sn, weights_for("float32"))
    with pytest.warns(UserWarning, match="super"), pytest.raises(ValueError,
                                                                 match="tuple or a dict"):
        model.fit(NoSuper(), verbose=0)

    class Fails(sn.keras.utils.PyDataset):
        def __init__(self):
            super().__init__()

        def __len__(self):
            return 3

        def __getitem__(self, idx):
            if idx == 2:
                raise OSError("cannot read batch 2")
            return x[:5], y[:5]

    with pytest.raises(OSError, match="batch 2"):
        model.fit(Fails(), epochs=1, shuffle=False, verbose=0)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(make_sequence(sn, x, y, 5), y, verbose=0)
    assert sn.keras.utils.Sequence is sn.keras.utils.PyDataset

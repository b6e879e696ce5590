"""The engine itself, without TensorFlow: pure layers, graphs, tapes, trainable, errors.

* the three results that were silently wrong before the redesign, as regression tests:
  one Dense object twice in a Sequential (gradient, count_params), a layer unfrozen after
  being created frozen (it must train after the next compile), a MaxPooling2D's own
  backward after a fused Conv2D + MaxPooling2D training pass;
* float64 central differences of whole models' losses w.r.t. every weight where the
  engine sums gradients: a layer shared by several calls (Functional and subclassed), a
  tensor feeding several layers (fan-out), arithmetic on tensors (x + y, x * y, x[...]);
* what a subclassed model's `call` may and may not do to a traced tensor;
* graph errors (disconnected, duplicate names), get_layer, layer.input / output, the input
  rank rule, outputs never overwritten by later calls, fused == unfused bit for bit.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import scratchnet as sn
from scratchnet import backend
from scratchnet.layers import (Add, Concatenate, Conv2D, Dense, Flatten, Input, MaxPooling2D,
                               Subtract)
from scratchnet.models import Model, Sequential
from test_gradcheck import FD_ATOL, FD_RTOL, numeric_grad

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@pytest.fixture(autouse=True)
def _float64():
    backend.set_floatx("float64")  # conftest restores floatx afterwards


def gradcheck_model(model, x, y):
    """dL/d(every trainable weight) of a compiled model on (x, y) vs central differences."""
    xs, _, targets = model._prepare_xy(x, y, "gradcheck")

    def value():
        return float(model._loss_and_grads(xs, targets)[0])

    _, analytic, _ = model._loss_and_grads(xs, targets)
    analytic = [g.copy() for g in analytic]
    weights = model.trainable_weights
    assert len(analytic) == len(weights) > 0
    for i, w in enumerate(weights):
        numeric = numeric_grad(value, w)
        np.testing.assert_allclose(analytic[i], numeric, rtol=FD_RTOL, atol=FD_ATOL,
                                   err_msg=f"dL/dweight[{i}] {w.shape}")


# ---------------------------------------------------------------- the three silent bugs
def test_one_dense_object_twice_in_a_sequential_is_exact():
    """Was: the shared kernel's gradient off by O(1), count_params 45 instead of 25."""
    rng = np.random.default_rng(0)
    d = Dense(4, activation="tanh", input_shape=(4,))
    model = Sequential([d, d, Dense(1)])
    assert model.count_params() == 25 and len(model.weights) == 4
    assert [layer.name for layer in model.layers] == [d.name, d.name, model.layers[2].name]
    model.compile(optimizer="sgd", loss="mse")
    gradcheck_model(model, rng.standard_normal((6, 4)), rng.standard_normal((6, 1)))


def test_a_layer_unfrozen_after_creation_trains_after_the_next_compile():
    """Was: the backward pass stopped at a layer index computed once at build time. Keras's
    rule: `trainable` takes effect at the next compile (TF shows the same, see
    test_functional_parity)."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    first = Dense(4, activation="tanh", trainable=False)
    model = Sequential([Input(shape=(3,)), first, Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(before[:2], after[:2]))    # frozen
    assert not np.array_equal(before[2], after[2])
    first.trainable = True
    model.fit(x, y, epochs=1, verbose=0)                                   # not compiled yet
    assert all(np.array_equal(a, b) for a, b in zip(after[:2], model.get_weights()[:2]))
    model.compile(optimizer="sgd", loss="mse")
    kept = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0)
    assert not any(np.array_equal(a, b) for a, b in zip(kept, model.get_weights()))
    assert len(model.trainable_weights) == 4
    gradcheck_model(model, x, y)


def test_a_pools_own_backward_after_a_fused_training_pass():
    """Was: after a fused Conv2D + MaxPooling2D training pass, the pool's backward returned
    dL/dz of the convolution. Now nothing about a call lives on a layer: the pool's backward
    of its own call is its own dL/dx, whatever ran before."""
    rng = np.random.default_rng(2)
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 2)),
                        MaxPooling2D(2), Flatten(), Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    steps = model._graph.plan.steps_for(True)
    assert steps[0].pool is model.layers[1]                    # fit runs the pair fused
    model.fit(rng.standard_normal((4, 8, 8, 2)), rng.standard_normal((4, 2)), verbose=0)
    conv, pool = model.layers[:2]
    z = np.maximum(rng.standard_normal((2, 6, 6, 4)), 0)
    y, cache = pool.forward(z, training=True)
    dy = rng.standard_normal(y.shape)
    dx = pool.backward(dy, cache)
    assert dx.shape == z.shape                                 # its input's shape...
    expected = np.zeros_like(z)                                # ...and the max cell of each
    for b, p, q, c in np.ndindex(y.shape):                     # window gets that window's dy
        window = z[b, 2 * p:2 * p + 2, 2 * q:2 * q + 2, c]
        i, j = np.unravel_index(np.argmax(window), window.shape)
        expected[b, 2 * p + i, 2 * q + j, c] += dy[b, p, q, c]
    np.testing.assert_array_equal(dx, expected)


# ---------------------------------------------------------------- sums of gradients
@settings(max_examples=5)
@given(seed=st.integers(0, 2**32 - 1))
def test_shared_layer_and_fan_out_in_a_functional_model(seed):
    """One Dense called on two inputs and again on the sum; one tensor feeding three layers;
    arithmetic on tensors; two outputs with their own losses and weights."""
    rng = np.random.default_rng(seed)
    a, b = Input(shape=(3,)), Input(shape=(3,))
    shared = Dense(3, activation="tanh")
    ha, hb = shared(a), shared(b)
    s = Add()([ha, hb])
    t = shared(s)                                  # third call, on a tensor made from it
    mixed = Concatenate()([t, ha * hb, 2.0 * s - hb])
    out1 = Dense(2, activation="softmax")(mixed)
    out2 = Dense(1)(Subtract()([t, -ha])[:, :2])
    model = Model([a, b], [out1, out2])
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", "mse"],
                  loss_weights=[0.5, 2.0])
    x = [rng.standard_normal((5, 3)), rng.standard_normal((5, 3))]
    y = [rng.integers(0, 2, 5), rng.standard_normal((5, 1))]
    gradcheck_model(model, x, y)


def _subclassed_model():
    class Residual(Model):
        def __init__(self):
            super().__init__()
            self.inner = Dense(4, activation="tanh")
            self.blocks = [Dense(4, activation="sigmoid"), Dense(4)]
            self.head = {"out": Dense(2)}

        def call(self, inputs, training=None):
            h = self.inner(inputs)
            for block in self.blocks:
                h = h + block(h)                   # a residual: fan-out and a shared sum
            h = self.inner(h * 0.5)                # `inner` called twice
            return self.head["out"](h - h[:, :1])

    return Residual()


@settings(max_examples=5)
@given(seed=st.integers(0, 2**32 - 1))
def test_shared_layer_and_fan_out_in_a_subclassed_model(seed):
    rng = np.random.default_rng(seed)
    model = _subclassed_model()
    model.compile(optimizer="sgd", loss="mse")
    gradcheck_model(model, rng.standard_normal((5, 4)), rng.standard_normal((5, 2)))
    assert [type(layer).__name__ for layer in model.layers] == ["Dense"] * 4   # order kept
    assert model.layers[0] is model.inner and model.count_params() == 20 + 20 + 20 + 10


def test_subclassed_layers_are_tracked_in_assignment_order():
    model = _subclassed_model()
    assert model.layers == [model.inner, *model.blocks, model.head["out"]]
    model(np.zeros((1, 4)))
    assert [w.shape for w in model.weights] == [(4, 4), (4,)] * 3 + [(4, 2), (2,)]


# ---------------------------------------------------------------- the tape's limits
def _call_model(body):
    class M(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(3)

        def call(self, inputs):
            return body(self.dense, inputs)

    return M()


@pytest.mark.parametrize("body, named", [
    (lambda d, x: d(np.sin(x)), "np.sin"),
    (lambda d, x: d(np.cumsum(x, axis=1)), "np.cumsum"),
    (lambda d, x: d(x.numpy()), ".numpy()"),
    (lambda d, x: d(x) + np.add.reduce(x, axis=1, keepdims=True), "np.add.reduce"),
])
def test_untraceable_operations_in_call_are_named(body, named):
    """What neither the tape of layer calls nor the tf operations can differentiate is
    refused by name (np.exp, .sum, .reshape, @, ** and np.concatenate are tf operations and
    are differentiated: tests/test_gradient_tape.py)."""
    model = _call_model(body)
    escaped = named.replace("(", r"\(").replace(")", r"\)")
    with pytest.raises(TypeError, match=rf"{escaped}.*call\(\)"):
        model(np.ones((2, 4)))
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match=escaped):
        model.fit(np.ones((2, 4)), np.ones((2, 3)), verbose=0)


def test_call_returning_something_not_computed_by_layers_is_refused():
    model = _call_model(lambda d, x: np.ones((2, 3)))
    with pytest.raises(TypeError, match="not computed from its inputs by layers"):
        model(np.ones((2, 4)))


def test_training_flag_reaches_layers_called_without_it():
    seen = []

    class Probe(sn.layers.Layer):
        def forward(self, x, training=False):
            seen.append(training)
            return x, None

        def backward(self, dy, cache, need_input_grad=True):
            return dy

    class M(Model):
        def __init__(self):
            super().__init__()
            self.probe, self.dense = Probe(), Dense(1)

        def call(self, inputs):                 # no `training` argument, as in the lecture
            return self.dense(self.probe(inputs))

    model = M()
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((2, 3)), np.ones((2, 1)), verbose=0)
    model.predict(np.ones((2, 3)), verbose=0)
    assert True in seen and seen[-1] is False


# ---------------------------------------------------------------- graphs
def test_graph_disconnected_and_duplicate_names_are_keras_errors():
    a, b = Input(shape=(2,)), Input(shape=(2,))
    out = Add()([a, b])
    with pytest.raises(ValueError, match="Graph disconnected"):
        Model(a, out)
    x = Input(shape=(2,))
    y = Dense(2, name="twin")(Dense(2, name="twin")(x))
    with pytest.raises(ValueError, match='The name "twin" is used 2 times'):
        Model(x, y)
    with pytest.raises(ValueError, match="symbolic tensors"):
        Model(x, np.ones(2))


def test_model_attributes_keras_users_reach_for():
    inputs = Input(shape=(4,), name="features")
    hidden = Dense(3, name="hidden")
    h = hidden(inputs)
    out = Dense(1, name="out")(h)
    model = Model(inputs=inputs, outputs=out, name="regressor")
    assert model.input is inputs and model.output is out
    assert model.inputs == [inputs] and model.outputs == [out]
    assert [layer.name for layer in model.layers] == ["features", "hidden", "out"]
    assert model.get_layer("hidden") is hidden and model.get_layer(index=1) is hidden
    assert hidden.input is inputs and hidden.output is h
    assert model.input_shape == (None, 4) and model.output_shape == (None, 1)
    assert hidden.input_shape == (None, 4) and hidden.output_shape == (None, 3)
    with pytest.raises(ValueError, match="No such layer: nope"):
        model.get_layer("nope")
    with pytest.raises(AttributeError, match="never been called"):
        Dense(2).output


def test_sequential_has_input_and_output_at_once():
    """tf.keras 2's behaviour (the Coursera activation model relies on it); Keras 3 dropped it."""
    model = Sequential([Conv2D(2, 3, input_shape=(6, 6, 1)), MaxPooling2D(2), Flatten(),
                        Dense(3)])
    assert model.input.shape == (None, 6, 6, 1) and model.output.shape == (None, 3)
    activations = Model(inputs=model.input, outputs=[layer.output for layer in model.layers])
    x = np.random.default_rng(3).standard_normal((2, 6, 6, 1))
    outs = activations.predict(x, verbose=0)
    assert [o.shape for o in outs] == [(2, 4, 4, 2), (2, 2, 2, 2), (2, 8), (2, 3)]
    np.testing.assert_allclose(outs[-1], model.predict(x, verbose=0), rtol=1e-15)
    later = Sequential([Dense(2)])
    with pytest.raises(AttributeError, match="no defined input yet"):
        later.input


def test_input_rank_rule():
    """(N, 28, 28) images into Input(shape=(28, 28, 1)) get the channel axis (Keras 3)."""
    inputs = Input(shape=(5, 5, 1))
    model = Model(inputs, Flatten()(inputs))
    x = np.random.default_rng(4).standard_normal((3, 5, 5))
    np.testing.assert_array_equal(model.predict(x, verbose=0), x.reshape(3, 25))
    inp = Input(shape=(3,))
    squeeze = Model(inp, Dense(1)(inp))
    assert squeeze.predict(np.ones((2, 3, 1)), verbose=0).shape == (2, 1)
    with pytest.raises(ValueError, match=r"expects input .*\(None, 3\).*\(2, 4\)"):
        squeeze.predict(np.ones((2, 4)), verbose=0)


def test_outputs_are_never_overwritten_by_later_calls():
    """Buffers are reused per call inside a model, but what a model returns is the caller's."""
    model = Sequential([Conv2D(3, 3, activation="relu", input_shape=(6, 6, 1)), Flatten()])
    rng = np.random.default_rng(5)
    x1, x2 = rng.standard_normal((2, 4, 6, 6, 1))
    y1 = model.predict(x1, verbose=0)
    kept = y1.copy()
    y1_call = model(x1)
    model.predict(x2, verbose=0)
    model(x2)
    np.testing.assert_array_equal(y1, kept)
    np.testing.assert_array_equal(y1_call, kept)


@pytest.mark.parametrize("kind", ["sequential", "functional"])
def test_fused_fit_equals_unfused_fit_bit_for_bit(kind, monkeypatch):
    """Fusion only moves work around: k steps of fit give the same weights to the last bit."""
    def build():
        sn.utils.set_random_seed(6)
        layers = [Conv2D(4, 3, activation="relu"), MaxPooling2D(2),
                  Conv2D(4, 3, activation="relu", padding="same"), MaxPooling2D(2), Flatten(),
                  Dense(3, activation="softmax")]
        if kind == "sequential":
            model = Sequential([Input(shape=(10, 10, 2))] + layers)
        else:
            inputs = Input(shape=(10, 10, 2))
            x = inputs
            for layer in layers:
                x = layer(x)
            model = Model(inputs, x)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    rng = np.random.default_rng(7)
    x, y = rng.standard_normal((12, 10, 10, 2)), rng.integers(0, 3, 12)
    fused = build()
    assert any(step.pool is not None for step in fused._graph.plan.steps_for(True))
    h_fused = fused.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    p_fused = fused.predict(x, verbose=0)
    monkeypatch.setattr(Conv2D, "fuses_with", lambda self, layer, training=False: False)
    plain = build()
    assert all(step.pool is None for step in plain._graph.plan.steps_for(True))
    h_plain = plain.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert h_fused == h_plain
    np.testing.assert_array_equal(p_fused, plain.predict(x, verbose=0))


def test_nested_models_both_ways():
    """A Sequential inside a Functional model and a Functional model inside a Sequential."""
    rng = np.random.default_rng(8)
    block = Sequential([Dense(3, activation="tanh"), Dense(2)], name="block")
    inputs = Input(shape=(4,))
    outer = Model(inputs, Dense(1)(block(inputs)), name="outer")
    assert [layer.name for layer in outer.layers][1] == "block"
    assert outer.count_params() == 15 + 8 + 3
    outer.compile(optimizer="sgd", loss="mse")
    gradcheck_model(outer, rng.standard_normal((5, 4)), rng.standard_normal((5, 1)))
    inner_in = Input(shape=(2,))
    inner = Model(inner_in, Dense(2, activation="sigmoid")(inner_in))
    stacked = Sequential([Dense(2, input_shape=(3,)), inner, Dense(1)])
    stacked.compile(optimizer="sgd", loss="mse")
    gradcheck_model(stacked, rng.standard_normal((5, 3)), rng.standard_normal((5, 1)))
    text = []
    stacked.summary(print_fn=text.append)
    assert f"{inner.name} (Functional)" in "\n".join(text)


def test_trainable_false_on_a_model_freezes_its_layers():
    inner = Sequential([Dense(2, input_shape=(3,)), Dense(2)])
    inner.trainable = False
    assert all(not layer.trainable for layer in inner.layers)
    assert inner.trainable_weights == [] and len(inner.non_trainable_weights) == 4
    outer = Sequential([inner, Dense(1)])
    assert len(outer.trainable_weights) == 2


def test_nested_models_with_several_outputs_and_a_list_of_one():
    """A model with two outputs used as a layer (its call returns a list), and a subclassed
    model whose call returns a list of one tensor, inside bigger models."""
    rng = np.random.default_rng(9)
    inner_in = Input(shape=(3,))
    inner = Model(inner_in, [Dense(2, activation="tanh")(inner_in), Dense(1)(inner_in)])
    x = Input(shape=(3,))
    p, q = inner(x)
    model = Model(x, Dense(1)(Concatenate()([p, q, p])))
    model.compile(optimizer="sgd", loss="mse")
    gradcheck_model(model, rng.standard_normal((4, 3)), rng.standard_normal((4, 1)))

    class Listed(Model):
        def __init__(self):
            super().__init__()
            self.dense = Dense(2, activation="sigmoid")

        def call(self, inputs):
            return [self.dense(inputs)]

    listed = Listed()
    y = Input(shape=(3,))
    (h,) = listed(y)
    outer = Model(y, Dense(1)(h))
    outer.compile(optimizer="sgd", loss="mse")
    gradcheck_model(outer, rng.standard_normal((4, 3)), rng.standard_normal((4, 1)))

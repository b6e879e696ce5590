"""The lecture-model registry (scratchnet.lecture_models): every entry builds in scratchnet
with the lecture's output shape and parameter count, compiles as the lecture compiles it, and
takes one training step; preprocessing and label formats; the tf.keras build of the same
builder (skipped without TensorFlow).
"""
import numpy as np
import pytest

from scratchnet import backend, keras
from scratchnet import lecture_models as lm

# Parameter counts as model.summary() reports them in the lectures / Keras.
PARAMS = {
    "mlp": 101_770,
    "coursera_cnn": 243_786,
    "coursera_cnn32": 113_386,
    "lenet5": 61_706,
    "lenet5_bn": 61_794,             # + 2 x (6 + 16) gammas, betas and moving statistics
    "python_ml_cnn": 1_111_946,
    "horse_or_human": 40_165_409,
    "horse_or_human_150": 9_494_561,
}
FUNCTIONAL = ("coursera_cnn", "coursera_cnn32", "lenet5", "python_ml_cnn")
PARAMS.update({f"{name}_functional": PARAMS[name] for name in FUNCTIONAL})


def test_registry_holds_the_lecture_models():
    assert set(lm.names()) == set(PARAMS)
    assert lm.names(trainable=False) == ["horse_or_human", "horse_or_human_150"]
    assert lm.names()[0] == "mlp"
    for spec in lm.MODELS.values():
        assert spec.description and spec.lecture
        assert spec.labels in lm.LABEL_FORMATS


def test_get_names_the_choices():
    assert lm.get("lenet5").name == "lenet5"
    with pytest.raises(ValueError, match="unknown model 'vgg'.*coursera_cnn.*mlp"):
        lm.get("vgg")


@pytest.mark.parametrize("name", list(PARAMS))
def test_builds_compiles_and_trains_one_step(name):
    spec = lm.get(name)
    backend.set_random_seed(0)
    model = spec.build(keras)
    assert model.compiled
    if not model.built:
        model.build((None,) + spec.input_shape)
    assert model.output_shape == (None, spec.num_classes)
    assert model.count_params() == PARAMS[name]

    n = 2 if name == "horse_or_human" else 8
    x_raw, y_raw = spec.random_data(n)
    x, y = spec.preprocess(x_raw), spec.prepare_labels(y_raw)
    assert x.shape == (n,) + spec.input_shape and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, batch_size=n, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    if spec.metric_name:
        assert spec.metric_name in history.history
    after = model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert model.predict(x, verbose=0).shape == (n, spec.num_classes)


def test_horse_or_human_summary_for_the_demo():
    from scratchnet import demo

    text = demo.summary_text(lm.get("horse_or_human"))
    assert "40,165,409" in text and "(None, 298, 298, 16)" in text and "(None, 78400)" in text
    text = demo.summary_text(lm.get("horse_or_human_150"))
    assert "9,494,561" in text and "(None, 18496)" in text


def test_compile_arguments_follow_the_lectures():
    probe = lm._NamespaceProbe()
    assert lm.get("lenet5").compile_args(probe)["optimizer"] == "sgd"
    assert lm.get("python_ml_cnn").compile_args(probe)["loss"] == "categorical_crossentropy"
    assert lm.get("python_ml_cnn").metric_name == "acc"
    assert lm.get("coursera_cnn").metric_name == "accuracy"
    hoh = lm.get("horse_or_human").compile_args(keras)
    assert hoh["loss"] == "binary_crossentropy"
    assert type(hoh["optimizer"]).__name__ == "RMSprop"
    assert float(hoh["optimizer"].learning_rate) == pytest.approx(0.001)


def test_preprocess_scales_and_adds_the_channel_axis():
    x = np.array([[[0, 255], [51, 102]]], dtype=np.uint8)  # (1, 2, 2)
    cnn, mlp = lm.get("coursera_cnn"), lm.get("mlp")
    out = cnn.preprocess(x)
    assert out.shape == (1, 2, 2, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out[0, :, :, 0], [[0.0, 1.0], [0.2, 0.4]], rtol=1e-6)
    assert cnn.preprocess(x[..., None]).shape == (1, 2, 2, 1)  # already has the axis
    assert mlp.preprocess(x).shape == (1, 2, 2)
    assert mlp.preprocess(x, "float64").dtype == np.float64


def test_label_formats():
    y = np.array([3, 0, 9], dtype=np.uint8)
    np.testing.assert_array_equal(lm.get("mlp").prepare_labels(y), y)
    one_hot = lm.get("python_ml_cnn").prepare_labels(y)
    assert one_hot.shape == (3, 10) and one_hot.dtype == np.float32
    np.testing.assert_array_equal(one_hot.argmax(axis=1), y)
    assert one_hot.sum() == 3
    np.testing.assert_array_equal(lm.get("python_ml_cnn").prepare_labels(one_hot), one_hot)


def test_bad_label_format_is_rejected():
    with pytest.raises(ValueError, match="labels must be one of"):
        lm.LectureModel("x", "d", "l", lambda k: None, lambda k: {}, (28, 28), labels="dense")


def test_functional_forms_are_the_same_networks():
    """Each conv lecture model's Functional form: a Functional model (InputLayer first in its
    layers) with the Sequential's layer types, shapes and weights in the same order."""
    for name in FUNCTIONAL:
        seq = lm.get(name).build(keras)
        fun = lm.get(f"{name}_functional").build(keras)
        assert type(fun).__name__ == "Functional" and fun.layers[0].name.startswith("input")
        assert [type(layer).__name__ for layer in fun.layers[1:]] == [
            type(layer).__name__ for layer in seq.layers]
        assert [w.shape for w in fun.get_weights()] == [w.shape for w in seq.get_weights()]
        assert fun.output_shape == seq.output_shape


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
@pytest.mark.parametrize("name", ["coursera_cnn", "lenet5", "python_ml_cnn",
                                  "lenet5_functional"])
def test_the_same_builder_builds_the_tf_keras_model(name):
    from tf_support import import_tf

    tf = import_tf()
    spec = lm.get(name)
    twin = spec.build(tf.keras)
    twin.build((None,) + spec.input_shape)
    assert twin.count_params() == PARAMS[name]
    assert tuple(twin.output_shape) == (None, spec.num_classes)
    ours = spec.build(keras)
    ours.build((None,) + spec.input_shape)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in twin.get_weights()]


def _bench_module():
    import importlib.util
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "benchmarks", "bench.py")
    spec = importlib.util.spec_from_file_location("scratchnet_bench", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_flop_count_of_the_coursera_cnn():
    """bench.py's analytic FLOPs: conv 2*Ho*Wo*kh*kw*C*F, dense 2*in*out; x3 to train, x2
    for the first layer (no dL/dx)."""
    bench = _bench_module()
    model = lm.get("coursera_cnn").build(keras)
    forward, train, rows = bench.model_flops(model)
    conv1, conv2 = 2 * 26 * 26 * 9 * 1 * 64, 2 * 11 * 11 * 9 * 64 * 64
    dense1, dense2 = 2 * 1600 * 128, 2 * 128 * 10
    assert [r[2] for r in rows] == [conv1, conv2, dense1, dense2]
    assert forward == conv1 + conv2 + dense1 + dense2 == 10_112_000
    assert train == 2 * conv1 + 3 * (conv2 + dense1 + dense2)
    assert set(bench.BENCHMARKS) == set(lm.names(trainable=True))

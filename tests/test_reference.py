"""`reference`: scratchnet -> tf.keras -> scratchnet keeps configuration and weights.

Also: unsupported layers fail with a message naming them, the device is described, and
`import scratchnet` never imports TensorFlow (scratchnet must work without it).
"""
import subprocess
import sys

import numpy as np
import pytest

import scratchnet as sn
from tf_support import import_tf
from tolerances import assert_close

tf = import_tf()
import keras  # noqa: E402  (after TF, which import_tf may skip)

from reference import describe_device, device, floatx_scope, from_keras, to_keras  # noqa: E402

DTYPES = ("float32", "float64")


def lecture_models():
    L = sn.layers
    return {
        "fashion_mlp": lambda: sn.Sequential([L.Flatten(input_shape=(28, 28)),
                                              L.Dense(128, activation=sn.nn.relu),
                                              L.Dense(10, activation=sn.nn.softmax)]),
        "mixed": lambda: sn.Sequential([L.Input(shape=(3, 2)), L.Flatten(),
                                        L.Dense(4, use_bias=False, kernel_initializer="he_normal"),
                                        L.ReLU(max_value=6.0),
                                        L.Dense(5, activation="tanh",
                                                bias_initializer="ones"),
                                        L.Activation("sigmoid"),
                                        L.Dense(3, kernel_initializer="random_normal"),
                                        L.Softmax()]),
        "line": lambda: sn.Sequential([L.Dense(units=1, input_shape=[1])]),
        # Coursera C1 W3 (small filter counts: the round trip is about configuration)
        "coursera_cnn": lambda: sn.Sequential([
            L.Conv2D(8, (3, 3), activation="relu", input_shape=(28, 28, 1)),
            L.MaxPooling2D(2, 2), L.Conv2D(8, (3, 3), activation="relu"),
            L.MaxPooling2D(2, 2), L.Flatten(), L.Dense(16, activation="relu"),
            L.Dense(10, activation="softmax")]),
        # Hands-On CV ch. 3 (LeNet-5)
        "lenet5": lambda: sn.Sequential([
            L.Conv2D(6, kernel_size=(5, 5), padding="same", activation="relu",
                     input_shape=(28, 28, 1)),
            L.MaxPooling2D(pool_size=(2, 2)), L.Conv2D(16, kernel_size=(5, 5), activation="relu"),
            L.MaxPooling2D(pool_size=(2, 2)), L.Flatten(), L.Dense(120, activation="relu"),
            L.Dense(84, activation="relu"), L.Dense(10, activation="softmax")]),
        # every conv/pool option that converts
        "conv_options": lambda: sn.Sequential([
            L.Input(shape=(13, 12, 2)),
            L.Conv2D(3, (3, 2), strides=2, padding="SAME", activation="tanh",
                     kernel_initializer="he_normal", bias_initializer="ones"),
            L.AvgPool2D(pool_size=2, strides=1, padding="same"),
            L.Conv2D(4, 3, dilation_rate=(2, 1), use_bias=False,
                     kernel_initializer="random_uniform"),
            L.MaxPool2D(pool_size=(2, 1), padding="valid"),
            L.Conv2D(5, 1, activation="sigmoid", kernel_initializer="glorot_normal",
                     bias_initializer="random_normal"),
            L.GlobalMaxPooling2D(keepdims=True),
            L.GlobalAveragePooling2D(), L.Dense(2)]),
    }


def layer_configs(model):
    return [(type(layer).__name__, {k: v for k, v in layer.get_config().items()})
            for layer in model.layers]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", sorted(lecture_models()))
def test_round_trip_preserves_config_and_weights(which, dtype):
    with floatx_scope(dtype):
        sn.backend.set_random_seed(1)
        model = lecture_models()[which]()
        twin = to_keras(model)
        assert twin.name == model.name
        assert [type(k).__name__ for k in twin.layers] == [type(s).__name__ for s in model.layers]
        assert [k.name for k in twin.layers] == [s.name for s in model.layers]
        assert tuple(twin.input_shape) == tuple(model.input_shape)
        assert tuple(twin.output_shape) == tuple(model.output_shape)
        assert twin.count_params() == model.count_params()
        for a, b in zip(model.get_weights(), twin.get_weights()):
            assert b.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(a, b)
        back = from_keras(twin)
    assert back.dtype == dtype
    assert back.name == model.name
    assert layer_configs(back) == layer_configs(model)
    assert back.input_shape == model.input_shape and back.output_shape == model.output_shape
    for a, b in zip(model.get_weights(), back.get_weights()):
        assert b.dtype == a.dtype
        np.testing.assert_array_equal(a, b)
    x = np.random.default_rng(0).normal(size=(5,) + model.input_shape[1:])
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_config_matches():
    """Dense's Keras config carries the same units, activation, bias and initializers."""
    model = lecture_models()["mixed"]()
    twin = to_keras(model)
    dense = [layer for layer in twin.layers if isinstance(layer, keras.layers.Dense)]
    configs = [layer.get_config() for layer in dense]
    assert [c["units"] for c in configs] == [4, 5, 3]
    assert [c["activation"] for c in configs] == ["linear", "tanh", "linear"]
    assert [c["use_bias"] for c in configs] == [False, True, True]
    assert [c["kernel_initializer"]["class_name"] for c in configs] == [
        "HeNormal", "GlorotUniform", "RandomNormal"]
    assert configs[1]["bias_initializer"]["class_name"] == "Ones"
    relu = [layer for layer in twin.layers if isinstance(layer, keras.layers.ReLU)][0]
    assert float(relu.max_value) == 6.0
    act = [layer for layer in twin.layers if isinstance(layer, keras.layers.Activation)][0]
    assert act.get_config()["activation"] == "sigmoid"


def test_keras_conv_and_pool_config_matches():
    """Conv2D and the pooling layers arrive in Keras with the same arguments."""
    twin = to_keras(lecture_models()["conv_options"]())
    configs = [layer.get_config() for layer in twin.layers]
    conv = [c for layer, c in zip(twin.layers, configs) if isinstance(layer, keras.layers.Conv2D)]
    assert [c["filters"] for c in conv] == [3, 4, 5]
    assert [tuple(c["kernel_size"]) for c in conv] == [(3, 2), (3, 3), (1, 1)]
    assert [tuple(c["strides"]) for c in conv] == [(2, 2), (1, 1), (1, 1)]
    assert [c["padding"] for c in conv] == ["same", "valid", "valid"]
    assert [tuple(c["dilation_rate"]) for c in conv] == [(1, 1), (2, 1), (1, 1)]
    assert [c["activation"] for c in conv] == ["tanh", "linear", "sigmoid"]
    assert [c["use_bias"] for c in conv] == [True, False, True]
    assert {c["data_format"] for c in configs if "data_format" in c} == {"channels_last"}
    assert [c["kernel_initializer"]["class_name"] for c in conv] == [
        "HeNormal", "RandomUniform", "GlorotNormal"]
    assert [c["bias_initializer"]["class_name"] for c in conv] == [
        "Ones", "Zeros", "RandomNormal"]
    avg, mx = twin.layers[1], twin.layers[3]
    assert type(avg) is keras.layers.AveragePooling2D and type(mx) is keras.layers.MaxPooling2D
    assert (tuple(avg.pool_size), tuple(avg.strides), avg.padding) == ((2, 2), (1, 1), "same")
    assert (tuple(mx.pool_size), tuple(mx.strides), mx.padding) == ((2, 1), (2, 1), "valid")
    gmax, gavg = twin.layers[5], twin.layers[6]
    assert type(gmax) is keras.layers.GlobalMaxPooling2D and gmax.keepdims is True
    assert type(gavg) is keras.layers.GlobalAveragePooling2D and gavg.keepdims is False


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_keras_conv_model_as_keras_writes_it(dtype):
    """A CNN written in tf.keras (Conv2D's positional (filters, kernel, strides, 'SAME'),
    MaxPool2D/AvgPool2D aliases, int kernel sizes) becomes the same scratchnet model,
    computing the same outputs. (Keras 3 rejects an uppercase 'SAME' for pooling layers in a
    model, though not when a pooling layer is called eagerly; scratchnet accepts both.)"""
    K = keras.layers
    with floatx_scope(dtype):
        twin = keras.Sequential([keras.Input(shape=(10, 9, 3)),
                                 K.Conv2D(4, 3, 1, "SAME", activation="relu", name="c1"),
                                 K.MaxPool2D(pool_size=(2, 2), strides=(2, 2), padding="same"),
                                 K.Conv2D(6, (2, 3), strides=(1, 2), name="c2"),
                                 K.AvgPool2D(2, padding="same"),
                                 K.GlobalAveragePooling2D(keepdims=True), K.Flatten(),
                                 K.Dense(3, activation="softmax")], name="from_tf")
        model = from_keras(twin)
        x = np.random.default_rng(3).normal(size=(4, 10, 9, 3)).astype(dtype)
        expected = twin.predict(x, verbose=0)   # in the scope: Keras casts x to floatx()
    assert model.dtype == dtype and model.name == "from_tf"
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "AveragePooling2D", "GlobalAveragePooling2D",
        "Flatten", "Dense"]
    c1, pool = model.layers[0], model.layers[1]
    assert (c1.filters, c1.kernel_size, c1.strides, c1.padding) == (4, (3, 3), (1, 1), "same")
    assert (pool.pool_size, pool.strides, pool.padding) == ((2, 2), (2, 2), "same")
    assert model.layers[4].keepdims is True
    assert model.output_shape == tuple(twin.output_shape)
    assert_close(model.predict(x, verbose=0), expected, dtype, "predict")


def test_unsupported_conv_options_are_named():
    K = keras.layers
    cases = [(K.Conv2D(2, 3, groups=2, name="grouped"), r"grouped.*groups"),
             (K.Conv2D(2, 3, activation="elu", name="elu_conv"), r"elu_conv.*elu"),
             (K.Conv2D(2, 3, data_format="channels_first", name="cf"), r"cf.*channels_first"),
             (K.MaxPooling2D(2, data_format="channels_first", name="cfp"), r"cfp.*channels_first")]
    for layer, message in cases:
        shape = (4, 6, 6) if layer.data_format == "channels_first" else (6, 6, 4)
        twin = keras.Sequential([keras.Input(shape=shape), layer])
        with pytest.raises(ValueError, match=message):
            from_keras(twin)


@pytest.mark.parametrize("optimizer, expected", [
    (lambda: sn.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
     {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    (lambda: sn.optimizers.RMSprop(learning_rate=0.002, rho=0.8, momentum=0.5, centered=True),
     {"learning_rate": 0.002, "rho": 0.8, "momentum": 0.5, "centered": True}),
    (lambda: sn.optimizers.Adagrad(learning_rate=0.03, initial_accumulator_value=0.2),
     {"learning_rate": 0.03, "initial_accumulator_value": 0.2}),
    (lambda: sn.optimizers.Adadelta(learning_rate=1.0, rho=0.9),
     {"learning_rate": 1.0, "rho": 0.9}),
    (lambda: sn.optimizers.Adam(learning_rate=0.01, beta_1=0.8, amsgrad=True),
     {"learning_rate": 0.01, "beta_1": 0.8, "amsgrad": True}),
    (lambda: sn.optimizers.SGD(lr=0.01, decay=1e-6, momentum=0.9),
     {"learning_rate": 0.01, "decay": 1e-6, "momentum": 0.9}),
])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_compiled(optimizer, expected, dtype):
    with floatx_scope(dtype):
        model = sn.Sequential([sn.layers.Dense(3, activation="softmax", input_shape=(4,))])
        model.compile(optimizer=optimizer(), loss=sn.losses.CategoricalCrossentropy(),
                      metrics=["accuracy", "mae"])
        twin = to_keras(model)
        assert type(twin.optimizer).__name__ == type(model.optimizer).__name__
        if "decay" in expected:
            schedule = twin.optimizer._learning_rate
            assert isinstance(schedule, keras.optimizers.schedules.InverseTimeDecay)
            assert schedule.decay_steps == 1 and schedule.decay_rate == expected["decay"]
        assert type(twin.loss).__name__ == "CategoricalCrossentropy"
        back = from_keras(twin)
    config = back.optimizer.get_config()
    for key, value in expected.items():
        assert config[key] == value, key
    assert config == model.optimizer.get_config()
    assert type(back.loss) is type(model.loss)
    assert back.loss.from_logits == model.loss.from_logits
    assert back._compile_args[2] == ["accuracy", "mae"]      # (loss, loss_weights, metrics)


def test_from_logits_loss_round_trip():
    model = sn.Sequential([sn.layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="adam", loss=sn.losses.BinaryCrossentropy(from_logits=True))
    twin = to_keras(model)
    assert twin.loss.get_config()["from_logits"] is True
    back = from_keras(twin)
    assert isinstance(back.loss, sn.losses.BinaryCrossentropy) and back.loss.from_logits


def test_unsupported_keras_layer_is_named():
    twin = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3),
                             keras.layers.LayerNormalization(name="my_norm"),
                             keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"my_norm.*LayerNormalization.*not supported"):
        from_keras(twin)


def test_unsupported_keras_activation_is_named():
    twin = keras.Sequential([keras.Input(shape=(3,)),
                             keras.layers.Dense(2, activation="elu", name="odd")])
    with pytest.raises(ValueError, match=r"odd.*elu"):
        from_keras(twin)


def test_unsupported_scratchnet_layer_is_named():
    class Custom(sn.layers.Layer):
        def forward(self, x, training=False):
            return x, None

    model = sn.Sequential([sn.layers.Dense(2, input_shape=(3,)), Custom(name="weird")])
    with pytest.raises(ValueError, match=r"weird.*Custom.*not supported"):
        to_keras(model)


def test_floatx_scope_restores_both():
    before_sn, before_k = sn.backend.floatx(), keras.backend.floatx()
    with floatx_scope("float64"):
        assert sn.backend.floatx() == keras.backend.floatx() == "float64"
        assert keras.layers.Dense(1).dtype_policy.name == "float64"
    assert (sn.backend.floatx(), keras.backend.floatx()) == (before_sn, before_k)


def test_device_description():
    text = describe_device()
    assert text.startswith(f"TensorFlow {tf.__version__} on ")
    expected = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
    assert expected in text and device() == f"/{expected}:0"


def test_import_scratchnet_does_not_import_tensorflow():
    code = ("import sys, scratchnet, scratchnet.keras; "
            "from scratchnet import layers, models, optimizers, losses, metrics; "
            "assert 'tensorflow' not in sys.modules, 'scratchnet imported tensorflow'; "
            "assert 'keras' not in sys.modules, 'scratchnet imported keras'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_reference_is_lazy():
    code = ("import sys, reference; "
            "assert 'tensorflow' not in sys.modules, 'import reference imported tensorflow'")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- every model kind
def _functional_models():
    L = sn.layers

    def graph():
        a, b = sn.Input(shape=(4,), name="a"), sn.Input(shape=(4,), name="b")
        shared = L.Dense(3, activation="tanh", name="shared")
        ha, hb = shared(a), shared(b)
        s = L.Add(name="sum")([ha, hb])
        mixed = L.Concatenate(name="joined")([L.Dense(3, name="again")(s), ha * hb, 0.5 * s - hb])
        return sn.Model([a, b], [L.Dense(2, activation="softmax", name="label")(mixed),
                                 L.Dense(1, name="score")(mixed[:, :2])], name="graph")

    def nested():
        block = sn.Sequential([L.Dense(3, activation="relu"), L.Dense(2)], name="block")
        inner_in = sn.Input(shape=(2,))
        inner = sn.Model(inner_in, L.Dense(2, activation="sigmoid")(inner_in), name="inner")
        inputs = sn.Input(shape=(4,))
        return sn.Model(inputs, L.Dense(1)(inner(block(inputs))), name="nested")

    def images():
        inputs = sn.Input(shape=(6, 6, 2))
        x = L.ZeroPadding2D(1)(inputs)
        x = L.Conv2D(3, 3, activation="relu")(x)
        y = L.UpSampling2D(2)(L.MaxPooling2D(2)(x))
        x = L.Concatenate()([L.Cropping2D(((0, 0), (0, 0)))(x), L.Permute((2, 1, 3))(y)])
        x = L.Reshape((-1,))(L.Average()([x, L.Maximum()([x, x * 2.0])]))
        return sn.Model(inputs, L.Dense(2)(x), name="images")

    return {"graph": (graph, [(5, 4), (5, 4)]), "nested": (nested, [(5, 4)]),
            "images": (images, [(5, 6, 6, 2)])}


@pytest.mark.parametrize("which", sorted(_functional_models()))
@pytest.mark.parametrize("dtype", DTYPES)
def test_functional_round_trip_keeps_graph_and_weights(which, dtype):
    make, shapes = _functional_models()[which]
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(s).astype(dtype) for s in shapes]
    with floatx_scope(dtype):
        model = make()
        twin = to_keras(model)
        assert isinstance(twin, keras.Model) and twin.name == model.name
        assert [w.shape for w in twin.get_weights()] == [w.shape for w in model.get_weights()]
        for a, b in zip(model.get_weights(), twin.get_weights()):
            np.testing.assert_array_equal(a, b)
        ours = model.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        theirs = twin.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        for a, b in zip(ours if isinstance(ours, list) else [ours],
                        theirs if isinstance(theirs, list) else [theirs]):
            assert_close(a, b, dtype, f"{which}: to_keras predict")
        back = from_keras(twin)
        assert type(back).__name__ == "Functional" and back.count_params() == model.count_params()
        again = back.predict(xs if len(xs) > 1 else xs[0], verbose=0)
        for a, b in zip(again if isinstance(again, list) else [again],
                        ours if isinstance(ours, list) else [ours]):
            assert_close(a, b, dtype, f"{which}: from_keras predict")


def test_subclassed_twin_is_the_traced_graph():
    """A subclassed model becomes a Functional Keras model of the calls its `call` traced:
    the same layers (the shared pooling layer shared), the same predictions."""
    L = sn.layers

    class LeNet5(sn.Model):
        def __init__(self):
            super().__init__(name="lenet")
            self.conv1 = L.Conv2D(6, 5, padding="same", activation="relu")
            self.conv2 = L.Conv2D(16, 5, activation="relu")
            self.max_pool = L.MaxPooling2D(2)
            self.flatten = L.Flatten()
            self.out = L.Dense(10, activation="softmax")

        def call(self, inputs):
            x = self.max_pool(self.conv1(inputs))
            return self.out(self.flatten(self.max_pool(self.conv2(x))))

    model = LeNet5()
    with pytest.raises(ValueError, match="has not run yet"):
        to_keras(model)
    model.build((None, 28, 28, 1))
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    twin = to_keras(model)
    assert sum(type(layer).__name__ == "MaxPooling2D" for layer in twin.layers) == 1
    x = np.random.default_rng(1).random((3, 28, 28, 1)).astype("float32")
    assert_close(model.predict(x, verbose=0), twin.predict(x, verbose=0), "float32",
                 "subclassed twin")
    assert twin.optimizer.__class__.__name__ == "SGD"


def test_sequential_with_a_layer_twice_becomes_a_functional_twin():
    dense = sn.layers.Dense(4, activation="tanh", input_shape=(4,))
    model = sn.Sequential([dense, dense, sn.layers.Dense(1)])
    twin = to_keras(model)
    assert type(twin).__name__ == "Functional" and twin.count_params() == 25
    x = np.random.default_rng(2).random((3, 4)).astype("float32")
    assert_close(model.predict(x, verbose=0), twin.predict(x, verbose=0), "float32",
                 "shared-layer Sequential twin")


def test_compile_of_several_outputs_converts():
    make, shapes = _functional_models()["graph"]
    model = make()
    model.compile(optimizer="adam", loss={"label": "sparse_categorical_crossentropy",
                                          "score": "mse"},
                  loss_weights={"label": 1.0, "score": 0.5}, metrics={"label": ["accuracy"]})
    twin = to_keras(model)
    rng = np.random.default_rng(3)
    xs = [rng.standard_normal(s).astype("float32") for s in shapes]
    ys = {"label": rng.integers(0, 2, 5), "score": rng.standard_normal((5, 1)).astype("float32")}
    es = model.evaluate(xs, ys, verbose=0, return_dict=True)
    ek = twin.evaluate(xs, ys, verbose=0, return_dict=True)
    assert set(es) == set(ek) == {"loss", "label_loss", "score_loss", "label_accuracy"}
    for key in ek:
        assert_close(es[key], ek[key], "float32", f"evaluate[{key}]")


def test_dict_inputs_and_outputs_convert_and_match():
    L = sn.layers
    a, b = sn.Input((3,), name="a"), sn.Input((2,), name="b")
    h = L.Concatenate(name="cat")([a, b])
    model = sn.Model({"a": a, "b": b}, {"score": L.Dense(1, name="s")(h),
                                        "label": L.Dense(2, activation="softmax", name="l")(h)})
    model.compile(optimizer="sgd", loss={"score": "mse", "label": "sparse_categorical_crossentropy"},
                  metrics={"label": ["accuracy"]})
    twin = to_keras(model)
    rng = np.random.default_rng(4)
    x = {"a": rng.random((6, 3)).astype("float32"), "b": rng.random((6, 2)).astype("float32")}
    y = {"score": rng.random((6, 1)).astype("float32"), "label": rng.integers(0, 2, 6)}
    ours, theirs = model.predict(x, verbose=0), twin.predict(x, verbose=0)
    assert set(ours) == set(theirs) == {"score", "label"}
    for key in ours:
        assert_close(ours[key], theirs[key], "float32", f"predict[{key}]")
    es = model.evaluate(x, y, verbose=0, return_dict=True)
    ek = twin.evaluate(x, y, verbose=0, return_dict=True)
    assert set(es) == set(ek)
    for key in ek:
        assert_close(es[key], ek[key], "float32", f"evaluate[{key}]")

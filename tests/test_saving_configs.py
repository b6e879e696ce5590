"""Configs (scratchnet/saving/serialization.py): every component's get_config is the config
Keras writes for the same object, and each library rebuilds the other's objects from it."""
import json

import numpy as np
import pytest

import scratchnet as sn
from scratchnet.saving.serialization import (deserialize_keras_object,
                                             serialize_keras_object)
from tf_support import import_tf
from tolerances import assert_close

tf = import_tf()
keras = tf.keras


def layers(K):
    """One of every layer kind with non-default options, for scratchnet or Keras."""
    L = K.layers
    return [
        L.Dense(3, activation="relu", use_bias=False,
                kernel_initializer=K.initializers.RandomNormal(stddev=0.1, seed=2),
                kernel_regularizer=K.regularizers.l2(0.01),
                kernel_constraint=K.constraints.MaxNorm(2)),
        L.Dense(2, kernel_initializer="he_normal", bias_regularizer=K.regularizers.L1(0.1),
                activity_regularizer=K.regularizers.L1L2(0.1, 0.2)),
        L.Conv2D(4, 3, padding="same", strides=2, dilation_rate=1, activation="sigmoid"),
        L.BatchNormalization(momentum=0.9, epsilon=1e-4, center=False,
                             gamma_regularizer=K.regularizers.L2(0.1),
                             beta_constraint=K.constraints.NonNeg()),
        L.Dropout(0.3, seed=7), L.MaxPooling2D(3, strides=1, padding="same"),
        L.AveragePooling2D(2), L.GlobalAveragePooling2D(keepdims=True),
        L.GlobalMaxPooling2D(), L.Flatten(), L.ReLU(max_value=6.0), L.Softmax(),
        L.Activation("tanh"), L.Add(), L.Subtract(), L.Multiply(), L.Average(), L.Maximum(),
        L.Minimum(), L.Concatenate(axis=1), L.Reshape((2, 3)), L.Permute((2, 1)),
        L.ZeroPadding2D(((1, 2), (3, 4))), L.Cropping2D(1), L.UpSampling2D(2),
    ]


def _without_name(config):
    return {k: _float32(v) for k, v in config.items() if k != "name"}


def _float32(value):
    """Numbers as float32: Keras keeps learning rates and regularizer factors in float32
    (0.05 comes back as 0.05000000074505806); scratchnet keeps what was written."""
    if isinstance(value, dict):
        return {k: _float32(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_float32(v) for v in value]
    if isinstance(value, float):
        return float(np.float32(value))
    return value


@pytest.mark.parametrize("index", range(len(layers(sn.keras))))
def test_layer_configs_equal_keras_and_travel_both_ways(index):
    ours, theirs = layers(sn.keras)[index], layers(keras)[index]
    kind = type(ours).__name__
    mine = json.loads(json.dumps(serialize_keras_object(ours)))
    assert mine["class_name"] == type(theirs).__name__
    rebuilt_by_keras = keras.layers.deserialize(json.loads(json.dumps(mine)))
    assert _without_name(rebuilt_by_keras.get_config()) == _without_name(theirs.get_config()), kind
    from_keras = deserialize_keras_object(json.loads(json.dumps(keras.layers.serialize(theirs))),
                                          "layers")
    assert type(from_keras) is type(ours)
    assert _without_name(from_keras.get_config()) == _without_name(ours.get_config()), kind


@pytest.mark.parametrize("make", [
    lambda K: K.optimizers.SGD(0.05, momentum=0.9, nesterov=True, clipnorm=1.0),
    lambda K: K.optimizers.RMSprop(0.002, rho=0.8, momentum=0.5, centered=True),
    lambda K: K.optimizers.Adagrad(0.03, initial_accumulator_value=0.2),
    lambda K: K.optimizers.Adadelta(1.0, rho=0.9),
    lambda K: K.optimizers.Adam(K.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5),
                                amsgrad=True),
    lambda K: K.losses.SparseCategoricalCrossentropy(from_logits=True),
    lambda K: K.losses.BinaryCrossentropy(),
    lambda K: K.metrics.BinaryAccuracy(threshold=0.7),
    lambda K: K.initializers.VarianceScaling(2.0, "fan_out", "uniform", seed=1),
    lambda K: K.initializers.Constant(0.25),
    lambda K: K.initializers.TruncatedNormal(mean=0.5, stddev=0.1, seed=3),
    lambda K: K.initializers.LecunNormal(seed=4),
    lambda K: K.constraints.MinMaxNorm(0.5, 2.0, rate=0.5, axis=[0, 1]),
], ids=["sgd", "rmsprop", "adagrad", "adadelta", "adam-schedule", "scce", "bce", "bin-acc",
        "variance-scaling", "constant", "truncated-normal", "lecun-normal", "min-max-norm"])
def test_component_configs_travel_both_ways(make):
    """Optimizers (with a schedule), losses, metrics, initializers, constraints: Keras
    rebuilds scratchnet's object from its config and the other way, with equal configs."""
    ours, theirs = make(sn.keras), make(keras)
    family = {"Optimizer": "optimizers", "Loss": "losses", "Metric": "metrics",
              "Initializer": "initializers", "Constraint": "constraints"}
    kind = next(v for k, v in family.items()
                if any(c.__name__ == k for c in type(ours).__mro__))
    mine = json.loads(json.dumps(serialize_keras_object(ours)))
    back = getattr(keras, kind).deserialize(json.loads(json.dumps(mine)))  # (Keras mutates)
    assert type(back).__name__ == type(theirs).__name__
    k_config = json.loads(json.dumps(getattr(keras, kind).serialize(theirs)))
    again = deserialize_keras_object(k_config, kind)
    assert type(again) is type(ours)
    assert (_without_name(serialize_keras_object(again)["config"])
            == _without_name(mine["config"]))


def arithmetic(K):
    """A Functional model computing with tensor arithmetic (saved as Keras's ops)."""
    inputs = K.Input((4,))
    a = K.layers.Dense(3)(inputs)
    b = a * 2.0 + a
    c = -b / (a + 3.0)
    return K.Model(inputs, 1.0 - c[:, :2])


def test_tensor_arithmetic_is_saved_as_keras_ops_both_ways():
    x = np.random.default_rng(0).random((5, 4)).astype("float32")
    ours = arithmetic(sn.keras)
    twin = keras.models.model_from_json(ours.to_json())
    twin.set_weights(ours.get_weights())
    assert_close(twin.predict(x, verbose=0), ours.predict(x, verbose=0), "float32",
                 "Keras rebuilds scratchnet's ops")
    theirs = arithmetic(keras)
    back = sn.keras.models.model_from_json(theirs.to_json())
    back.set_weights(theirs.get_weights())
    assert_close(back.predict(x, verbose=0), theirs.predict(x, verbose=0), "float32",
                 "scratchnet rebuilds Keras's ops")
    again = sn.keras.models.model_from_json(ours.to_json())
    again.set_weights(ours.get_weights())
    np.testing.assert_array_equal(again.predict(x, verbose=0), ours.predict(x, verbose=0))


@pytest.mark.parametrize("config, message", [
    ({"module": "keras.layers", "class_name": "BatchNormalization",
      "config": {"renorm": True}}, r"renorm=True"),
    ({"module": "keras.layers", "class_name": "Conv2D",
      "config": {"filters": 2, "kernel_size": 3, "data_format": "channels_first"}},
     r"data_format='channels_first'"),
    ({"module": "keras.layers", "class_name": "Dense",
      "config": {"units": 2, "dtype": "mixed_float16"}}, r"mixed_float16"),
    ({"module": "keras.layers", "class_name": "Dense", "config": {"units": 2, "colour": 1}},
     r"unknown config key 'colour'"),
    ({"module": "keras.layers", "class_name": "LSTM", "config": {"units": 2}},
     r"unknown class 'LSTM'.*custom_objects"),
])
def test_what_scratchnet_cannot_honour_is_refused_by_name(config, message):
    with pytest.raises(ValueError, match=message):
        deserialize_keras_object(config, "layers")


def test_keras_optimizer_options_scratchnet_lacks_are_refused():
    config = serialize_keras_object(sn.keras.optimizers.Adam())
    config["config"]["weight_decay"] = 0.1
    with pytest.raises(ValueError, match=r"weight_decay=0.1"):
        sn.keras.optimizers.get(config)
    config["config"]["weight_decay"] = None                 # Keras's "off": accepted
    assert isinstance(sn.keras.optimizers.get(config), sn.keras.optimizers.Adam)

"""Preprocessing layers (scratchnet/layers/preprocessing.py) against Keras 3 on TensorFlow:
Rescaling and Resizing forward and backward; the deterministic part of each Random* layer
(the transform Keras applies for the parameters Keras drew, fed to scratchnet); TF's affine
warp (ImageProjectiveTransformV3) for drawn transforms, every fill mode and interpolation;
randomness reproducible with a seed and absent at inference; the layers in models trained by
fit; configs that travel both ways."""
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import scratchnet as sn
from scratchnet.layers.preprocessing import (affine_transform, affine_transform_backward,
                                             resize_images)
from scratchnet.saving.serialization import deserialize_keras_object, serialize_keras_object
from tf_support import import_tf
from tolerances import assert_close

tf = import_tf()
keras = tf.keras
from reference.convert import floatx_scope  # noqa: E402

DTYPES = ("float32", "float64")

FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def images(seed, shape=(3, 7, 9, 2), low=0.0, high=255.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


def tf_forward_and_grad(fn, x, dy):
    """fn(x) in TensorFlow, and dL/dx for L = sum(fn(x) * dy)."""
    xt = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = fn(xt)
    return y.numpy(), tape.gradient(y, xt, output_gradients=tf.constant(dy)).numpy()


def ours_forward_and_grad(layer, x, dy, training=False, **forward):
    layer.ensure_built(x.shape)
    y, cache = layer.forward(x, training=training, **forward)
    return y, layer.backward(dy, cache)


# --- deterministic layers ---------------------------------------------------------------------

@settings(deadline=None)
@given(seed=st.integers(0, 2**16), scale=st.floats(-3, 3, width=32),
       offset=st.floats(-2, 2, width=32), per_channel=st.booleans(),
       dtype=st.sampled_from(DTYPES))
def test_rescaling_equals_keras(seed, scale, offset, per_channel, dtype):
    x = images(seed).astype(dtype)
    scale = [scale, 0.5 * scale] if per_channel else scale
    dy = images(seed + 1, low=-1, high=1).astype(dtype)
    with floatx_scope(dtype):
        theirs = keras.layers.Rescaling(scale, offset)
        ours = sn.keras.layers.Rescaling(scale, offset)
        y_tf, dx_tf = tf_forward_and_grad(theirs, x, dy)
        y, dx = ours_forward_and_grad(ours, x, dy)
        assert y.dtype == np.dtype(dtype)
        assert_close(y, y_tf, dtype, "Rescaling y")
        assert_close(dx, dx_tf, dtype, "Rescaling dx")
        assert_close(ours(x), y_tf, dtype, "eager call")


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 12), w=st.integers(1, 12),
       out_h=st.integers(1, 15), out_w=st.integers(1, 15),
       interpolation=st.sampled_from(["bilinear", "nearest"]), crop=st.booleans(),
       dtype=st.sampled_from(DTYPES))
def test_resizing_equals_keras(seed, h, w, out_h, out_w, interpolation, crop, dtype):
    # (TF resizes float64 images bilinearly in float32, scratchnet too: the forward pass
    # still agrees to float64's tolerance)
    x = images(seed, (2, h, w, 3)).astype(dtype)
    dy = images(seed + 1, (2, out_h, out_w, 3), -1, 1).astype(dtype)
    kwargs = dict(interpolation=interpolation, crop_to_aspect_ratio=crop)
    with floatx_scope(dtype):
        theirs = keras.layers.Resizing(out_h, out_w, **kwargs)
        y_tf, dx_tf = tf_forward_and_grad(theirs, x, dy)
        y, dx = ours_forward_and_grad(sn.keras.layers.Resizing(out_h, out_w, **kwargs), x, dy)
    assert y.dtype == np.dtype(dtype)
    assert_close(y, y_tf, dtype, "Resizing y")
    # TF's bilinear resize and its gradient run in float32 even for float64 images (Keras
    # casts around them), so that gradient carries float32 rounding: float32's tolerance
    assert_close(dx, dx_tf, "float32" if interpolation == "bilinear" else dtype, "Resizing dx")
    # one unbatched image too
    assert_close(resize_images(x[0], (out_h, out_w), interpolation, crop), y_tf[0], dtype)


def test_resizing_in_a_model_and_shapes():
    model = sn.keras.Sequential([sn.keras.Input((10, 6, 3)), sn.keras.layers.Resizing(4, 5),
                                 sn.keras.layers.Flatten(), sn.keras.layers.Dense(2)])
    assert model.output_shape == (None, 2)
    assert model.layers[0].output_shape == (None, 4, 5, 3)
    with pytest.raises(ValueError, match="height must be a positive int"):
        sn.keras.layers.Resizing(0, 4)


# --- the random layers' deterministic parts, for the draws Keras made -----------------------------

@pytest.mark.parametrize("mode", ["horizontal", "vertical", "horizontal_and_vertical"])
def test_random_flip_given_the_flips_equals_keras(mode):
    x = images(0, (4, 5, 6, 2))
    theirs = keras.layers.RandomFlip(mode, seed=3)
    ours = sn.keras.layers.RandomFlip(mode)
    flips = np.array([True, False, True, True])
    transformation = {"flips": tf.constant(flips.reshape(4, 1, 1, 1)), "input_shape": x.shape}
    dy = images(1, x.shape, -1, 1)
    y_tf, dx_tf = tf_forward_and_grad(
        lambda t: theirs.transform_images(t, transformation, training=True), x, dy)
    assert_close(ours.apply(x, flips), y_tf, "float32", mode)
    assert_close(ours.backward(dy, flips), dx_tf, "float32", f"{mode} dx")


@pytest.mark.parametrize("factor", [0.2, (0.1, 0.5), 1.0])
def test_random_contrast_given_the_factors_equals_keras(factor):
    x = images(2, (3, 6, 5, 3))
    theirs = keras.layers.RandomContrast(factor, seed=1)
    ours = sn.keras.layers.RandomContrast(factor)
    assert tuple(ours.factor) == tuple(theirs.factor)
    transformation = theirs.get_random_transformation(x, training=True)
    c = transformation["contrast_factor"].numpy()
    dy = images(3, x.shape, -1, 1)
    y_tf, dx_tf = tf_forward_and_grad(
        lambda t: theirs.transform_images(t, transformation, training=True), x, dy)
    assert_close(ours.apply(x, c), y_tf, "float32", "contrast")
    # backward: scratchnet's forward with these factors drawn
    z = ours._unclipped(x, c)
    cache = (c, (z >= 0) & (z <= 255))
    assert_close(ours.backward(dy, cache), dx_tf, "float32", "contrast dx")
    low, high = 1 - ours.factor[0], 1 + ours.factor[1]
    drawn = ours.draw(x)
    assert drawn.shape == (3, 1, 1, 1) and np.all((low <= drawn) & (drawn <= high))


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_random_rotation_zoom_translation_given_the_draws_equal_keras(fill_mode, interpolation):
    x = images(4, (3, 8, 11, 2))
    options = dict(fill_mode=fill_mode, interpolation=interpolation, fill_value=5.0)
    cases = [
        (keras.layers.RandomRotation(0.3, seed=1, **options),
         sn.keras.layers.RandomRotation(0.3, **options), lambda t: t["angle"]),
        (keras.layers.RandomZoom((-0.5, 0.6), (-0.3, 0.4), seed=2, **options),
         sn.keras.layers.RandomZoom((-0.5, 0.6), (-0.3, 0.4), **options),
         lambda t: np.concatenate([t["width_zoom"], t["height_zoom"]], axis=1)),
        (keras.layers.RandomZoom(0.4, seed=2, **options),
         sn.keras.layers.RandomZoom(0.4, **options),
         lambda t: np.concatenate([t["width_zoom"], t["height_zoom"]], axis=1)),
        (keras.layers.RandomTranslation(0.5, (-0.4, 0.7), seed=3, **options),
         sn.keras.layers.RandomTranslation(0.5, (-0.4, 0.7), **options),
         lambda t: t["translations"]),
    ]
    for theirs, ours, params in cases:
        transformation = theirs.get_random_transformation(x, training=True)
        expected = theirs.transform_images(x, transformation, training=True).numpy()
        drawn = np.asarray(params({k: np.asarray(v) for k, v in transformation.items()
                                   if k != "input_shape"}))
        assert_close(ours.apply(x, drawn), expected, "float32", type(ours).__name__)
        # one unbatched image
        assert_close(ours.apply(x[1], drawn[1:2]), expected[1], "float32", "one image")


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 9), w=st.integers(1, 9),
       projective=st.booleans(), dtype=st.sampled_from(DTYPES))
def test_affine_transform_equals_tensorflow(seed, h, w, projective, dtype):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, (2, h, w, 2)).astype(dtype)
    t = np.concatenate([rng.normal(0, 1.5, (2, 6)),
                        rng.normal(0, 0.02, (2, 2)) * projective], axis=1).astype(np.float32)
    t[:, 2] *= w
    t[:, 5] *= h
    for fill_mode in FILL_MODES:
        for interpolation in ("bilinear", "nearest"):
            expected = tf.raw_ops.ImageProjectiveTransformV3(
                images=x, transforms=t, output_shape=[h, w],
                interpolation=interpolation.upper(), fill_mode=fill_mode.upper(),
                fill_value=7.3).numpy()
            ours = affine_transform(x, t, interpolation, fill_mode, 7.3)
            assert ours.dtype == np.dtype(dtype)
            assert_close(ours, expected, dtype, f"{fill_mode} {interpolation}")


# --- randomness -------------------------------------------------------------------------------

RANDOM_LAYERS = {
    "flip": lambda seed: sn.keras.layers.RandomFlip(seed=seed),
    "contrast": lambda seed: sn.keras.layers.RandomContrast(0.5, seed=seed),
    "rotation": lambda seed: sn.keras.layers.RandomRotation(0.2, seed=seed),
    "zoom": lambda seed: sn.keras.layers.RandomZoom(0.3, seed=seed),
    "translation": lambda seed: sn.keras.layers.RandomTranslation(0.2, 0.2, seed=seed),
}


@pytest.mark.parametrize("kind", sorted(RANDOM_LAYERS))
def test_seeded_layers_reproduce_and_inference_is_identity(kind):
    x = images(5, (6, 8, 8, 3))
    a, b = RANDOM_LAYERS[kind](11), RANDOM_LAYERS[kind](11)
    first = [np.asarray(a(x, training=True)) for _ in range(3)]
    second = [np.asarray(b(x, training=True)) for _ in range(3)]
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p, q)
    assert not all(np.array_equal(first[0], f) for f in first[1:])     # fresh draws per call
    assert not np.array_equal(first[0], x)
    np.testing.assert_array_equal(a(x, training=False), x)
    # Keras 3: called on its own without `training`, an augmentation layer augments
    assert not np.array_equal(np.asarray(a(x)), x)
    assert isinstance(a(x), sn.Tensor)
    # the same seed under tf.random.set_seed-style global seeding: no seed, set_random_seed
    sn.keras.utils.set_random_seed(3)
    c = np.asarray(RANDOM_LAYERS[kind](None)(x, training=True))
    sn.keras.utils.set_random_seed(3)
    np.testing.assert_array_equal(np.asarray(RANDOM_LAYERS[kind](None)(x, training=True)), c)


def test_keras_also_augments_when_called_without_training():
    x = images(5, (6, 8, 8, 3))
    assert not np.array_equal(keras.layers.RandomFlip(seed=1)(x).numpy(), x)
    np.testing.assert_array_equal(keras.layers.RandomFlip(seed=1)(x, training=False), x)


def test_dataset_map_with_layers():
    x = images(6, (10, 8, 8, 3))
    y = np.arange(10)
    augment = sn.keras.Sequential([sn.keras.layers.RandomFlip("horizontal", seed=0),
                                   sn.keras.layers.RandomRotation(0.1, seed=0)])
    rescale = sn.keras.layers.Rescaling(1. / 255)
    ds = sn.data.Dataset.from_tensor_slices((x, y)).batch(4)
    ds = ds.map(lambda a, b: (rescale(a), b)).map(
        lambda a, b: (augment(a, training=True), b))
    batches = list(ds.take(2))
    assert len(batches) == 2 and batches[0][0].shape == (4, 8, 8, 3)
    assert batches[0][0].max() <= 1.0 + 1e-6


# --- in models ----------------------------------------------------------------------------------

def augmented_model(functional=False):
    L = sn.keras.layers
    stages = [L.Rescaling(1. / 255), L.RandomFlip("horizontal", seed=1),
              L.RandomRotation(0.1, seed=2), L.RandomZoom(0.1, seed=3),
              L.RandomTranslation(0.1, 0.1, seed=4), L.RandomContrast(0.2, seed=5),
              L.Resizing(6, 6), L.Conv2D(2, 3, activation="relu"), L.Flatten(),
              L.Dense(1, activation="sigmoid")]
    if not functional:
        return sn.keras.Sequential([sn.keras.Input((8, 8, 3))] + stages)
    inputs = sn.keras.Input((8, 8, 3))
    h = inputs
    for stage in stages:
        h = stage(h)
    return sn.keras.Model(inputs, h)


@pytest.mark.parametrize("functional", [False, True])
def test_augmentation_inside_a_model_trained_by_fit(functional):
    sn.keras.utils.set_random_seed(0)
    x = images(7, (16, 8, 8, 3))
    y = (np.arange(16) % 2).astype(np.float32).reshape(-1, 1)
    model = augmented_model(functional)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    # inference: the augmentation layers are the identity -> the same as without them
    plain = sn.keras.Sequential([sn.keras.Input((8, 8, 3)), sn.keras.layers.Rescaling(1. / 255),
                                 sn.keras.layers.Resizing(6, 6),
                                 sn.keras.layers.Conv2D(2, 3, activation="relu"),
                                 sn.keras.layers.Flatten(),
                                 sn.keras.layers.Dense(1, activation="sigmoid")])
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))
    np.testing.assert_array_equal(model.predict(x, verbose=0), model.predict(x, verbose=0))


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**16), h=st.integers(1, 6), w=st.integers(1, 6),
       projective=st.booleans(), fill_mode=st.sampled_from(FILL_MODES),
       interpolation=st.sampled_from(["bilinear", "nearest"]))
def test_warp_backward_is_the_exact_transpose(seed, h, w, projective, fill_mode,
                                              interpolation):
    """The warp is y = A x + b; A's columns are the warps of one-hot images (minus b), and
    backward of a one-hot dL/dy must give A's rows: dL/dx = A^T dL/dy. (TensorFlow's own
    gradient of this warp is an approximation, so the check is against A itself.)"""
    rng = np.random.default_rng(seed)
    t = np.concatenate([rng.normal(0, 1.2, (1, 6)),
                        rng.normal(0, 0.05, (1, 2)) * projective], axis=1).astype(np.float32)
    t[:, 2] *= w
    t[:, 5] *= h
    n = h * w
    basis = np.eye(n).reshape(n, h, w, 1)
    offset = affine_transform(np.zeros((1, h, w, 1)), t, interpolation, fill_mode, 3.0)
    warps = np.concatenate([affine_transform(b[None], t, interpolation, fill_mode, 3.0)
                            for b in basis])
    a = (warps - offset).reshape(n, n).T                       # a[out, in]
    transposed = np.concatenate([affine_transform_backward(b[None], t, interpolation,
                                                           fill_mode) for b in basis])
    assert_close(transposed.reshape(n, n), a, "float32", f"{fill_mode} {interpolation}")


def test_warp_backward_at_a_point_at_infinity():
    # k = 1 - x is 0 in column 1: those output pixels are fill_value and pass nothing back
    t = np.array([[1, 0, 0, 0, 1, 0, -1, 0]], np.float32)
    dy = np.ones((1, 3, 4, 1))
    y = affine_transform(np.ones((1, 3, 4, 1)), t, "nearest", "constant", 0.0)
    np.testing.assert_array_equal(y[0, :, 1, 0], 0)
    expected = tf.raw_ops.ImageProjectiveTransformV3(
        images=np.ones((1, 3, 4, 1)), transforms=t, output_shape=[3, 4], fill_value=0.0,
        interpolation="NEAREST", fill_mode="CONSTANT").numpy()
    np.testing.assert_array_equal(y, expected)
    # column 0 reads itself (k = 1); columns 2 and 3 read x / (1 - x) = -2, -1.5: outside
    dx = affine_transform_backward(dy, t, "nearest", "constant")
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 0, 0]] * 3)


def test_geometric_layers_pass_gradients_after_weights():
    L = sn.keras.layers
    x = images(0, (4, 8, 8, 3)) / 255
    model = sn.keras.Sequential([sn.keras.Input((8, 8, 3)), L.Conv2D(2, 3, padding="same"),
                                 L.RandomRotation(0.2, seed=0), L.RandomZoom(0.2, seed=1),
                                 L.RandomTranslation(0.1, 0.1, seed=2), L.RandomFlip(seed=0),
                                 L.RandomContrast(0.3, seed=0), L.Flatten(), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    before = model.get_weights()[0].copy()
    model.fit(x, np.ones((4, 1), np.float32), verbose=0)
    assert not np.array_equal(before, model.get_weights()[0])   # dL/dx reached the Conv2D
    # the backward of one training call, against the transpose applied by hand
    layer = L.RandomRotation(0.3, fill_mode="constant", seed=5)
    dy = images(1, x.shape, -1, 1)
    y, cache = layer.forward(x, training=True)
    expected = affine_transform_backward(dy, layer.transforms(cache, 8, 8), "bilinear",
                                         "constant")
    np.testing.assert_array_equal(layer.backward(dy, cache), expected)
    assert layer.backward(dy, cache, need_input_grad=False) is None


# --- configs ----------------------------------------------------------------------------------

def preprocessing_layers(K):
    L = K.layers
    return [L.Rescaling(1. / 127.5, offset=-1), L.Resizing(5, 7, interpolation="nearest",
                                                          crop_to_aspect_ratio=True),
            L.RandomFlip("horizontal", seed=3), L.RandomContrast((0.1, 0.3), seed=2),
            L.RandomRotation(0.2, fill_mode="constant", fill_value=1.0, seed=1),
            L.RandomZoom(0.2, (-0.1, 0.3), interpolation="nearest"),
            L.RandomTranslation((-0.2, 0.1), 0.3, fill_mode="wrap", seed=4)]


def _plain(config):
    """A config through JSON, name dropped and floats as float32 (Keras keeps float32)."""
    def fix(value):
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [fix(v) for v in value]
        return float(np.float32(value)) if isinstance(value, float) else value
    return {k: fix(v) for k, v in json.loads(json.dumps(config)).items() if k != "name"}


@pytest.mark.parametrize("index", range(len(preprocessing_layers(keras))))
def test_configs_equal_keras_and_travel_both_ways(index):
    ours, theirs = preprocessing_layers(sn.keras)[index], preprocessing_layers(keras)[index]
    assert _plain(ours.get_config()) == _plain(theirs.get_config())
    mine = json.loads(json.dumps(serialize_keras_object(ours)))
    rebuilt_by_keras = keras.layers.deserialize(mine)
    assert _plain(rebuilt_by_keras.get_config()) == _plain(theirs.get_config())
    from_keras = deserialize_keras_object(json.loads(json.dumps(keras.layers.serialize(theirs))),
                                          "layers")
    assert type(from_keras) is type(ours)
    assert _plain(from_keras.get_config()) == _plain(ours.get_config())
    again = type(ours).from_config(ours.get_config())
    assert _plain(again.get_config()) == _plain(ours.get_config())


def test_model_with_augmentation_saves_and_loads(tmp_path):
    model = augmented_model()
    path = str(tmp_path / "augmented.keras")
    model.save(path)
    loaded = sn.keras.models.load_model(path)
    x = images(8, (3, 8, 8, 3))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(layer).__name__ for layer in loaded.layers] == \
        [type(layer).__name__ for layer in model.layers]


def test_bad_arguments():
    L = sn.keras.layers
    with pytest.raises(ValueError, match="unknown mode"):
        L.RandomFlip("diagonal")
    with pytest.raises(NotImplementedError, match="fill_mode"):
        L.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(ValueError, match="factor"):
        L.RandomRotation(2.0)
    with pytest.raises(ValueError, match="factor"):
        L.RandomZoom(-1.0)
    with pytest.raises(ValueError, match="factor"):
        L.RandomContrast(1.5)
    with pytest.raises(ValueError, match="seed"):
        L.RandomFlip(seed=-1)
    with pytest.raises(ValueError, match="rank 3"):
        L.RandomFlip()(np.zeros((2, 3), np.float32))


def test_course_data_augmentation_block_augments_in_fit_only():
    """The Coursera C2 pattern: a Sequential of Random* layers (no Input) as the model's first
    block. fit sees augmented images (training moves the weights elsewhere than without the
    block); predict sees the images as they are."""
    L = sn.keras.layers

    def model(with_augmentation):
        sn.keras.utils.set_random_seed(0)
        augmentation = sn.keras.Sequential([L.RandomFlip("horizontal", seed=1),
                                            L.RandomRotation(0.2, seed=2),
                                            L.RandomZoom(0.2, seed=3)])
        stages = [augmentation] if with_augmentation else []
        m = sn.keras.Sequential([sn.keras.Input((8, 8, 3))] + stages +
                                [L.Rescaling(1. / 255), L.Flatten(), L.Dense(1)])
        m.compile(optimizer="sgd", loss="mse")
        return m

    x = images(9, (8, 8, 8, 3))
    y = np.linspace(-1, 1, 8).astype(np.float32).reshape(-1, 1)
    augmented, plain = model(True), model(False)
    plain.set_weights(augmented.get_weights())
    np.testing.assert_array_equal(augmented.predict(x, verbose=0), plain.predict(x, verbose=0))
    augmented.fit(x, y, epochs=1, batch_size=8, verbose=0)
    plain.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(augmented.get_weights()[0], plain.get_weights()[0])

"""tf.Tensor and tf.Variable as lecture code uses them, against real TensorFlow; and the
lectures' TensorFlow-basics snippets run with only the import swapped."""
import numpy as np
import pytest

import parity_log
import scratchnet as sn
from tolerances import assert_close_normwise
from tf_support import import_tf

tf = import_tf()
from reference import floatx_scope  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def run(snippet, module, **names):
    """A lecture snippet executed with `tensorflow` as written, or swapped for scratchnet."""
    code = snippet.replace("tensorflow", module)
    namespace = {"np": np, **names}
    exec(compile(code, f"<lecture snippet, {module}>", "exec"), namespace)
    return namespace


# ---- Tensors -------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [2.0, 3, [1.0, 2.5], [[1, 2], [3, 4]], True,
                                   np.arange(6.0).reshape(2, 3),
                                   np.arange(4, dtype=np.int64)])
def test_constant_follows_tensorflows_dtypes_and_prints_like_it(value):
    ours, theirs = sn.constant(value), tf.constant(value)
    assert ours.dtype == theirs.dtype.as_numpy_dtype
    assert ours.shape == theirs.shape and ours.shape.as_list() == theirs.shape.as_list()
    assert repr(ours.shape) == repr(theirs.shape)
    assert type(ours.numpy()) is type(theirs.numpy())
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert str(ours) == str(theirs)
    assert repr(ours) == repr(theirs)


def test_tensor_interop_with_numpy_and_python():
    for T in (sn, tf):
        t = T.constant([[1.0, -2.0], [3.0, 4.0]])
        assert isinstance(np.asarray(t), np.ndarray) and np.asarray(t).dtype == np.float32
        assert float(t[0, 0]) == 1.0 and "%4.1f" % t[1, 1] == " 4.0"
        assert np.min(t) == -2.0 and np.max(t) == 4.0                    # NumPy functions
        assert isinstance(np.mean(t), np.floating)                        # give NumPy results
        assert (t * 0.5).dtype == np.float32 and (t + 1).dtype == np.float32
        assert (T.constant(1) + 1).dtype == np.int32
        assert (T.constant(1) / T.constant(2)).dtype == np.float64        # TF's truediv
        assert t.shape[1:] == [2] and t.shape.rank == 2 and len(t) == 2
        assert t.numpy().ravel().tolist() == [1.0, -2.0, 3.0, 4.0]
        assert (t @ t).shape == (2, 2) and (-t)[0, 1] == 2.0 and (t ** 2)[0, 1] == 4.0
        assert bool((t > 0)[0, 0]) and not bool((t > 0)[0, 1])
        assert [float(row[0]) for row in t] == [1.0, 3.0]


def test_eager_results_are_tensors():
    """layer(x), model(x), loss_fn(y, p), tf.nn.softmax(z), metric results (TF's beginner
    tutorial, the university course) support what lecture code calls on them."""
    x = np.random.default_rng(0).random((2, 4)).astype("float32")
    layer = sn.keras.layers.Dense(3)
    out = layer(x)
    model = sn.keras.Sequential([sn.keras.Input((4,)), sn.keras.layers.Dense(3)])
    metric = sn.keras.metrics.Mean()
    metric.update_state([1.0, 2.0])
    for result in (out, model(x), sn.nn.softmax(model(x)), sn.nn.softmax(np.ones(3)),
                   sn.keras.losses.MeanSquaredError()(np.zeros((2, 3)), out),
                   sn.keras.losses.mse(np.zeros((2, 3)), out), metric.result(),
                   sn.keras.activations.relu(out), sn.cast(x, sn.float64)):
        assert isinstance(result, sn.Tensor), type(result)
        assert isinstance(result.numpy(), (np.ndarray, np.generic))
        assert result.shape.as_list() == list(np.shape(result.numpy()))
    assert float(metric.result()) == 1.5 and metric.result().dtype == np.float32


def test_tensors_are_not_hashed_or_pickled():
    import pickle

    t = sn.constant([1.0])
    with pytest.raises(TypeError, match="unhashable"):
        hash(t)
    with pytest.raises(TypeError, match="pickled"):
        pickle.dumps(t)


# ---- Variables -------------------------------------------------------------------------------
def variables(T):
    w = T.Variable(2.0, name="weight")
    v = T.Variable(np.array([[1, 2, 3, 4], [5, 6, 7, 8]]), name="w2")   # Python ML ch. 13
    v.assign(v + 1)
    v.assign(v + 1)
    f = T.Variable([1.0, 2.0], trainable=False, dtype=T.float64)
    f.assign_add([0.5, 0.5])
    f.assign_sub([1.0, 1.0])
    return {"w": w, "v": v, "f": f, "w*3": w * 3, "repr_w": repr(w), "repr_v": repr(v),
            "trainable": (w.trainable, f.trainable), "name": w.name,
            "dtypes": (w.dtype, v.dtype, f.dtype), "numpy": w.numpy()}


def test_variables_behave_as_tensorflows():
    ours, theirs = variables(sn), variables(tf)
    assert ours["repr_w"] == theirs["repr_w"]
    assert ours["repr_v"] == theirs["repr_v"]
    assert ours["trainable"] == theirs["trainable"]
    assert ours["name"] == theirs["name"].split(":")[0] == "weight"
    assert ours["dtypes"] == tuple(d.as_numpy_dtype for d in theirs["dtypes"])
    assert type(ours["numpy"]) is type(theirs["numpy"])
    for key in ("w", "v", "f", "w*3"):
        np.testing.assert_array_equal(np.asarray(ours[key]), theirs[key].numpy())
    assert isinstance(ours["w*3"], sn.Tensor) and not isinstance(ours["w*3"], sn.Variable)


def test_variable_errors_are_clear():
    v = sn.Variable([1.0, 2.0], name="v")
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="assign"):
        v[0] = 3.0
    with pytest.raises(ValueError, match="initial_value"):
        sn.Variable()
    snapshot = v.numpy()
    v.assign([5.0, 6.0])
    assert snapshot.tolist() == [1.0, 2.0]           # numpy() is a copy
    before = v
    v += 1.0                                          # as in TF: a new tensor, v unchanged
    assert isinstance(v, sn.Tensor) and before.numpy().tolist() == [5.0, 6.0]


def test_model_weights_as_variables_share_the_layers_memory():
    model = sn.keras.Sequential([sn.keras.Input((3,)), sn.keras.layers.Dense(2, name="d")])
    variables = model.trainable_variables
    assert [v.path for v in variables] == ["d/kernel", "d/bias"]
    assert [v.name for v in variables] == ["kernel", "bias"]
    assert all(isinstance(v, sn.Variable) for v in variables)
    assert variables[0] is model.trainable_variables[0]          # the same object each time
    variables[1].assign([1.0, 2.0])
    assert model.layers[0].bias.tolist() == [1.0, 2.0]           # one memory
    model.compile("sgd", "mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    np.testing.assert_array_equal(variables[0].numpy(), model.get_weights()[0])
    assert model.variables[0] is variables[0] and len(model.variables) == 2


# ---- the lectures' snippets, import swapped -----------------------------------------------------
PYTHON_ML_TF2 = '''
import tensorflow as tf
w = tf.Variable(2.0,name='weight')
b = tf.Variable(0.7,name='bias')

for x in [1.0,0.6,-1.8]:
   z = w * x + b
   print('x=%4.1f -> %4.1f'%(x,z))
print(z)

# tensor flow 2.0  for 문 제거
z = w * [1.0,0.6,-1.8] + b
print(z.numpy())

@tf.function
def simple_func():
   a = tf.constant(1)
   b = tf.constant(2)
   c = tf.constant(3)

   z = 2*(a-b)+c
   return z
print(simple_func())

w2 = tf.Variable(np.array([[1,2,3,4],
                            [5,6,7,8]]),name='w2')
w2.assign(w2+1)
w2.assign(w2+1)
print(w2.numpy())
'''


def test_python_ml_ch13_tf2_basics_print_what_tensorflow_prints(capsys):
    run(PYTHON_ML_TF2, "tensorflow")
    theirs = capsys.readouterr().out
    run(PYTHON_ML_TF2, "scratchnet")
    ours = capsys.readouterr().out
    assert ours == theirs
    assert "tf.Tensor(-2.8999999, shape=(), dtype=float32)" in ours


UNIVERSITY_COURSE = '''
import tensorflow as tf
image = train_x[0][tf.newaxis, ..., tf.newaxis]
image = tf.cast(image, dtype=tf.float32)
shape = image.shape
layer = tf.keras.layers.Conv2D(3, 3, 1, padding="SAME")
output = layer(image)
layer.set_weights(kernel)
output = layer(image)
weight = layer.get_weights()
low, high = np.min(output), np.max(output)
act_layer = tf.keras.layers.ReLU()
act_output = act_layer(output)
act_values = act_output.numpy(). ravel()
pool_layer = tf.keras.layers.MaxPool2D(pool_size=(2,2), strides=(2,2), padding="SAME")
pool_output = pool_layer(act_output)
pool_values = pool_output.numpy(). ravel()
title = str(pool_output.shape)
first = pool_output [0, :, :, 0]
'''


def test_the_university_courses_image_walkthrough():
    rng = np.random.default_rng(0)
    train_x = rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)
    kernel = [rng.normal(size=(3, 3, 1, 3)).astype("float32"), np.zeros(3, "float32")]
    theirs = run(UNIVERSITY_COURSE, "tensorflow", train_x=train_x, kernel=kernel)
    ours = run(UNIVERSITY_COURSE, "scratchnet", train_x=train_x, kernel=kernel)
    assert ours["shape"] == theirs["shape"] == [1, 28, 28, 1]
    assert repr(ours["shape"]) == repr(theirs["shape"]) == "TensorShape([1, 28, 28, 1])"
    assert ours["title"] == theirs["title"] == "(1, 14, 14, 3)"
    assert ours["weight"][0].shape == (3, 3, 1, 3)
    # pixels 0..255 make outputs in the hundreds: float32 rounding is relative to those
    for key in ("low", "high", "act_values", "pool_values", "first"):
        assert_close_normwise(np.asarray(ours[key]), np.asarray(theirs[key]), "float32", key)


HANDS_ON_CV_NB1 = '''
import tensorflow as tf
image = tf.constant(pixels)
kernel = tf.constant(weights)
conv = tf.nn.conv2d(image, kernel, strides=[1, 1, 1, 1], padding='SAME')
conv_valid = tf.nn.conv2d(image, kernel, strides=2, padding='VALID')
avg = tf.nn.avg_pool(image, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding='SAME')
mx = tf.nn.max_pool(image, ksize=[1, 3, 3, 1], strides=[1, 2, 2, 1], padding='SAME')
mx2 = tf.nn.max_pool2d(conv, ksize=2, strides=2, padding='VALID')
'''


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_hands_on_cv_convolves_and_pools_one_image(dtype):
    """Hands-On CV ch. 3, notebook 1: tf.nn.conv2d, tf.nn.max_pool, tf.nn.avg_pool on
    tf.constant tensors."""
    rng = np.random.default_rng(1)
    pixels = rng.random((1, 9, 11, 3)).astype(dtype)
    weights = rng.normal(size=(3, 3, 3, 2)).astype(dtype)
    theirs = run(HANDS_ON_CV_NB1, "tensorflow", pixels=pixels, weights=weights)
    ours = run(HANDS_ON_CV_NB1, "scratchnet", pixels=pixels, weights=weights)
    for key in ("conv", "conv_valid", "avg", "mx", "mx2"):
        assert ours[key].shape == theirs[key].shape, key
        parity_log.check(ours[key].numpy(), theirs[key].numpy(), dtype, key,
                         "lecture snippets")


def test_tf1_graph_code_gets_one_clear_error():
    snippet = '''
import tensorflow as tf
g = tf.Graph()
'''
    with pytest.raises(sn.TF1GraphModeError, match="TensorFlow 2"):
        run(snippet, "scratchnet")


def test_float64_lecture_code_stays_float64():
    with floatx_scope("float64"):
        layer = sn.keras.layers.Dense(2)
        out = layer(np.ones((1, 3)))
    assert out.dtype == np.float64 and isinstance(out, sn.Tensor)

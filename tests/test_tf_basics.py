"""The small TensorFlow things lecture code touches (issue 10, item 6), against real
TensorFlow: tf.version.VERSION, tf.config.list_physical_devices, tf.TensorShape,
tf.keras.backend.clear_session."""
import pytest

import scratchnet as sn
from tf_support import import_tf

tf = import_tf()


def test_version_is_scratchnets_own():
    assert sn.version.VERSION == sn.__version__
    assert isinstance(tf.version.VERSION, str)          # (both spell it the same way)


def test_the_cpu_is_the_one_device():
    ours = sn.config.list_physical_devices()
    assert [(d.name, d.device_type) for d in ours] == [("/physical_device:CPU:0", "CPU")]
    theirs = tf.config.list_physical_devices("CPU")
    assert [(d.name, d.device_type) for d in sn.config.list_physical_devices("CPU")] == [
        (d.name, d.device_type) for d in theirs]
    assert sn.config.list_physical_devices("GPU") == []     # (lecture: `if gpus: ...`)
    assert sn.config.experimental.list_physical_devices("gpu") == []
    with pytest.raises(TypeError, match="device_type"):
        sn.config.list_physical_devices(3)


@pytest.mark.parametrize("dims", [[None, 28, 28], [2, 3], [], [None], [4, None, 1]])
def test_tensor_shape_behaves_as_tensorflows(dims):
    ours, theirs = sn.TensorShape(dims), tf.TensorShape(dims)
    assert ours.as_list() == theirs.as_list()
    assert ours.rank == theirs.rank and len(ours) == len(theirs)
    assert list(ours) == list(theirs)
    assert ours.is_fully_defined() == theirs.is_fully_defined()
    assert ours.num_elements() == theirs.num_elements()
    assert repr(ours) == repr(theirs)
    assert ours == tuple(dims) and ours == list(dims) and (theirs == tuple(dims))
    if dims:
        assert ours[0] == theirs[0] and ours[-1] == theirs[-1]
        assert ours[1:].as_list() == theirs[1:].as_list()


def test_tensor_shape_refuses_what_is_not_a_shape():
    with pytest.raises(TypeError, match="TensorShape"):
        sn.TensorShape(["a", 2])
    with pytest.raises(ValueError, match=">= 0"):
        sn.TensorShape([-2])


def test_clear_session_restarts_layer_names_as_keras():
    for K in (sn.keras, tf.keras):
        K.layers.Dense(2), K.layers.Dense(2)
        K.backend.clear_session()
        assert K.layers.Dense(2).name == "dense"
        assert K.layers.Dense(2).name == "dense_1"


def test_tf_function_runs_the_function_eagerly_with_tensorflows_values():
    def body(K):
        @K.function
        def affine(x):
            return 2.0 * x + 1.0

        traced = K.function(lambda x: x * x, jit_compile=False)
        return float(affine(3.0)), float(traced(4.0))

    assert body(sn) == body(tf)
    assert sn.function(input_signature=None)(abs)(-2) == 2
    with pytest.raises(TypeError, match="tf.function"):
        sn.function(3)


TF1_CELL = '''
g = tf.Graph()
with g.as_default():
   x= tf.compat.v1.placeholder(dtype= tf.float32, shape=(None),name='x')
'''


def test_tf1_graph_code_gets_one_clear_error():
    """Python ML ch. 13's TF1 cell, with the import swapped: the first TF1 call says what it
    is and shows the TF2 way (which the chapter teaches next)."""
    with pytest.raises(sn.TF1GraphModeError, match=r"tf.Graph: this is TensorFlow 1 graph mode"
                                                   r".*tf.constant"):
        exec(TF1_CELL, {"tf": sn})
    for call in (lambda: sn.compat.v1.placeholder(sn.float32), lambda: sn.compat.v1.Session(),
                 lambda: sn.Session(), lambda: sn.compat.v1.global_variables_initializer()):
        with pytest.raises(sn.TF1GraphModeError, match="graph mode"):
            call()
    sn.compat.v1.logging.set_verbosity(sn.compat.v1.logging.ERROR)   # silencing: a no-op
    sn.compat.v1.enable_eager_execution()

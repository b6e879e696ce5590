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

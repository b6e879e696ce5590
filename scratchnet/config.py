"""`tf.config`: which devices computations run on. scratchnet runs on the CPU only (NumPy,
Numba and BLAS on every core, see scratchnet/threads.py), so that is the one device it
reports; asking for GPUs gives an empty list, as TensorFlow does on a machine without one.
"""
import collections

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])

_DEVICES = [PhysicalDevice(name="/physical_device:CPU:0", device_type="CPU")]


def list_physical_devices(device_type=None):
    """[PhysicalDevice(name='/physical_device:CPU:0', device_type='CPU')], or [] for 'GPU'."""
    if device_type is not None and not isinstance(device_type, str):
        raise TypeError(f"list_physical_devices: device_type must be a string such as 'CPU' "
                        f"or 'GPU', received {device_type!r}")
    return [d for d in _DEVICES if device_type is None or d.device_type == device_type.upper()]


def list_logical_devices(device_type=None):
    return list_physical_devices(device_type)


class experimental:  # noqa: N801  (TensorFlow's namespace `tf.config.experimental`)
    list_physical_devices = staticmethod(list_physical_devices)
    list_logical_devices = staticmethod(list_logical_devices)


__all__ = ["PhysicalDevice", "list_physical_devices", "list_logical_devices", "experimental"]

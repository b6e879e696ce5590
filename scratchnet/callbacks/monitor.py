"""`MonitorCallback`: the part EarlyStopping and ReduceLROnPlateau share -- watch one entry of
the epoch logs (`monitor`, default 'val_loss') and decide whether it improved.

* `mode`: 'min' (lower is better), 'max' (higher is better) or 'auto': 'loss'/'val_loss' and
  error metrics (mae, mse) go down, accuracies go up. A metric whose direction cannot be
  told raises a ValueError asking for mode='min' or 'max' (Keras's message).
* an improvement must beat the reference by more than `min_delta`:
  min mode: current - |min_delta| ... written as  current + |min_delta| < best
  max mode:                                       current - |min_delta| > best
* as in Keras (TensorFlow), the comparison is done on float32 values: the logs' Python
  floats become float32 tensors there, so differences below float32's resolution
  (~6e-8 relative) never count as improvements.
"""
import warnings

import numpy as np

from scratchnet.callbacks.callback import Callback

# Keras metrics' `_direction` ("up": higher is better), by scratchnet metric class name.
_DIRECTIONS = {
    "BinaryAccuracy": "up", "CategoricalAccuracy": "up", "SparseCategoricalAccuracy": "up",
    "MeanAbsoluteError": "down", "MeanSquaredError": "down",
}


def _as_keras_scalar(value):
    """How `keras.ops` sees a scalar: a Python number becomes a float32 tensor; a NumPy
    scalar keeps its dtype (float32 at least)."""
    if isinstance(value, (np.generic, np.ndarray)) and np.asarray(value).dtype.kind == "f":
        return np.asarray(value)
    return np.float32(value)


def compiled_metric_directions(model):
    """[(log name, 'up' | 'down' | None)] for the metrics given to `model.compile` (names as
    in the logs, e.g. 'accuracy', or 'dense_1_accuracy' with several outputs)."""
    from scratchnet import metrics as metrics_module

    specs = getattr(model, "_outputs_spec", None) or []
    prefix = len(specs) > 1
    found = []
    for spec in specs:
        if getattr(spec, "loss", None) is None:
            continue
        for metric in spec.metric_ids:
            if isinstance(metric, str):
                name = metric
                if metric.lower() in metrics_module.ACCURACY_NAMES:
                    direction = "up"
                else:
                    cls = metrics_module._BY_NAME.get(metric)
                    direction = _DIRECTIONS.get(getattr(cls, "__name__", None))
            else:
                name = metric.name
                cls = metric if isinstance(metric, type) else type(metric)
                direction = getattr(metric, "_direction", _DIRECTIONS.get(cls.__name__))
            found.append((f"{spec.name}_{name}" if prefix else name, direction))
    return found


class MonitorCallback(Callback):
    """Base of callbacks that watch `monitor` (see the module docstring). `baseline`: the
    starting "best" value (None: the first value seen)."""

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        if mode not in ["auto", "min", "max"]:
            warnings.warn(
                f"{self.__class__.__name__} mode '{mode}' is unknown, fallback to auto mode.",
                stacklevel=2,
            )
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op = None

    def _set_monitor_op(self):
        if self.mode == "min":
            self.monitor_op = np.less
        elif self.mode == "max":
            self.monitor_op = np.greater
        else:
            metric_name = self.monitor.removeprefix("val_")
            if metric_name == "loss":
                self.monitor_op = np.less
            for name, direction in compiled_metric_directions(self.model):
                if name == metric_name and direction is not None:
                    self.monitor_op = np.greater if direction == "up" else np.less
            if self.monitor_op is None:
                raise ValueError(
                    f"{self.__class__.__name__} callback received monitor={self.monitor}, "
                    "but Keras isn't able to automatically determine whether that metric "
                    "should be maximized or minimized. Pass `mode='max'` in order to monitor "
                    "based on the highest metric value, or pass `mode='min'` in order to use "
                    "the lowest value."
                )
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def _is_improvement(self, monitor_value, reference_value):
        if reference_value is None:
            return True
        return bool(self.monitor_op(_as_keras_scalar(monitor_value - self.min_delta),
                                    _as_keras_scalar(reference_value)))

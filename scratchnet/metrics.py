"""Metrics: numbers reported during training, averaged over every sample seen in the epoch.

Lectures: `metrics=['accuracy']` in every classification lecture; mae/mse for regression.

A metric accumulates `total` and `count` over batches and reports total / count, so an epoch's
accuracy is the fraction of all its samples classified right (Keras's MeanMetricWrapper):

    binary_accuracy               1[(p > 0.5) == t], averaged over the last axis
    categorical_accuracy          1[argmax p == argmax t]
    sparse_categorical_accuracy   1[argmax p == y]
    mae / mse                     mean_k |p - t|  /  mean_k (p - t)^2

'accuracy' (or 'acc') is resolved the way Keras does it, from the shapes of the first batch:
one output column -> binary; labels with one axis fewer than predictions (or a last axis of 1
against several classes) -> sparse categorical; otherwise categorical. The name you wrote is
the name in History ('acc' stays 'acc').
"""
import numpy as np

from scratchnet.tensors import Tensor, plain


def _scalar(value):
    return Tensor._from(np.asarray(value, np.float32))


class Metric:
    name = "metric"

    def __init__(self, name=None):
        if name:
            self.name = name
        self.reset_state()

    def reset_state(self):
        self.total = 0.0
        self.count = 0

    def values(self, y_true, y_pred):
        """One value per sample (or per element); subclasses implement."""
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = self.values(np.asarray(plain(y_true)), np.asarray(plain(y_pred)))
        if sample_weight is None:
            self.total += float(np.sum(values, dtype=np.float64))
            self.count += values.size
        else:
            w = np.broadcast_to(np.asarray(plain(sample_weight), np.float64).reshape(
                values.shape[:1] + (1,) * (values.ndim - 1)), values.shape)
            self.total += float(np.sum(values * w))
            self.count += float(np.sum(w))

    def _value(self):
        """The running mean as a Python float (what fit's logs and History hold)."""
        return self.total / self.count if self.count else 0.0

    def result(self):
        """The running mean as a 0-d float32 Tensor, as Keras's `metric.result()`."""
        return _scalar(self._value())

    def __call__(self, *args, sample_weight=None):
        """update_state(...) then result(), as calling a Keras metric does."""
        self.update_state(*args, sample_weight=sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        from scratchnet.saving.serialization import from_config_default

        return from_config_default(cls, config)


def _rows(y):
    return y.reshape(-1, y.shape[-1]) if y.ndim > 1 else y.reshape(-1, 1)


def _same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: labels (n,) against (n, k) become (n, 1)
    (and then broadcast), labels (n, 1) against (n,) lose their last axis."""
    if y_true.ndim == y_pred.ndim - 1:
        return y_true[..., None]
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return y_true[..., 0]
    return y_true


class BinaryAccuracy(Metric):
    name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        super().__init__(name)
        self.threshold = threshold

    def get_config(self):
        return {"name": self.name, "threshold": self.threshold}

    def values(self, y_true, y_pred):
        pred = _rows(y_pred) > self.threshold
        return np.mean(pred == _rows(_same_rank(y_true, y_pred)), axis=-1)


class CategoricalAccuracy(Metric):
    name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return np.argmax(_rows(y_true), axis=-1) == np.argmax(_rows(y_pred), axis=-1)


class SparseCategoricalAccuracy(Metric):
    name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        return y_true.reshape(-1) == np.argmax(_rows(y_pred), axis=-1)


class MeanAbsoluteError(Metric):
    name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return np.mean(np.abs(_rows(y_pred) - _rows(_same_rank(y_true, y_pred))), axis=-1)


class MeanSquaredError(Metric):
    name = "mean_squared_error"

    def values(self, y_true, y_pred):
        diff = _rows(y_pred) - _rows(_same_rank(y_true, y_pred))
        return np.mean(diff * diff, axis=-1)


class Mean(Metric):
    """Weighted running mean; Keras uses one to average the batch losses (weights = batch sizes)."""

    name = "mean"

    def update(self, value, weight):
        self.total += float(value) * weight
        self.count += weight

    def update_state(self, values, sample_weight=None):
        """Add `values` (a number or a tensor of them), each weighted (default 1)."""
        values = np.asarray(plain(values), np.float64)
        w = np.ones_like(values) if sample_weight is None else np.broadcast_to(
            np.asarray(plain(sample_weight), np.float64), values.shape)
        self.total += float(np.sum(values * w))
        self.count += float(np.sum(w))


_BY_NAME = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
}
ACCURACY_NAMES = ("accuracy", "acc")


def accuracy_kind(y_true_shape, y_pred_shape):
    """Keras's rule for plain 'accuracy': 'binary', 'sparse' or 'categorical'."""
    if y_pred_shape[-1] == 1:
        return "binary"
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return "sparse"
    return "categorical"


def get(identifier, y_true_shape=None, y_pred_shape=None):
    """Resolve a metric name/class/instance; 'accuracy' needs the data shapes to decide."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, dict):        # a saved config (Keras's form)
        from scratchnet.saving.serialization import deserialize_keras_object

        return deserialize_keras_object(identifier, "metrics", where="metric")
    if not isinstance(identifier, str):
        raise TypeError(f"metric must be a name or a scratchnet Metric, received {identifier!r}")
    if identifier.lower() in ACCURACY_NAMES:
        if y_pred_shape is None:
            raise ValueError("'accuracy' can only be resolved once the data shapes are known")
        cls = {"binary": BinaryAccuracy, "sparse": SparseCategoricalAccuracy,
               "categorical": CategoricalAccuracy}[accuracy_kind(y_true_shape, y_pred_shape)]
        return cls(name=identifier)
    cls = _BY_NAME.get(identifier)
    if cls is None:
        raise ValueError(
            f"Unknown metric {identifier!r}; expected 'accuracy'/'acc' or one of {sorted(_BY_NAME)}"
        )
    return cls(name=identifier)


def validate_name(identifier):
    """Fail at compile time (not mid-fit) on names scratchnet does not know."""
    if isinstance(identifier, str) and identifier.lower() not in ACCURACY_NAMES:
        get(identifier)
    elif not isinstance(identifier, str):
        get(identifier)

__all__ = ["Metric", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "MeanAbsoluteError", "MeanSquaredError", "Mean", "get"]

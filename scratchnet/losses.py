"""Losses: the number training minimizes, and its gradient, exactly as Keras computes them.

Lectures: mean_squared_error (ML Zero to Hero 1, y = 2x - 1), sparse_categorical_crossentropy
(the Fashion-MNIST MLP), categorical_crossentropy (Python ML ch. 13, one-hot labels),
binary_crossentropy (Coursera C1 W4, horse-or-human).

For a batch of n samples with k outputs each (y_pred: (n, k)), every loss first computes one
value per sample, then averages over the batch (Keras's "sum_over_batch_size"):

    mse     l_n = mean_k (p_nk - t_nk)^2
    binary  l_n = -mean_k [t log p + (1 - t) log(1 - p)],   p clipped to [eps, 1 - eps]
    categorical   l_n = -sum_k t_nk log p_nk,   p renormalized to sum 1, then clipped
    sparse        l_n = -log p_{n, y_n},        p clipped, then renormalized via log-softmax
    L = (1/n) sum_n l_n,     eps = 1e-7

From logits z (`from_logits=True`, or when the model ends in softmax/sigmoid, see below):

    categorical   l_n = -sum_k t_nk log softmax(z_n)_k        dL/dz = (softmax(z) - t) / n
    sparse        l_n = logsumexp(z_n) - z_{n,y_n}               dL/dz = (softmax(z) - onehot(y)) / n
    binary        l_n = mean_k [max(z, 0) - z t + log(1 + e^-|z|)]   dL/dz = (sigmoid(z) - t) / (n k)

Keras's quiet trick, reproduced here: when a crossentropy receives the output of a Keras
softmax or sigmoid, it uses the logits that went *into* that activation instead of the
probabilities — no clipping, no log(0), and the gradient is the famous `p - t`. In a compiled
`fit`/`evaluate` this happens whenever an output of the model is made by a softmax or sigmoid
(Keras even applies it to a mismatched pair such as binary crossentropy after a softmax:
the loss's own logits formula is then used on the softmax's logits). Our models do the same
for every output whose loss is a crossentropy: `forward_backward_from_logits` is used and
that layer's activation backward is skipped (`Model._losses`, `backward_from_logits`).
"""
import numpy as np

from scratchnet import backend
from scratchnet.activations import sigmoid, softmax


def _as_2d(y_pred):
    """(n, ..., k) -> (rows, k): every leading axis counts as samples."""
    return y_pred.reshape(-1, y_pred.shape[-1]) if y_pred.ndim > 1 else y_pred.reshape(-1, 1)


def _clip_mask(p, eps):
    """TF's clip_by_value gradient: 1 where eps <= p <= 1 - eps, else 0."""
    return (p >= eps) & (p <= 1 - eps)


def _predictions(y_pred):
    """y_pred as a plain float array (Tensors, lists and integer arrays too)."""
    from scratchnet.tensors import plain

    pred = np.asarray(plain(y_pred))
    if not np.issubdtype(pred.dtype, np.floating):
        pred = pred.astype(backend.floatx())
    return pred


def _per_sample_weights(sample_weight, per_sample, name):
    w = np.asarray(sample_weight, dtype=per_sample.dtype)
    if w.size == 1:
        return np.full(len(per_sample), w.reshape(()), per_sample.dtype)
    w = w.reshape(-1)
    if w.size != len(per_sample):
        raise ValueError(f"{name}: sample_weight has {w.size} values, expected one per "
                         f"sample ({len(per_sample)})")
    return w


class Loss:
    """Base class. Subclasses implement `forward_backward(y_true, y_pred)`."""

    name = "loss"
    logits_kind = None  # which final activation ('softmax' / 'sigmoid') the loss can fuse with

    def __init__(self, from_logits=False, name=None):
        self.from_logits = bool(from_logits)
        if name:
            self.name = name

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The batch loss, like calling a Keras loss object: a 0-d Tensor (the mean over the
        samples; with `sample_weight`, sum(weight * loss) / samples, as Keras's
        "sum_over_batch_size"). Inside a tf.GradientTape it is recorded, its backward the
        loss's own dL/dy_pred (`forward_backward`)."""
        from scratchnet.ops.core import result

        pred = _predictions(y_pred)
        targets = self.prepare_targets(y_true, pred.shape, pred.dtype)
        per_sample, grad = self.forward_backward(targets, pred)
        if sample_weight is None:
            value = per_sample.mean(dtype=pred.dtype)
        else:
            w = _per_sample_weights(sample_weight, per_sample, self.name)
            value = (per_sample * w).sum(dtype=pred.dtype) / pred.dtype.type(len(per_sample))
            grad = (grad.reshape(len(per_sample), -1) * w[:, None]).reshape(pred.shape)
        return result(self.name, [y_pred], np.asarray(value, pred.dtype),
                      lambda dy: [grad * dy])

    def prepare_targets(self, y_true, pred_shape, dtype):
        """Validate y_true against predictions of `pred_shape`; bring it to that shape/dtype.

        `fit` calls this once for the whole data set, so batches need no more checks."""
        y_true = np.asarray(y_true)
        size = int(np.prod(pred_shape))
        if y_true.size != size:
            raise ValueError(
                f"{self.name}: y_true has shape {y_true.shape} but predictions have shape "
                f"{tuple(pred_shape)}; expected the same number of values (one target per output)"
            )
        if not (np.issubdtype(y_true.dtype, np.number) or y_true.dtype == bool):
            raise TypeError(f"{self.name}: y_true must be numeric, received dtype {y_true.dtype}")
        return y_true.reshape(pred_shape).astype(dtype, copy=False)

    def forward_backward(self, y_true, y_pred):
        """Per-sample losses (rows,) and dL/dy_pred for L = mean over the batch."""
        raise NotImplementedError

    def forward_backward_from_logits(self, y_true, logits):
        """Per-sample losses and dL/dlogits, for losses that fuse with an activation."""
        raise NotImplementedError(f"{self.name} has no logits form")

    def get_config(self):
        return {"name": self.name, "from_logits": self.from_logits}

    @classmethod
    def from_config(cls, config):
        from scratchnet.saving.serialization import from_config_default

        return from_config_default(cls, config)


class MeanSquaredError(Loss):
    name = "mean_squared_error"

    def __init__(self, name=None):
        super().__init__(False, name)

    def forward_backward(self, y_true, y_pred):
        diff = _as_2d(y_pred) - _as_2d(y_true)
        per_sample = np.mean(diff * diff, axis=-1)
        grad = diff * (2.0 / diff.size)
        return per_sample, grad.reshape(y_pred.shape)

    def get_config(self):
        return {"name": self.name}


class MeanAbsoluteError(Loss):
    """mean_k |p - t| per sample; dL/dp = sign(p - t) / size (0 where p == t, TF's sign)."""

    name = "mean_absolute_error"

    def __init__(self, name=None):
        super().__init__(False, name)

    def forward_backward(self, y_true, y_pred):
        diff = _as_2d(y_pred) - _as_2d(y_true)
        per_sample = np.mean(np.abs(diff), axis=-1)
        grad = np.sign(diff) / diff.dtype.type(diff.size)
        return per_sample, grad.reshape(y_pred.shape)

    def get_config(self):
        return {"name": self.name}


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    logits_kind = "sigmoid"

    def forward_backward(self, y_true, y_pred):
        if self.from_logits:
            return self.forward_backward_from_logits(y_true, y_pred)
        t, p = _as_2d(y_true), _as_2d(y_pred)
        eps = p.dtype.type(backend.epsilon())
        c = np.clip(p, eps, 1 - eps)
        per_sample = -np.mean(t * np.log(c) + (1 - t) * np.log(1 - c), axis=-1)
        grad = (-t / c + (1 - t) / (1 - c)) * _clip_mask(p, eps) / p.size
        return per_sample, grad.reshape(y_pred.shape)

    def forward_backward_from_logits(self, y_true, logits):
        t, z = _as_2d(y_true), _as_2d(logits)
        per_sample = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))), axis=-1)
        grad = (sigmoid(z) - t) / z.size
        return per_sample, grad.reshape(logits.shape)


class CategoricalCrossentropy(Loss):
    name = "categorical_crossentropy"
    logits_kind = "softmax"

    def forward_backward(self, y_true, y_pred):
        if self.from_logits:
            return self.forward_backward_from_logits(y_true, y_pred)
        t, p = _as_2d(y_true), _as_2d(y_pred)
        eps = p.dtype.type(backend.epsilon())
        total = p.sum(axis=-1, keepdims=True)
        q = p / total                        # renormalize: rows sum to 1
        c = np.clip(q, eps, 1 - eps)
        per_sample = -np.sum(t * np.log(c), axis=-1)
        dq = -t / c * _clip_mask(q, eps) / len(p)
        # q_i = p_i / s with s = sum_j p_j:  dL/dp_j = dq_j / s - sum_i dq_i p_i / s^2
        grad = (dq - np.sum(dq * q, axis=-1, keepdims=True)) / total
        return per_sample, grad.reshape(y_pred.shape)

    def forward_backward_from_logits(self, y_true, logits):
        t, z = _as_2d(y_true), _as_2d(logits)
        shifted = z - z.max(axis=-1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        per_sample = -np.sum(t * log_softmax, axis=-1)
        # TensorFlow's SoftmaxCrossEntropyWithLogits returns softmax(z) - t as the gradient,
        # which is the derivative only when each label row sums to 1 (the usual one-hot or
        # probability labels). For parity we return exactly what TF does, multi-hot included.
        grad = (softmax(z) - t) / len(z)
        return per_sample, grad.reshape(logits.shape)


class SparseCategoricalCrossentropy(Loss):
    name = "sparse_categorical_crossentropy"
    logits_kind = "softmax"

    def prepare_targets(self, y_true, pred_shape, dtype):
        """Integer class ids, one per row of predictions, each in [0, classes)."""
        y_true = np.asarray(y_true)
        classes = pred_shape[-1] if len(pred_shape) > 1 else 1
        rows = int(np.prod(pred_shape)) // classes
        if y_true.size != rows:
            raise ValueError(
                f"{self.name}: expected one integer label per sample ({rows} labels for "
                f"predictions of shape {tuple(pred_shape)}), received y_true of shape "
                f"{y_true.shape}"
            )
        labels = y_true.reshape(-1)
        if not np.issubdtype(labels.dtype, np.integer):
            if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
                raise ValueError(f"{self.name}: labels must be integers, received {labels[:5]}...")
            labels = labels.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            bad = labels[(labels < 0) | (labels >= classes)][0]
            raise ValueError(
                f"{self.name}: label {bad} is out of range; expected integers in "
                f"[0, {classes}) because y_pred has {classes} classes (last axis)"
            )
        return labels

    def forward_backward(self, labels, y_pred):
        if self.from_logits:
            return self.forward_backward_from_logits(labels, y_pred)
        p = _as_2d(y_pred)
        eps = p.dtype.type(backend.epsilon())
        c = np.clip(p, eps, 1 - eps)
        per_sample, dlog = self._from_logits_2d(labels, np.log(c))
        grad = dlog / c * _clip_mask(p, eps)   # d log(c) / dp = 1 / c inside the clip range
        return per_sample, grad.reshape(y_pred.shape)

    def forward_backward_from_logits(self, labels, logits):
        per_sample, grad = self._from_logits_2d(labels, _as_2d(logits))
        return per_sample, grad.reshape(logits.shape)

    @staticmethod
    def _from_logits_2d(labels, z):
        rows = np.arange(len(z))
        shifted = z - z.max(axis=-1, keepdims=True)
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=-1, keepdims=True)
        per_sample = np.log(sum_exp[:, 0]) - shifted[rows, labels]
        grad = exp / sum_exp
        grad[rows, labels] -= 1
        grad /= len(z)
        return per_sample, grad


class LossFunctionWrapper(Loss):
    """Your own loss: a Python function of tensors, `compile(loss=loss_fn)` with

        def loss_fn(y_true, y_pred):                       # Python ML ch. 14
            return tf.reduce_mean(tf.square(y_true - y_pred))

    As in Keras, y_true gets y_pred's rank first (a label vector (n,) against predictions
    (n, 1) becomes (n, 1)), and the loss is the mean of whatever the function returns (one
    value per sample, or already a mean). Its gradient dL/dy_pred is not written by hand:
    the function runs on a GradientTape (gradient_tape.py), which differentiates the tf
    operations it is made of -- the lesson of how autodiff works, used by fit."""

    def __init__(self, fn, name=None):
        super().__init__(False, name or getattr(fn, "__name__", None) or "loss")
        self.fn = fn

    def prepare_targets(self, y_true, pred_shape, dtype):
        from scratchnet.tensors import plain

        y_true = np.asarray(plain(y_true))
        if not (np.issubdtype(y_true.dtype, np.number) or y_true.dtype == bool):
            raise TypeError(f"{self.name}: y_true must be numeric, received dtype "
                            f"{y_true.dtype}")
        if y_true.ndim == len(pred_shape) - 1:          # Keras: squeeze_or_expand_to_same_rank
            y_true = y_true[..., None]
        elif y_true.ndim == len(pred_shape) + 1 and y_true.shape[-1] == 1:
            y_true = y_true[..., 0]
        return y_true.astype(dtype, copy=False)

    def forward_backward(self, y_true, y_pred):
        from scratchnet import gradient_tape
        from scratchnet.ops import math_ops
        from scratchnet.tensors import Tensor, plain

        tape = gradient_tape.GradientTape(watch_accessed_variables=False)
        tape._internal = True
        with gradient_tape.only(tape):
            pred = Tensor._from(y_pred)
            tape.watch(pred)
            values = self.fn(Tensor._from(y_true), pred)
            if not isinstance(values, np.ndarray):
                raise TypeError(f"loss function {self.name!r} returned {values!r}; expected "
                                "a tensor computed from y_true and y_pred with tf operations")
            loss = math_ops.reduce_mean(math_ops.cast(values, y_pred.dtype))
        grad = tape.gradient(loss, pred)
        if grad is None:
            raise ValueError(
                f"loss function {self.name!r}: its result does not depend on y_pred through "
                "tf operations (tf.square, tf.reduce_mean, +, -, ...), so it has no gradient "
                "to train with; NumPy functions such as np.mean are not differentiated")
        v = np.asarray(plain(values), y_pred.dtype)
        rows = len(y_pred) if y_pred.ndim else 1
        if v.ndim and v.shape[0] == rows:
            per_sample = v.reshape(rows, -1).mean(axis=1)
        else:
            per_sample = np.full(rows, v.mean(), y_pred.dtype)
        return per_sample, np.asarray(plain(grad))

    def get_config(self):
        return {"name": self.name, "fn": getattr(self.fn, "__name__", repr(self.fn))}


_BY_NAME = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
_CLASS_NAMES = {cls.__name__: cls for cls in set(_BY_NAME.values())}


def get(identifier):
    """A loss name ('mse', 'sparse_categorical_crossentropy', ...) or a Loss instance/class."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASS_NAMES.get(identifier)
        if cls is None:           # a function of your own, named in custom_objects
            from scratchnet.saving.serialization import (_current_custom_objects,
                                                         get_custom_objects)
            custom = {**get_custom_objects(), **_current_custom_objects()}.get(identifier)
            if custom is not None:
                return get(custom)
            raise ValueError(f"Unknown loss {identifier!r}; expected one of {sorted(_BY_NAME)} "
                             "(a loss function of your own: pass it, e.g. load_model(path, "
                             f"custom_objects={{{identifier!r}: {identifier}}}))")
        loss = cls()
        if identifier in _BY_NAME:
            loss.name = identifier
        return loss
    if isinstance(identifier, dict):        # a saved config (Keras's form)
        from scratchnet.saving.serialization import deserialize_keras_object

        return deserialize_keras_object(identifier, "losses", where="loss")
    for name, cls in _BY_NAME.items():  # the module-level functions below
        if identifier is globals().get(name):
            return cls()
    if callable(identifier):          # your own function of (y_true, y_pred)
        return LossFunctionWrapper(identifier)
    raise TypeError(f"loss must be a name, a scratchnet Loss or a function of (y_true, "
                    f"y_pred), received {identifier!r}")


def _functional(cls):
    def loss_fn(y_true, y_pred, from_logits=False):
        """Per-sample losses, like `keras.losses.<name>(y_true, y_pred)`: a Tensor, which a
        tf.GradientTape differentiates (each sample's share of the mean's gradient, times
        the number of samples)."""
        from scratchnet.ops.core import result

        loss = cls() if cls in (MeanSquaredError, MeanAbsoluteError) else cls(
            from_logits=from_logits)
        pred = _predictions(y_pred)
        targets = loss.prepare_targets(y_true, pred.shape, pred.dtype)
        per_sample, grad = loss.forward_backward(targets, pred)
        rows = len(per_sample)
        shape = pred.shape[:-1] if pred.ndim > 1 else per_sample.shape

        def backward(dy):
            d = np.reshape(dy, (rows, 1)) * pred.dtype.type(rows)
            return [(grad.reshape(rows, -1) * d).reshape(pred.shape)]

        return result(cls.name, [y_pred], per_sample.reshape(shape), backward)

    loss_fn.__name__ = cls.name
    return loss_fn


mean_squared_error = mse = MSE = _functional(MeanSquaredError)
mean_absolute_error = mae = MAE = _functional(MeanAbsoluteError)
binary_crossentropy = _functional(BinaryCrossentropy)
categorical_crossentropy = _functional(CategoricalCrossentropy)
sparse_categorical_crossentropy = _functional(SparseCategoricalCrossentropy)

__all__ = ["Loss", "LossFunctionWrapper", "MAE", "MSE", "MeanAbsoluteError",
           "mean_absolute_error", "mae", "MeanSquaredError", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "get", "mean_squared_error", "mse",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]

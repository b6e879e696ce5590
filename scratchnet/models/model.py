"""`Model`: compile, fit, evaluate, predict — the training loop, written out.

Lectures: every one (`model.compile(optimizer='adam', loss=..., metrics=['accuracy'])`,
`model.fit(x, y, epochs=5)`, `model.evaluate(x_test, y_test)`, `model.predict(x)`).

One training step on a batch (x_b, y_b), exactly what Keras's `train_step` does:

    y_pred        = forward(x_b)                  every layer, in order
    loss, dL/dy   = loss.forward_backward(y_b, y_pred)
    grads         = backward(dL/dy)               every layer, in reverse order
    weights      -= optimizer(grads)              in place

The epoch's 'loss' is the batch losses averaged with the batch sizes as weights, and each
metric is averaged over all samples of the epoch; both are measured on each batch *before*
its update, as Keras does. Subclasses (Sequential) supply `_forward`, `_backward` and the
layer list; this file holds what every model shares.
"""
import math

import numpy as np

from scratchnet import backend, losses, metrics as metrics_module, optimizers
from scratchnet.callbacks import CallbackList, History, ProgbarLogger, _progress_bar
from scratchnet.models import data
from scratchnet.threads import limits_threads


class NotCompiledError(RuntimeError, ValueError):
    """Raised by fit/evaluate before compile (a RuntimeError like Keras's, and a ValueError)."""


def _check_verbose(verbose, what):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"{what}: verbose must be 'auto', 0, 1 or 2, received {verbose!r}")
    return verbose


class Model:
    def __init__(self, name=None):
        from scratchnet.layers.base import snake_case, unique_name

        self.name = name or unique_name(snake_case(type(self).__name__))
        self.optimizer = self.loss = None
        self.compiled = False
        self.stop_training = False
        self.history = None

    # ---- compile --------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics (names or objects, as in Keras)."""
        self.optimizer = optimizers.get(optimizer)
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='mse'")
        self.loss = losses.get(loss)
        metrics = list(metrics or [])
        for metric in metrics:
            metrics_module.validate_name(metric)
        self._metric_ids = metrics
        self.compiled = True

    def _require_compiled(self, what):
        if not self.compiled:
            raise NotCompiledError(
                f"{what}: model {self.name!r} must be compiled first: call "
                "model.compile(optimizer=..., loss=...) before fit/evaluate"
            )

    # ---- data -----------------------------------------------------------------------
    def _prepare_x(self, x, what):
        x = data.as_float_array(x, self._dtype(), f"{what}: x")
        if not self.built:
            if x.ndim == 1:
                x = x.reshape(-1, 1)
            if 0 in x.shape[1:]:  # refuse before any layer gets built for it
                raise ValueError(
                    f"{what}: x has shape {x.shape}; model {self.name!r} cannot be built for "
                    "samples with an axis of size 0"
                )
            self.build((None,) + x.shape[1:])
        return data.match_input_shape(x, self.input_shape, self.name, what)

    def _prepare_xy(self, x, y, what):
        x = self._prepare_x(x, what)
        y = data.as_target_array(y, what)
        data.check_same_length(x, y, what)
        pred_shape = (len(x),) + tuple(self.output_shape[1:])
        targets = self.loss.prepare_targets(y, pred_shape, self._dtype())
        return x, y.shape, targets

    def _dtype(self):
        return getattr(self, "dtype", None) or backend.floatx()

    def _new_metrics(self, y_shape):
        pred_shape = (y_shape[0],) + tuple(self.output_shape[1:])
        return [metrics_module.get(m, y_shape, pred_shape) for m in self._metric_ids]

    # ---- one step -------------------------------------------------------------------
    def _fuses_loss_with_output(self):
        """True when the loss should start from the logits of the final softmax/sigmoid.

        Keras (TF backend, `_get_logits`) uses the logits a Keras softmax or sigmoid attaches
        to its output (`_keras_logits`) for *any* crossentropy, even a mismatched pair such
        as binary crossentropy after a softmax (it then applies the sigmoid form to the
        softmax's logits); only raw `tf.nn` ops are matched by op type. scratchnet's
        activations are Keras's, so every crossentropy fuses with a final softmax/sigmoid.
        """
        last = self._output_layer()
        kind = getattr(getattr(last, "activation", None), "logits_loss_kind", None)
        return kind is not None and self.loss.logits_kind is not None

    def _loss_and_output_grad(self, targets, y_pred, fused):
        if fused:
            return self.loss.forward_backward_from_logits(targets, self._output_layer().logits())
        return self.loss.forward_backward(targets, y_pred)

    def train_step(self, x_batch, targets_batch, fused):
        """Forward, loss, backward, update. Returns (per-sample losses, predictions)."""
        y_pred = self._forward(x_batch, training=True)
        per_sample, grad = self._loss_and_output_grad(targets_batch, y_pred, fused)
        self._backward(grad, from_logits=fused)
        self.optimizer.apply(self._trainable_grads, self._trainable_variables)
        return per_sample, y_pred

    # ---- fit ------------------------------------------------------------------------
    @limits_threads
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0):
        self._require_compiled("fit")
        verbose = _check_verbose(verbose, "fit")
        batch_size = data.check_batch_size(batch_size, "fit")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative int, received {epochs!r}")
        x, y_shape, targets = self._prepare_xy(x, y, "fit")
        validation = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val)")
            validation = self._prepare_xy(*validation_data, "fit: validation_data")
        elif validation_split:
            (x, targets), (x_val, t_val) = data.validation_split_arrays(x, targets, validation_split)
            y_shape = (len(x),) + tuple(y_shape[1:])
            validation = (x_val, (len(x_val),) + tuple(y_shape[1:]), t_val)

        steps = math.ceil(len(x) / batch_size)
        self.history = History()
        progress = [ProgbarLogger(verbose)] if verbose else []
        params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        hooks = CallbackList(progress + list(callbacks or []) + [self.history], self, params)
        batch_hooks = hooks.wants_batch_hooks("train")
        fused = self._fuses_loss_with_output()
        self._collect_trainable()
        self.stop_training = False

        hooks.call("on_train_begin", {})
        for epoch in range(initial_epoch, epochs):
            hooks.call("on_epoch_begin", epoch, {})
            loss_mean, metric_objs = metrics_module.Mean(name="loss"), self._new_metrics(y_shape)
            order = backend.rng().permutation(len(x)) if shuffle else None
            for step, index in enumerate(data.batches(len(x), batch_size, order)):
                if batch_hooks:
                    hooks.train_batch_begin(step, {})
                x_batch, t_batch = x[index], targets[index]
                per_sample, y_pred = self.train_step(x_batch, t_batch, fused)
                loss_mean.update(per_sample.mean(), len(x_batch))
                for metric in metric_objs:
                    metric.update_state(t_batch, y_pred)
                if batch_hooks or verbose:
                    hooks.train_batch_end(step, _logs(loss_mean, metric_objs))
            logs = _logs(loss_mean, metric_objs)
            if validation is not None:
                val_logs = self._evaluate_prepared(*validation, batch_size, hooks=None)
                logs.update({"val_" + k: v for k, v in val_logs.items()})
            hooks.call("on_epoch_end", epoch, logs)
            if self.stop_training:
                break
        hooks.call("on_train_end", {})
        return self.history

    # ---- evaluate / predict ---------------------------------------------------------
    def _evaluate_prepared(self, x, y_shape, targets, batch_size, hooks, verbose=0):
        fused = self._fuses_loss_with_output()
        loss_mean, metric_objs = metrics_module.Mean(name="loss"), self._new_metrics(y_shape)
        bar = _progress_bar(math.ceil(len(x) / batch_size), verbose) if verbose else None
        for step, index in enumerate(data.batches(len(x), batch_size)):
            if hooks:
                hooks.call("on_test_batch_begin", step, {})
            y_pred = self._forward(x[index], training=False)
            per_sample, _ = self._loss_and_output_grad(targets[index], y_pred, fused)
            loss_mean.update(per_sample.mean(), len(y_pred))
            for metric in metric_objs:
                metric.update_state(targets[index], y_pred)
            if hooks:
                hooks.call("on_test_batch_end", step, _logs(loss_mean, metric_objs))
            if bar:
                bar.advance(step + 1, _logs(loss_mean, metric_objs))
        logs = _logs(loss_mean, metric_objs)
        if bar:
            bar.close(logs)
        return logs

    @limits_threads
    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", callbacks=None,
                 return_dict=False):
        """Loss (and metrics) on (x, y): a float, or [loss, metric, ...] when metrics exist."""
        self._require_compiled("evaluate")
        verbose = _check_verbose(verbose, "evaluate")
        batch_size = data.check_batch_size(batch_size, "evaluate")
        x, y_shape, targets = self._prepare_xy(x, y, "evaluate")
        hooks = CallbackList(list(callbacks or []), self, {"verbose": verbose})
        hooks.call("on_test_begin", {})
        logs = self._evaluate_prepared(x, y_shape, targets, batch_size, hooks, verbose)
        hooks.call("on_test_end", logs)
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._new_metrics(y_shape)]
        return values[0] if len(values) == 1 else values

    @limits_threads
    def predict(self, x, batch_size=None, verbose="auto", callbacks=None):
        """Model outputs for x, computed batch by batch (default 32, as Keras)."""
        verbose = _check_verbose(verbose, "predict")
        batch_size = data.check_batch_size(batch_size, "predict")
        x = self._prepare_x(x, "predict")
        hooks = CallbackList(list(callbacks or []), self, {"verbose": verbose})
        hooks.call("on_predict_begin", {})
        # in the output layer's dtype, as Keras returns it (a float64 layer in a float32 model)
        out_dtype = getattr(self._output_layer(), "dtype", None) or self._dtype()
        outputs = np.empty((len(x),) + tuple(self.output_shape[1:]), dtype=out_dtype)
        bar = _progress_bar(math.ceil(len(x) / batch_size), verbose) if verbose else None
        for step, index in enumerate(data.batches(len(x), batch_size)):
            hooks.call("on_predict_batch_begin", step, {})
            outputs[index] = self._forward(x[index], training=False)
            hooks.call("on_predict_batch_end", step, {})
            if bar:
                bar.advance(step + 1, {})
        if bar:
            bar.close({})
        hooks.call("on_predict_end", {})
        return outputs

    def predict_classes(self, x, batch_size=None, verbose=0):
        """tf.keras 2's (since removed) `predict_classes`, which Python ML ch. 13 still calls:
        the argmax class per sample, or (p > 0.5) as int32 for a single sigmoid output."""
        probabilities = self.predict(x, batch_size=batch_size, verbose=verbose)
        if probabilities.shape[-1] > 1:
            return probabilities.argmax(axis=-1)
        return (probabilities > 0.5).astype("int32")

    def __call__(self, x, training=False):
        x = self._prepare_x(x, "call")
        return self._forward(x, training=training)

    # ---- weights --------------------------------------------------------------------
    def _collect_trainable(self):
        pairs = [(w, g) for layer in self.layers for w, g in zip(layer.trainable_weights, layer.grads)]
        self._trainable_variables = [w for w, _ in pairs]
        self._trainable_grads = [g for _, g in pairs]

    @property
    def weights(self):
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self.layers for w in layer.trainable_weights]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        weights = list(weights)
        expected = self.weights
        if len(weights) != len(expected):
            raise ValueError(
                f"set_weights: model {self.name!r} has {len(expected)} weight arrays with "
                f"shapes {[w.shape for w in expected]}, received {len(weights)}"
            )
        start = 0
        for layer in self.layers:
            count = len(layer.weights)
            layer.set_weights(weights[start:start + count])
            start += count

    def count_params(self):
        return sum(layer.count_params() for layer in self.layers)

    def summary(self, print_fn=None):
        from scratchnet.models.summary import format_summary

        (print_fn or print)(format_summary(self))


def _logs(loss_mean, metric_objs):
    logs = {"loss": loss_mean.result()}
    for metric in metric_objs:
        logs[metric.name] = metric.result()
    return logs

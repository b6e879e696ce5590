"""`Callback`, `CallbackList` and `History`: the hooks `fit`, `evaluate` and `predict` call.

Lecture: Coursera C1 W2 ("Using callbacks to control training"): a
`myCallback(tf.keras.callbacks.Callback)` whose `on_epoch_end(self, epoch, logs)` reads
`logs.get('accuracy')` and sets `self.model.stop_training = True`.

The order of calls inside `fit` (Keras 3's):

    on_train_begin(logs={})
      on_epoch_begin(epoch)
        on_train_batch_begin(batch) ... on_train_batch_end(batch, logs)   for every batch
        [validation data: on_test_begin, on_test_batch_begin/end ..., on_test_end(logs)]
      on_epoch_end(epoch, logs)   logs = {'accuracy': .., 'loss': .., 'val_accuracy': .., ...}
    on_train_end(logs=the last epoch's logs)

`Callback.on_train_batch_begin/end` call the older names `on_batch_begin/end`, so a callback
that overrides only those still runs every batch (and one that overrides
`on_train_batch_end` replaces that call, as in Keras).

`CallbackList` is what `fit` talks to. Like Keras's it
* adds a `History` (unless one is passed) and the progress display (`ProgbarLogger`, when
  verbose != 0) *after* the user's callbacks, so a callback that adds an entry to `logs`
  (ReduceLROnPlateau adds 'learning_rate') is seen by both;
* hands every callback a fresh dict per call, with the keys sorted and every value a Python
  float (Keras's `pythonify_logs`): History holds floats, the progress line shows the metrics
  alphabetically (accuracy before loss).
"""


def pythonify_logs(logs):
    """Keras's `pythonify_logs`: a new dict, keys sorted, values as Python floats where
    `float(value)` works, nested dicts flattened into it."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        else:
            try:
                value = float(value)
            except Exception:  # noqa: BLE001 (Keras keeps any value float() refuses)
                pass
            result[key] = value
    return result


class Callback:
    """Base class of callbacks: override the hooks you need (each gets `logs`, a dict)."""

    def __init__(self):
        self.params = None      # {'verbose': .., 'epochs': .., 'steps': ..} from fit
        self.model = None

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    def on_batch_begin(self, batch, logs=None):
        """Older name of `on_train_batch_begin` (which calls it)."""

    def on_batch_end(self, batch, logs=None):
        """Older name of `on_train_batch_end` (which calls it)."""

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass


class History(Callback):
    """Records each epoch's logs: `history.history['loss'][epoch]`, as Keras does. `fit`
    returns it (and sets `model.history` to it)."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        self.model.history = self


_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _overrides(callback, hook):
    """Does `callback` do anything of its own at `hook` (a method of its class, or a function
    set on the instance as LambdaCallback does)?"""
    method = getattr(callback, hook)
    return getattr(method, "__func__", method) is not getattr(Callback, hook)


class CallbackList(Callback):
    """The callbacks of one `fit`/`evaluate`/`predict` call, called in order (Keras's
    `keras.callbacks.CallbackList(callbacks, add_history, add_progbar, model, **params)`)."""

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None,
                 **params):
        super().__init__()
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks or [])
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be scratchnet.callbacks.Callback instances, received "
                    f"{callback!r}"
                )
        self.training_logs = None  # the last epoch's logs, for on_train_end (as Keras)
        self._add_default_callbacks(add_history, add_progbar)
        self.set_model(model)
        self.set_params(params)

    def _add_default_callbacks(self, add_history, add_progbar):
        from scratchnet.callbacks.progbar import ProgbarLogger

        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)

    def set_params(self, params):
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model):
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    def wants_batch_hooks(self, mode):
        """Does any callback act per batch in `mode` ('train', 'test', 'predict')? `fit` skips
        building the batch logs when none does (the progress bar asks for them itself)."""
        return any(_overrides(c, h) for c in self.callbacks for h in _BATCH_HOOKS[mode])

    def call(self, hook, *args):
        """`hooks.call('on_epoch_end', epoch, logs)` is `hooks.on_epoch_end(epoch, logs)`."""
        getattr(self, hook)(*args)

    def _each(self, hook, *args, logs):
        logs = pythonify_logs(logs)  # one new dict, shared by every callback of this call
        for callback in self.callbacks:
            getattr(callback, hook)(*args, logs)

    def _each_batch(self, hook, batch, logs):
        logs = pythonify_logs(logs)
        for callback in self.callbacks:  # batch hooks get `logs` by keyword, as in Keras
            getattr(callback, hook)(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        self._each_batch("on_batch_begin", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._each_batch("on_batch_end", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._each("on_epoch_begin", epoch, logs=logs)

    def on_epoch_end(self, epoch, logs=None):
        self.training_logs = dict(logs or {})
        self._each("on_epoch_end", epoch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._each_batch("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._each_batch("on_train_batch_end", batch, logs)

    train_batch_begin = on_train_batch_begin
    train_batch_end = on_train_batch_end

    def on_test_batch_begin(self, batch, logs=None):
        self._each_batch("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._each_batch("on_test_batch_end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._each_batch("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._each_batch("on_predict_batch_end", batch, logs)

    def on_train_begin(self, logs=None):
        self.training_logs = None
        self._each("on_train_begin", logs=logs)

    def on_train_end(self, logs=None):
        self._each("on_train_end", logs=logs)

    def on_test_begin(self, logs=None):
        self._each("on_test_begin", logs=logs)

    def on_test_end(self, logs=None):
        self._each("on_test_end", logs=logs)

    def on_predict_begin(self, logs=None):
        self._each("on_predict_begin", logs=logs)

    def on_predict_end(self, logs=None):
        self._each("on_predict_end", logs=logs)


class SavesEveryNBatches:
    """Keras's count for `save_freq=N` (ModelCheckpoint, BackupAndRestore): save after every
    N batches, counted across epochs (the batch index restarts at 0 with each epoch). The
    callback keeps `_batches_seen_since_last_saving` and `_last_batch_seen` (None or the
    last index seen)."""

    def _should_save_on_batch(self, batch):
        if self.save_freq == "epoch":
            return False
        last = self._last_batch_seen
        new_epoch = last is None or batch <= last
        self._batches_seen_since_last_saving += batch + 1 if new_epoch else batch - last
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

"""Callbacks: code `fit` calls at fixed points of training, as in Keras.

Lecture: Coursera C1 W2, where a `myCallback(tf.keras.callbacks.Callback)` stops training
once `logs.get('accuracy') > 0.6` by setting `self.model.stop_training = True`.

The order of calls inside `fit`:

    on_train_begin
      on_epoch_begin(epoch)
        on_train_batch_begin(batch) ... on_train_batch_end(batch, logs)     for every batch
        [validation: on_test_begin ... on_test_end]
      on_epoch_end(epoch, logs)        logs = {'loss': .., 'accuracy': .., 'val_loss': ..}
    on_train_end

`evaluate` calls the on_test_* hooks and `predict` the on_predict_* hooks. A callback that
sets `self.model.stop_training = True` ends training after the current epoch.
"""
class Callback:
    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass
    def on_test_begin(self, logs=None): pass
    def on_test_end(self, logs=None): pass
    def on_test_batch_begin(self, batch, logs=None): pass
    def on_test_batch_end(self, batch, logs=None): pass
    def on_predict_begin(self, logs=None): pass
    def on_predict_end(self, logs=None): pass
    def on_predict_batch_begin(self, batch, logs=None): pass
    def on_predict_batch_end(self, batch, logs=None): pass

    # Keras's older spellings of the training-batch hooks.
    def on_batch_begin(self, batch, logs=None): pass
    def on_batch_end(self, batch, logs=None): pass


_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _overrides(callback, hook):
    return getattr(type(callback), hook, None) is not getattr(Callback, hook)


class CallbackList:
    """Calls every callback's hook in order. Batch hooks are skipped entirely when no callback
    overrides them: that keeps the per-batch cost of `fit` at zero for the common case."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for callback in self.callbacks:
            if not isinstance(callback, Callback):
                raise TypeError(
                    f"callbacks must be scratchnet.callbacks.Callback instances, received "
                    f"{callback!r}"
                )
            callback.set_model(model)
            callback.set_params(params)

    def wants_batch_hooks(self, mode):
        return any(_overrides(c, h) for c in self.callbacks for h in _BATCH_HOOKS[mode])

    def call(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)

    def train_batch_begin(self, batch, logs):
        self.call("on_train_batch_begin", batch, logs)
        self.call("on_batch_begin", batch, logs)

    def train_batch_end(self, batch, logs):
        self.call("on_train_batch_end", batch, logs)
        self.call("on_batch_end", batch, logs)


class History(Callback):
    """Records each epoch's logs: `history.history['loss'][epoch]`, like Keras."""

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class ProgbarLogger(Callback):
    """Keras-style progress: a bar per epoch (verbose=1) or one line per epoch (verbose=2).

    The bar is drawn by tqdm (a well-kept library: the lesson is not in progress bars).
    """

    def __init__(self, verbose=1):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        if self.params["epochs"] > 1:  # as Keras: no "Epoch 1/1" header for a single epoch
            print(f"Epoch {epoch + 1}/{self.params['epochs']}")
        self._bar = _progress_bar(self.params["steps"], self.verbose)

    def on_train_batch_end(self, batch, logs=None):
        self._bar.advance(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._bar.close(logs)


def format_logs(logs):
    return " - ".join(f"{k}: {_format_value(v)}" for k, v in sorted((logs or {}).items()))


def _format_value(value):
    value = float(value)
    return f"{value:.4e}" if value != 0 and abs(value) < 1e-3 else f"{value:.4f}"


class _progress_bar:
    """`steps` steps, drawn with tqdm for verbose=1, or a single closing line for verbose=2."""

    def __init__(self, steps, verbose):
        import time

        self._time = time.perf_counter
        self.start = self._time()
        self.steps = steps
        self.verbose = verbose
        self.done = 0
        self.tqdm = None
        if verbose == 1:
            from tqdm.auto import tqdm

            self.tqdm = tqdm(total=steps, ascii=" =", mininterval=0.2, leave=True,
                             bar_format="{n_fmt}/{total_fmt} [{bar:30}] - {elapsed}{postfix}")

    def advance(self, done, logs):
        if self.tqdm is not None:
            self.tqdm.update(done - self.done)
            if self.tqdm.n == self.steps or self._time() - self.tqdm.last_print_t > 0.2:
                self.tqdm.set_postfix_str(format_logs(logs), refresh=False)
        self.done = done

    def close(self, logs):
        elapsed = self._time() - self.start
        per_step = elapsed / max(self.done, 1)
        tail = f" {_format_step_time(per_step)} - {format_logs(logs)}"
        if self.tqdm is not None:
            self.tqdm.set_postfix_str(tail, refresh=True)
            self.tqdm.close()
        else:
            print(f"{self.done}/{self.steps} - {elapsed:.0f}s -{tail}")


def _format_step_time(seconds):
    """Keras's units: s/step, ms/step or us/step."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]

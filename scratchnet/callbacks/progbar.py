"""The progress display of `fit`/`evaluate`/`predict`: Keras 3's `Progbar` and `ProgbarLogger`.

What a student sees with verbose=1 (one bar per epoch; "Epoch k/N" only when N > 1):

    Epoch 1/5
    1875/1875 ━━━━━━━━━━━━━━━━━━━━ 2s 1ms/step - accuracy: 0.8725 - loss: 0.3568

* `1875/1875`: steps (batches) done / steps per epoch; the bar is 20 characters wide.
* while the epoch runs, the time after the bar is the ETA (`12s`, `1:05`, `1:02:03`); at the
  end it is the time the epoch took, rounded to whole seconds.
* `1ms/step`: the time per step, in s, ms or us (the first step, which often includes
  one-off work, is left out of the estimate once there are others).
* the metrics in the order the logs first listed them (alphabetical, see callback.py), each
  with 4 decimals, or as 1.2345e-05 when |value| <= 1e-3; entries added at the epoch's end
  (val_loss, learning_rate) come last.

verbose=2 prints one line per epoch, at its end: `1875/1875 - 2s - 1ms/step - accuracy: ...`.

On a terminal or in a notebook the bar is redrawn in place (backspaces and `\\r`, at most every
0.05 s, with Keras's ANSI bold/colour codes), byte for byte as Keras writes it. When the
output is not a terminal (a log file, CI), verbose=1 writes just the finished line of each
epoch, without control codes: what the terminal would show at the end. (Keras itself takes
every POSIX system for a terminal, so its log files fill with backspaces; this is the one
place where scratchnet deliberately differs.)

This is a port of keras/src/utils/progbar.py and keras/src/callbacks/progbar_logger.py.
"""
import math
import os
import re
import sys
import time

from scratchnet.callbacks.callback import Callback, pythonify_logs

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def print_msg(message, line_break=True):
    """Keras's `io_utils.print_msg`: write to stdout and flush; where stdout's encoding cannot
    show the bar's '━' it becomes '=' (Keras 2's bar)."""
    message = str(message)
    message = f"{message}\n" if line_break else message
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:
        message = message.replace("━", "=")
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.write(message.encode(encoding, errors="ignore").decode(encoding))
    sys.stdout.flush()


def _is_dynamic_display():
    """Can the bar be redrawn in place? A terminal, a Jupyter kernel or PyCharm's console
    (Keras also counts every POSIX system, which is why its log files hold backspaces)."""
    return ((hasattr(sys.stdout, "isatty") and sys.stdout.isatty())
            or "ipykernel" in sys.modules
            or "PYCHARM_HOSTED" in os.environ)


class Progbar:
    """Keras's progress bar (`keras.utils.Progbar`).

    Args:
        target: total number of steps expected, None if unknown.
        width: width of the bar in characters.
        verbose: 0 (silent), 1 (the bar), 2 (one line at the end).
        interval: minimum time between two redraws, in seconds.
        stateful_metrics / stateless_metrics: names shown as given / averaged over the steps
            (by default every metric is averaged; `fit` passes stateless_metrics=set(), so its
            running epoch metrics are shown as they are). Only one of the two may be given.
        unit_name: what a step is called ("step" or "sample").
    """

    def __init__(self, target, width=20, verbose=1, interval=0.05, stateful_metrics=None,
                 stateless_metrics=None, unit_name="step"):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Only one of `stateful_metrics` or `stateless_metrics` can be provided. "
                "`stateful_metrics` is used to make metrics stateless by default (with an "
                "exclusion list), while `stateless_metrics` is used to make metrics stateful "
                "by default (with an exclusion list)."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateful_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = set(stateful_metrics), None
        elif stateless_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        else:
            self.stateful_metrics, self.stateless_metrics = set(), None
        self._dynamic_display = _is_dynamic_display()
        self._seen_so_far = 0
        self._values = {}        # name -> [sum of value * steps, steps] (or [value, 1])
        self._values_order = []  # names in the order first seen
        self._start = time.time()
        self._last_update = 0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current, values=None, finalize=None):
        """Show step `current` with `values`, a list of (name, value); `finalize`: is this
        the last update (default: current >= target)?"""
        if finalize is None:
            finalize = False if self.target is None else current >= self.target
        for k, v in values or []:
            if k not in self._values_order:
                self._values_order.append(k)
            if self.stateful_metrics is not None:
                stateless = k not in self.stateful_metrics
            else:
                stateless = k in self.stateless_metrics
            if stateless and not finalize:
                steps = max(current - self._seen_so_far, 1)
                if k not in self._values:
                    self._values[k] = [v * steps, steps]
                else:
                    self._values[k][0] += v * steps
                    self._values[k][1] += steps
            else:
                self._values[k] = [v, 1]
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)

        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            if not self._dynamic_display and not finalize:
                self._last_update = now
                return  # not a terminal: only the finished line is written
            bar, info = self._line(current, now, time_per_unit, finalize)
            if self._dynamic_display:
                total_width = len(_ANSI.sub("", bar + info))
                message = "\b" * self._prev_total_width + "\r" + bar + info
                if self._prev_total_width > total_width:
                    message += " " * (self._prev_total_width - total_width)
                self._prev_total_width = total_width
            else:
                message = _ANSI.sub("", bar + info)
            if finalize:
                message += "\n"
            print_msg(message, line_break=False)

        elif self.verbose == 2:
            if finalize and self.target is not None and self.target > 0:
                numdigits = int(math.log10(self.target)) + 1
                count = f"%{numdigits}d/%d" % (current, self.target)
                info = f"{count} - {now - self._start:.0f}s"
                info += f" -{self._format_time(time_per_unit, self.unit_name)}"
                for k in self._values_order:
                    avg = self._average(k)
                    # (Keras tests avg > 1e-3 here, not |avg|: negative values get e-notation)
                    info += f" - {k}: {avg:.4f}" if avg > 1e-3 else f" - {k}: {avg:.4e}"
                print_msg(info + "\n", line_break=False)

        self._last_update = now

    def add(self, n, values=None):
        self.update(self._seen_so_far + n, values)

    def _average(self, k):
        total, count = self._values[k]
        if not isinstance(total, float):
            import numpy as np

            total = np.mean(total)
        return total / max(1, count)

    def _line(self, current, now, time_per_unit, finalize):
        """The bar and the text after it, with Keras's ANSI codes."""
        if self.target is not None and self.target > 0:
            numdigits = int(math.log10(self.target)) + 1
            bar = f"\x1b[1m{f'%{numdigits}d/%d' % (current, self.target)}\x1b[0m "
            prog_width = int(self.width * float(current) / self.target)
            if prog_width > 0:
                bar += f"\33[32m{'━' * prog_width}\x1b[0m"
            bar += f"\33[37m{'━' * (self.width - prog_width)}\x1b[0m"
        else:
            bar = "%7d/Unknown" % current

        if self.target is not None and self.target > 0 and not finalize:
            eta = time_per_unit * (self.target - current)
            if eta > 3600:
                eta_format = "%d:%02d:%02d" % (eta // 3600, (eta % 3600) // 60, eta % 60)
            elif eta > 60:
                eta_format = "%d:%02d" % (eta // 60, eta % 60)
            else:
                eta_format = "%ds" % eta
            info = f" \x1b[1m{eta_format}\x1b[0m"
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"  # time since the start
        info += self._format_time(time_per_unit, self.unit_name)
        for k in self._values_order:
            avg = self._average(k)
            info += f" - {k}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {k}: {avg:.4e}"
        return bar, info

    @staticmethod
    def _format_time(time_per_unit, unit_name):
        """' 2s/step', ' 12ms/step' or ' 340us/step'."""
        if time_per_unit >= 1 or time_per_unit == 0:
            return f" {time_per_unit:.0f}s/{unit_name}"
        if time_per_unit >= 1e-3:
            return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
        return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"

    def _estimate_step_duration(self, current, now):
        """Seconds per step; after the first step, the first one is left out."""
        if not current:
            return 0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit


class ProgbarLogger(Callback):
    """The callback that draws the bar: `fit` adds one when verbose != 0 (last in the list).
    Inside `fit` the validation pass is silent."""

    def __init__(self):
        super().__init__()
        self.seen = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._called_in_fit = False

    def set_params(self, params):
        verbose = params["verbose"]
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params["epochs"]
        self.target = params["steps"]

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            print_msg(f"Epoch {epoch + 1}/{self.epochs}")

    def on_train_batch_end(self, batch, logs=None):
        self._update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._update_progbar(batch, None)  # predictions are not shown

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _reset_progbar(self):
        self.seen = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        if self.progbar is None:
            self.progbar = Progbar(target=self.target, verbose=self.verbose, unit_name="step",
                                   stateless_metrics=set())

    def _update_progbar(self, batch, logs=None):
        logs = logs or {}
        self._maybe_init_progbar()
        self.seen = batch + 1
        if self.verbose == 1:
            self.progbar.update(self.seen, list(logs.items()), finalize=False)

    def _finalize_progbar(self, logs):
        logs = logs or {}
        if self.target is None:
            self.target = self.seen
            self.progbar.target = self.target
        self.progbar.update(self.target, list(logs.items()), finalize=True)


class _progress_bar:
    """The bar of `evaluate` and `predict` (what Keras's ProgbarLogger shows there), driven
    directly by their loops: `advance(steps_done, logs)` after each batch, `close(logs)`."""

    def __init__(self, steps, verbose):
        self.logger = ProgbarLogger()
        self.logger.set_params({"verbose": verbose, "epochs": 1, "steps": steps})
        self.logger.on_predict_begin()

    def advance(self, done, logs):
        self.logger._update_progbar(done - 1, pythonify_logs(logs))

    def close(self, logs):
        self.logger._finalize_progbar(pythonify_logs(logs))

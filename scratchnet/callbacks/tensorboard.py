"""`TensorBoard`: write what `fit` measures into event files the TensorBoard app shows.

    tensorboard_callback = tf.keras.callbacks.TensorBoard(log_dir="logs", histogram_freq=1)
    model.fit(x, y, epochs=5, validation_data=(x_val, y_val), callbacks=[tensorboard_callback])
    # then: tensorboard --logdir logs

What ends up where (Keras 3's layout, tags and steps):

    log_dir/train/       epoch_loss, epoch_accuracy, ...  step = epoch (from 0)
                         epoch_learning_rate              the optimizer's rate at the epoch's end
                         epoch_steps_per_second           with write_steps_per_second=True
                         <weight path>/histogram          every `histogram_freq` epochs, e.g.
                                                          'sequential/dense/kernel/histogram'
                         <weight path>/image              with write_images=True
                         batch_loss, batch_accuracy, ...  with update_freq=N (or 'batch' = 1):
                                                          step = batches done since fit began
                         keras                            the model's JSON (write_graph=True),
                                                          when the model has `to_json`
    log_dir/validation/  epoch_val... as epoch_loss, ...  step = epoch
                         evaluation_loss_vs_iterations    after each validation pass (and each
                                                          `evaluate` given this callback):
                                                          step = optimizer.iterations

Scalars are stored as float32 tensors (as `tf.summary.scalar` does) and histograms as 30
buckets [left edge, right edge, count] spanning [min, max] (`tf.summary.histogram`).

One Keras detail kept on purpose: with an integer update_freq=N, Keras gates *every* write
(also the epoch scalars and histograms) on "the step of the latest batch is a multiple of N"
(its `tf.summary.record_if`), so epochs whose last batch number is not a multiple of N are
missing in its files. scratchnet writes the same files.

Not here: the TensorFlow train-function graph (scratchnet has no graph; Keras writes none
either for a model run eagerly), profiling (`profile_batch`), embeddings (`embeddings_freq`).

The files are written with tensorboardX's event writer (TensorBoard's record format); nothing
here imports TensorFlow.
"""
import os
import time

import numpy as np

from scratchnet.callbacks.callback import Callback

_file_counter = [0]


class _EventFile:
    """One run directory's event file (`events.out.tfevents.<time>.<host>.<pid>.<nnnnn>.v2`),
    written synchronously; a write after `close` starts a new file, as TensorFlow's does."""

    def __init__(self, logdir):
        self.logdir = logdir
        self._writer = None
        self._open()

    def _open(self):
        from tensorboardX.event_file_writer import EventsWriter

        os.makedirs(self.logdir, exist_ok=True)
        _file_counter[0] += 1  # (zero-padded: files of the same second load in this order)
        suffix = f".{os.getpid()}.{_file_counter[0] - 1:05d}.v2"
        self._writer = EventsWriter(os.path.join(self.logdir, "events"), suffix)

    def write(self, value, step):
        from tensorboardX.proto import event_pb2, summary_pb2

        if self._writer is None:
            self._open()
        event = event_pb2.Event(wall_time=time.time(), step=int(step),
                                summary=summary_pb2.Summary(value=[value]))
        self._writer.write_event(event)

    def flush(self):
        if self._writer is not None:
            self._writer.flush()

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _summary_value(tag, plugin, tensor, content=b""):
    from tensorboardX.proto import summary_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin, content=content))
    return summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)


def _tensor(array=None, dtype=None, strings=None):
    from tensorboardX.proto import tensor_pb2, tensor_shape_pb2, types_pb2

    if strings is not None:
        shape = tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=len(strings))])
        return tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, tensor_shape=shape,
                                      string_val=strings)
    array = np.asarray(array, dtype=dtype, order="C")
    kind = {np.dtype(np.float32): types_pb2.DT_FLOAT, np.dtype(np.float64): types_pb2.DT_DOUBLE}
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=n) for n in array.shape])
    return tensor_pb2.TensorProto(dtype=kind[array.dtype], tensor_shape=shape,
                                  tensor_content=array.astype(array.dtype.newbyteorder("<"))
                                  .tobytes())


def scalar_value(tag, value):
    """`tf.summary.scalar`: a float32 scalar tensor for the 'scalars' plugin."""
    return _summary_value(tag, "scalars", _tensor(np.float32(value), np.float32))


def histogram_buckets(data, bucket_count=30):
    """`tf.summary.histogram`'s buckets: (bucket_count, 3) rows [left, right, count], equal
    widths from min to max; the maximum falls in the last bucket; constant data puts all its
    points in the last bucket, whose edges are then both that value."""
    data = np.asarray(data, dtype=np.float64).reshape(-1)
    if data.size == 0:
        return np.zeros((bucket_count, 3))
    low, high = data.min(), data.max()
    if high == low:
        counts = np.zeros(bucket_count)
        counts[-1] = data.size
        return np.stack([np.full(bucket_count, low), np.full(bucket_count, low), counts], 1)
    width = (high - low) / bucket_count
    index = np.minimum(np.floor((data - low) / width).astype(int), bucket_count - 1)
    counts = np.bincount(index, minlength=bucket_count).astype(np.float64)
    edges = np.linspace(low, high, bucket_count + 1)
    return np.stack([edges[:-1], edges[1:], counts], 1)


def histogram_value(tag, data):
    return _summary_value(tag, "histograms", _tensor(histogram_buckets(data), np.float64))


def _png(pixels):
    """PNG file bytes of uint8 pixels (height, width, channels 1/3/4), encoded by Pillow."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels).save(buffer, "PNG")
    return buffer.getvalue()


def image_value(tag, images, max_outputs=3):
    """`tf.summary.image` of float images (n, h, w, c): each pixel -> uint8 as TensorFlow's
    convert_image_dtype(saturate=True) does (x * 255.5, clipped to [0, 255], truncated)."""
    images = np.asarray(images, dtype=np.float64)
    pixels = np.clip(images * 255.5, 0, 255).astype(np.uint8)
    strings = [str(images.shape[2]).encode(), str(images.shape[1]).encode()]
    strings += [_png(p) for p in pixels[:max_outputs]]
    return _summary_value(tag, "images", _tensor(strings=strings))


def _weight_paths(model):
    """id(weight) -> its Keras variable path (`Model.weight_paths`)."""
    return {id(w): path for w, path in zip(model.weights, model.weight_paths)}


class TensorBoard(Callback):
    """Keras's `TensorBoard(log_dir='logs', histogram_freq=0, write_graph=True,
    write_images=False, write_steps_per_second=False, update_freq='epoch', profile_batch=0,
    embeddings_freq=0, embeddings_metadata=None)`; see the module docstring."""

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0,
                 embeddings_freq=0, embeddings_metadata=None):
        super().__init__()
        import tensorboardX  # noqa: F401  (fail here, not mid-training, if it is missing)

        self.log_dir = str(log_dir)
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        self.update_freq = 1 if update_freq == "batch" else update_freq
        if not (self.update_freq == "epoch" or (isinstance(self.update_freq, int)
                                                and not isinstance(self.update_freq, bool)
                                                and self.update_freq > 0)):
            raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or a positive "
                             f"int, received {update_freq!r}")
        if profile_batch:
            raise ValueError("Profiling is not yet available with the scratchnet backend. "
                             f"Received: profile_batch={profile_batch} (must be 0)")
        if embeddings_freq:
            raise ValueError("TensorBoard: embeddings are not available in scratchnet (no "
                             "Embedding layer, no save_weights yet). Received: "
                             f"embeddings_freq={embeddings_freq} (must be 0)")
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._previous_epoch_iterations = 0
        self._batch_start_time = 0
        self._writers = {}
        self._prev_summary_state = []  # [(writer, step)] pushed by the batch hooks

    # ---- writers --------------------------------------------------------------------
    def set_model(self, model):
        self.model = model
        self._log_write_dir = self.log_dir
        self._train_dir = os.path.join(self._log_write_dir, "train")
        self._val_dir = os.path.join(self._log_write_dir, "validation")
        self._close_writers()
        self._writers = {}
        self._should_write_train_graph = False
        if self.write_graph:
            self._write_keras_model_summary()
            self._should_write_train_graph = True

    @property
    def _train_writer(self):
        if "train" not in self._writers:
            self._writers["train"] = _EventFile(self._train_dir)
        return self._writers["train"]

    @property
    def _val_writer(self):
        if "val" not in self._writers:
            self._writers["val"] = _EventFile(self._val_dir)
        return self._writers["val"]

    def _close_writers(self):
        for writer in self._writers.values():
            writer.close()

    def _push_writer(self, writer, step):
        """With update_freq=N: `writer` becomes the default one (batch summaries go there)
        and writes are recorded only while `step % N == 0` (Keras's record_if)."""
        if self.update_freq == "epoch":
            return
        self._prev_summary_state.append((writer, step))

    def _pop_writer(self):
        if self.update_freq == "epoch":
            return
        self._prev_summary_state.pop()

    def _recording(self):
        if not self._prev_summary_state:
            return True
        return self._prev_summary_state[-1][1] % self.update_freq == 0

    def _write(self, writer, value, step):
        if writer is not None and self._recording():
            writer.write(value, step)

    def _write_default(self, value, step):
        """A summary for the default writer (none when update_freq='epoch': not written)."""
        if self._prev_summary_state:
            self._write(self._prev_summary_state[-1][0], value, step)

    def _write_keras_model_summary(self):
        writer = self._train_writer
        if type(self.model).__name__ in ("Functional", "Sequential") and hasattr(self.model,
                                                                                  "to_json"):
            value = _summary_value("keras", "graph_keras_model",
                                   _tensor(strings=[self.model.to_json().encode()]), b"1")
            value.tensor.tensor_shape.Clear()  # a scalar string, as Keras writes it
            self._write(writer, value, 0)

    # ---- hooks ----------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._global_train_batch = 0
        self._previous_epoch_iterations = 0
        self._push_writer(self._train_writer, self._global_train_batch)

    def on_train_end(self, logs=None):
        self._pop_writer()
        self._close_writers()

    def on_test_begin(self, logs=None):
        self._push_writer(self._val_writer, self._global_test_batch)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer and hasattr(optimizer, "iterations"):
            for name, value in (logs or {}).items():
                self._write(self._val_writer, scalar_value(f"evaluation_{name}_vs_iterations",
                                                           value), optimizer.iterations)
            self._val_writer.flush()
        self._pop_writer()

    def on_train_batch_begin(self, batch, logs=None):
        self._global_train_batch += 1
        if self.update_freq != "epoch":
            self._pop_writer()
            self._push_writer(self._train_writer, self._global_train_batch)
        if self.write_steps_per_second:
            self._batch_start_time = time.time()

    def on_train_batch_end(self, batch, logs=None):
        self._should_write_train_graph = False  # (no TensorFlow graph to write)
        if self.write_steps_per_second:
            batch_run_time = time.time() - self._batch_start_time
            self._write_default(scalar_value("batch_steps_per_second", 1.0 / batch_run_time),
                                self._global_train_batch)
        if isinstance(logs, dict):
            for name, value in logs.items():
                self._write_default(scalar_value(f"batch_{name}", value),
                                    self._global_train_batch)

    def on_test_batch_begin(self, batch, logs=None):
        self._global_test_batch += 1
        if self.update_freq != "epoch":
            self._pop_writer()
            self._push_writer(self._val_writer, self._global_test_batch)

    def on_epoch_begin(self, epoch, logs=None):
        if self.write_steps_per_second:
            self._previous_epoch_iterations = np.float32(self.model.optimizer.iterations)
            self._epoch_start_time = time.time()

    def on_epoch_end(self, epoch, logs=None):
        self._log_epoch_metrics(epoch, logs)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    # ---- what is written ------------------------------------------------------------
    def _collect_learning_rate(self, logs):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            from scratchnet.callbacks.learning_rate_scheduler import read_learning_rate

            logs["learning_rate"] = read_learning_rate(optimizer)
        return logs

    def _compute_steps_per_second(self):
        iterations = np.float32(self.model.optimizer.iterations)
        seconds = np.float32(time.time() - self._epoch_start_time)
        return float((iterations - self._previous_epoch_iterations) / seconds)

    def _log_epoch_metrics(self, epoch, logs):
        if not logs:
            return
        train_logs = {k: v for k, v in logs.items() if not k.startswith("val_")}
        val_logs = {k: v for k, v in logs.items() if k.startswith("val_")}
        train_logs = self._collect_learning_rate(train_logs)
        if self.write_steps_per_second:
            train_logs["steps_per_second"] = self._compute_steps_per_second()
        for name, value in train_logs.items():
            self._write(self._train_writer, scalar_value(f"epoch_{name}", value), epoch)
        for name, value in val_logs.items():
            self._write(self._val_writer, scalar_value(f"epoch_{name[4:]}", value), epoch)
        for writer in self._writers.values():
            writer.flush()  # TensorBoard can show the epoch while training goes on

    def _log_weights(self, epoch):
        writer = self._train_writer
        paths = _weight_paths(self.model)
        for layer in self.model.layers:
            for weight in layer.weights:
                name = paths.get(id(weight), f"{layer.name}/variable").replace(":", "_")
                self._write(writer, histogram_value(f"{name}/histogram", weight), epoch)
                if self.write_images:
                    self._log_weight_as_image(weight, f"{name}/image", epoch)
        writer.flush()

    def _log_weight_as_image(self, weight, tag, epoch):
        """Dense kernels as one grey image (the longer side across), biases as a column,
        2-D conv kernels with one input channel as one image per filter (at most 3)."""
        w_img = np.squeeze(np.asarray(weight))
        shape = w_img.shape
        if len(shape) == 1:
            w_img = w_img.reshape(1, shape[0], 1, 1)
        elif len(shape) == 2:
            if shape[0] > shape[1]:
                w_img = w_img.T
                shape = w_img.shape
            w_img = w_img.reshape(1, shape[0], shape[1], 1)
        elif len(shape) == 3:  # channels_last: one image per output channel
            w_img = np.transpose(w_img, (2, 0, 1))
            shape = w_img.shape
            w_img = w_img.reshape(shape[0], shape[1], shape[2], 1)
        if w_img.ndim == 4 and w_img.shape[-1] in (1, 3, 4):
            self._write(self._train_writer, image_value(tag, w_img), epoch)

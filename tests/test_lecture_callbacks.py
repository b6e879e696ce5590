"""The lectures' custom callbacks, pasted verbatim with only the import changed.

Source: Coursera C1 W2 notes (shared/lectures/002_*.txt, "Using callbacks to control
training"): a `myCallback(tf.keras.callbacks.Callback)` whose `on_epoch_end` sets
`self.model.stop_training = True` once a logged value crosses a threshold. Training must
stop right after the first epoch where the condition holds, as the lecture describes.
Runs on real Fashion-MNIST (skipped without the data unless SCRATCHNET_REQUIRE_DATA=1).
"""
import os
import textwrap

import numpy as np
import pytest

import scratchnet


def _fashion_available():
    try:
        scratchnet.datasets.fashion_mnist.load_data()
        return True
    except FileNotFoundError:
        if os.environ.get("SCRATCHNET_REQUIRE_DATA") == "1":
            raise
        return False


needs_data = pytest.mark.skipif(not _fashion_available(), reason="Fashion-MNIST not available")

LECTURE_ACCURACY_CALLBACK = '''
import scratchnet as tf   # the only change: was `import tensorflow as tf`

class myCallback(tf.keras.callbacks.Callback):
  def on_epoch_end(self, epoch, logs={}):
    if(logs.get('accuracy')>0.6):
      print("\\nReached 60% accuracy so cancelling training!")
      self.model.stop_training = True

mnist = tf.keras.datasets.fashion_mnist

(x_train, y_train),(x_test, y_test) = mnist.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0

callbacks = myCallback()

model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(input_shape=(28, 28)),
  tf.keras.layers.Dense(512, activation=tf.nn.relu),
  tf.keras.layers.Dense(10, activation=tf.nn.softmax)
])
model.compile(optimizer=tf.optimizers.Adam(),
              loss='sparse_categorical_crossentropy',
              metrics=['accuracy'])

history = model.fit(x_train, y_train, epochs=10, callbacks=[callbacks])
'''

LECTURE_LOSS_CALLBACK = '''
import scratchnet as tf   # the only change: was `import tensorflow as tf`

class myCallback(tf.keras.callbacks.Callback):
  def on_epoch_end(self, epoch, logs={}):
    if(logs.get('loss')<0.4):
      print("\\nLoss is low so cancelling training!")
      self.model.stop_training = True

callbacks = myCallback()
mnist = tf.keras.datasets.fashion_mnist
(training_images, training_labels), (test_images, test_labels) = mnist.load_data()
training_images=training_images/255.0
test_images=test_images/255.0
model = tf.keras.models.Sequential([
  tf.keras.layers.Flatten(),
  tf.keras.layers.Dense(512, activation=tf.nn.relu),
  tf.keras.layers.Dense(10, activation=tf.nn.softmax)
])
model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')
history = model.fit(training_images, training_labels, epochs=5, callbacks=[callbacks], verbose=2)
'''


@needs_data
def test_accuracy_callback_stops_after_first_epoch_above_60_percent(capsys):
    scratchnet.backend.set_random_seed(1)
    namespace = {}
    exec(textwrap.dedent(LECTURE_ACCURACY_CALLBACK), namespace)
    accuracy = namespace["history"].history["accuracy"]
    # An MLP passes 60% within its first epoch on Fashion-MNIST: it must stop right there.
    assert accuracy[0] > 0.6
    assert len(accuracy) == 1
    assert "Reached 60% accuracy so cancelling training!" in capsys.readouterr().out


@needs_data
def test_loss_callback_stops_at_first_epoch_below_threshold(capsys):
    scratchnet.backend.set_random_seed(2)
    namespace = {}
    exec(textwrap.dedent(LECTURE_LOSS_CALLBACK), namespace)
    losses = namespace["history"].history["loss"]
    below = [i for i, value in enumerate(losses) if value < 0.4]
    if below:  # stopped exactly at the first epoch under 0.4, and said so
        assert len(losses) == below[0] + 1
        assert "Loss is low so cancelling training!" in capsys.readouterr().out
    else:      # never under 0.4: all 5 epochs ran
        assert len(losses) == 5
    assert losses[0] > 0.4  # the first epoch of this MLP does not get there yet


_HOOKS = [name for name in vars(scratchnet.callbacks.Callback) if name.startswith("on_")]


def _recording_hook(name):
    def hook(self, *args, **kwargs):  # (batch hooks get `logs` by keyword, as in Keras)
        self.calls.append((name,) + tuple(a for a in args if isinstance(a, int)))
    return hook


# A callback overriding every hook (real methods on the class, as users write them).
RecordingCallback = type("RecordingCallback", (scratchnet.callbacks.Callback,),
                         {name: _recording_hook(name) for name in _HOOKS})


def test_every_hook_is_called_in_keras_order():
    model = scratchnet.Sequential([scratchnet.layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse")
    recorder = RecordingCallback()
    recorder.calls = []
    x, y = np.ones((5, 3)), np.zeros((5, 2))
    model.fit(x, y, batch_size=2, epochs=2, verbose=0, callbacks=[recorder],
              validation_data=(x, y))
    calls = recorder.calls
    assert calls[0] == ("on_train_begin",) and calls[-1] == ("on_train_end",)
    epoch0 = calls[1:calls.index(("on_epoch_end", 0)) + 1]
    assert epoch0[0] == ("on_epoch_begin", 0)
    train_batches = [c for c in epoch0 if c[0] == "on_train_batch_end"]
    assert [c[1] for c in train_batches] == [0, 1, 2]  # 5 samples, batch 2 -> 3 batches
    # Keras 3: on_batch_begin/end are called by Callback's own on_train_batch_begin/end, so a
    # callback overriding both gets only the on_train_batch_* calls
    assert not any(c[0] in ("on_batch_begin", "on_batch_end") for c in calls)
    # validation runs the test hooks between the last train batch and on_epoch_end
    test_part = epoch0[epoch0.index(("on_train_batch_end", 2)) + 1:-1]
    assert test_part == ([("on_test_begin",)]
                         + [(f"on_test_batch_{w}", b) for b in range(3) for w in ("begin", "end")]
                         + [("on_test_end",)])
    assert recorder.model is model and recorder.params["steps"] == 3
    assert recorder.params == {"verbose": 0, "epochs": 2, "steps": 3}


def test_old_batch_hook_names_still_run_every_batch():
    class OldStyle(scratchnet.callbacks.Callback):
        seen = []

        def on_batch_begin(self, batch, logs=None):
            self.seen.append(("begin", batch))

        def on_batch_end(self, batch, logs=None):
            self.seen.append(("end", batch, sorted(logs)))

    model = scratchnet.Sequential([scratchnet.layers.Dense(2, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), batch_size=2, epochs=1, verbose=0,
              callbacks=[OldStyle()])
    assert OldStyle.seen == [("begin", 0), ("end", 0, ["loss", "mae"]), ("begin", 1),
                             ("end", 1, ["loss", "mae"])]


def test_stop_training_from_a_batch_hook_ends_the_epoch_there():
    """Keras 3 leaves the epoch right after the batch that set stop_training (tf.keras 2
    finished the epoch): batches 2 and 3 of epoch 0 never run, and the epoch's loss is the
    average of batches 0 and 1."""
    class StopAtBatchOne(scratchnet.callbacks.Callback):
        batches = []

        def on_train_batch_end(self, batch, logs=None):
            self.batches.append((batch, logs["loss"]))
            if batch == 1:
                self.model.stop_training = True

    model = scratchnet.Sequential([scratchnet.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(np.ones((8, 2)), np.ones(8), batch_size=2, epochs=4, verbose=0,
                        callbacks=[StopAtBatchOne()])
    assert [b for b, _ in StopAtBatchOne.batches] == [0, 1]
    assert history.epoch == [0]
    assert history.history["loss"] == [StopAtBatchOne.batches[-1][1]]


def test_logs_hold_keras_key_names():
    seen = {}

    class Grab(scratchnet.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.update(logs)

    model = scratchnet.Sequential([scratchnet.layers.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc", "mae"])
    rng = np.random.default_rng(0)
    model.fit(rng.random((10, 4)), rng.integers(0, 3, 10), epochs=1, verbose=0,
              validation_split=0.2, callbacks=[Grab()])
    assert set(seen) == {"loss", "acc", "mae", "val_loss", "val_acc", "val_mae"}

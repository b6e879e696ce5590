"""Where `fit`, `evaluate` and `predict` get their batches from, and which batches each epoch
gets: Keras 3's data adapters and its `EpochIterator` (keras/src/trainers/data_adapters/,
keras/src/trainers/epoch_iterator.py), for NumPy arrays and for anything that *yields*
batches.

Two kinds of `x`:

* **arrays** (`fit(x, y, batch_size=32)`): the model checks and casts the whole data set once,
  then `ArrayBatches` cuts it into slices of `batch_size` rows, in a new random order each
  pass when shuffling. Nothing is checked per batch.
* **something that yields batches**: a `tf.data.Dataset` (`scratchnet.data.Dataset`), or a
  Python generator (Keras takes generators; scratchnet also takes any other iterator, e.g.
  `zip(...)` or `iter(list_of_batches)`, the same way). Each element it yields is ONE BATCH,
  in one of Keras's forms

      x                                  (a Dataset element that is not a tuple: inputs only)
      (x,)                               inputs only
      (x, y)                             inputs and targets
      (x, y, sample_weight)              ... and one weight per sample

  where x, y and sample_weight are what you would pass to `fit` as arrays (an array, a
  tuple/list of arrays for several inputs or outputs, or a dict by name). `IterableBatches`
  wraps any of them: a function that starts a fresh pass over the batches, and the number of
  batches in a pass when it is known. The model checks and casts each batch when it arrives
  (models/model.py's `_prepare_batch`), exactly as it checks arrays, so a bad batch fails with
  the same clear message, naming the batch.

Keras's rules for data that yields batches (checked against Keras 3.15):

* `y` and `sample_weight` must be None -- they belong inside the elements; `shuffle` is
  ignored (with Keras's warning: the data is expected to be shuffled already, e.g. by
  `Dataset.shuffle`); `batch_size` is ignored (the batches are already made);
  `validation_split` is refused (there is nothing to cut). `class_weight` works for a
  Dataset and is refused for a generator.
* A generator can be run only once. To look at the first batches before training (to build
  the model), Keras takes the first two and afterwards *replays* them at the start of every
  new pass: a finite generator therefore gives all its batches in the first epoch and only
  those two again in later ones. Give an endless generator and `steps_per_epoch`.

Which batches an epoch gets (`EpochIterator.epoch`, a port of Keras's `_enumerate_iterator`):

* without `steps_per_epoch`, each epoch is one full pass: a fresh iteration of the Dataset
  (so `Dataset.shuffle` reshuffles), to its end;
* with `steps_per_epoch=k`, each epoch takes the next k batches from ONE iteration that goes
  on across epochs (an endless `Dataset.repeat()` or generator is the usual source); when
  the data runs out in the middle of an epoch, that epoch ends early with Keras's warning
  "Your input ran out of data", and the next epoch starts a fresh pass. When the number of
  batches in a pass is known (a Dataset's `cardinality()`), reaching it also starts a fresh
  pass next epoch. E.g. 5 batches, steps_per_epoch=3: epochs get batches [0 1 2], [3 4]
  (warning), [0 1 2], ... Arrays follow the same rules: `fit(x, y, steps_per_epoch=k)` goes
  on through the data across epochs (with batch_size=None a batch is then ceil(n / k) rows);
* the progress bar and the callbacks' `params['steps']` get `steps_per_epoch`, else the
  number of batches in a pass when known, else None: the bar then shows `17/Unknown` during
  the first epoch, and the count that epoch found as the total afterwards.
* `evaluate(x, steps=k)` / `predict(x, steps=k)` take the first k batches of a fresh pass
  (all of them without `steps`); `validation_steps` does the same at every validation.

Adding another source of batches (issue 11: `keras.utils.Sequence` / `PyDataset`,
`ImageDataGenerator.flow_from_directory`'s iterators) is one more branch in `batches_from`
returning an `IterableBatches`: `make_iterator` starts a pass (e.g. `seq[i]` for i in
range(len(seq))), `num_batches=len(seq)`, and its `on_epoch_end` as the hook.
"""
import collections.abc
import itertools
import math
import types
import warnings

import numpy as np

from scratchnet import backend
from scratchnet.models import data

# Keras's words for "x ran out of batches before the epoch's steps were done".
RAN_OUT = ("Your input ran out of data; interrupting training. Make sure that your dataset "
           "or generator can generate at least `steps_per_epoch * epochs` batches. You may "
           "need to use the `.repeat()` function when building your dataset.")

# How many batches Keras takes from a generator before training (NUM_BATCHES_FOR_TENSOR_SPEC).
_PEEKED = 2


class Batches:
    """A source of batches for fit / evaluate / predict.

    `iterate()` starts a fresh pass and returns an iterator over its batches; `num_batches`
    is the number of batches in a pass (None: not known); `kind` names the source in messages
    ('tf.data.Dataset', 'generator', ...). `prepared`: the batches are already checked and
    cast, as (inputs, targets, sample weights) lists (arrays), rather than elements to unpack
    and check. `on_epoch_begin` / `on_epoch_end` are called around every epoch (Keras's
    DataAdapter hooks: a Sequence's `on_epoch_end` reshuffles there)."""

    kind = "batches"
    prepared = False
    num_batches = None

    def iterate(self):
        raise NotImplementedError

    def on_epoch_begin(self):
        pass

    def on_epoch_end(self):
        pass

    def first(self, default=None):
        """The first batch of a fresh pass (or `default`), the pass then stopped."""
        iterator = self.iterate()
        try:
            return next(iterator, default)
        finally:
            close_iterator(iterator)


class ArrayBatches(Batches):
    """Consecutive slices of `batch_size` rows of arrays that were checked and cast already:
    each batch is (inputs, targets, sample weights or None), lists like those of the whole
    data. With `shuffle`, each pass draws a new order from scratchnet's generator when it
    starts."""

    kind = "arrays"
    prepared = True

    def __init__(self, xs, targets, weights, batch_size, shuffle):
        self.xs, self.targets, self.weights = xs, targets, weights
        self.n = len(xs[0])
        self.batch_size, self.shuffle = batch_size, shuffle
        self.num_batches = math.ceil(self.n / batch_size)

    def iterate(self):
        order = backend.rng().permutation(self.n) if self.shuffle else None   # drawn now
        return self._slices(order)

    def _slices(self, order):
        xs, targets, weights = self.xs, self.targets, self.weights
        for index in data.batches(self.n, self.batch_size, order):
            yield ([a[index] for a in xs],
                   [None if t is None else t[index] for t in targets],
                   weights and [None if w is None else w[index] for w in weights])


class IterableBatches(Batches):
    """Batches from anything iterable: `make_iterator()` starts a pass; `num_batches` (or
    None) counts the batches of a pass; `kind` names the source in messages;
    `on_epoch_begin` / `on_epoch_end`: optional functions called around every epoch."""

    def __init__(self, make_iterator, num_batches, kind, on_epoch_begin=None,
                 on_epoch_end=None, first=None):
        self._first = first          # the first batch without starting a pass (optional)
        self._make_iterator = make_iterator
        self.num_batches = num_batches
        self.kind = kind
        self._on_epoch_begin, self._on_epoch_end = on_epoch_begin, on_epoch_end

    def iterate(self):
        return iter(self._make_iterator())

    def on_epoch_begin(self):
        if self._on_epoch_begin is not None:
            self._on_epoch_begin()

    def on_epoch_end(self):
        if self._on_epoch_end is not None:
            self._on_epoch_end()

    def first(self, default=None):
        if self._first is not None:
            return self._first(default)
        return super().first(default)


def _generator_batches(generator, kind, what):
    """A generator (or any iterator) as batches, Keras's GeneratorDataAdapter: it can run only
    once, so its first two batches are taken now (to check them, and to build the model) and
    each new pass replays them before going on with the generator."""
    first = list(itertools.islice(generator, _PEEKED))
    if not first:
        raise ValueError(f"{what}: When passing a Python generator to a Keras model, the "
                         "generator must yield at least one batch. Received an empty "
                         f"{kind}.")
    check_tuple(first[0], kind, what)
    return IterableBatches(lambda: itertools.chain(first, generator), None, kind)


def _sequence_batches(seq, shuffle):
    """A PyDataset / Sequence (batches by index, models/../data/py_dataset.py) as batches,
    Keras's PyDatasetAdapter: a pass asks for batches 0, 1, ... (in a new random order each
    epoch when shuffling; an endless one, num_batches None, forever), and the next ones are
    computed in a background thread while the model trains (`data.dataset.ahead`, up to
    `max_queue_size` ahead, in order -- so the batches are the same as without it)."""
    from scratchnet.data.dataset import ahead

    count = seq.num_batches if hasattr(seq, "num_batches") else len(seq)
    size = getattr(seq, "max_queue_size", 10) or 0

    def one_pass():
        if count is None:
            order = itertools.count()
        else:
            order = backend.rng().permutation(count) if shuffle else range(count)
        for index in order:
            yield _as_batch_tuple(seq[int(index)])

    # Keras reads batches 0 and 1 as soon as it adapts a PyDataset (to learn the batches'
    # structure), before any pass; so does scratchnet, here. It matters: __getitem__ may
    # change the PyDataset's state -- an ImageDataGenerator iterator re-seeds NumPy with
    # `seed + batches seen` -- and reading exactly what Keras reads, when Keras reads it,
    # keeps every later batch (and its random transform) Keras's.
    peeked = [] if count == 0 else [_as_batch_tuple(seq[0])]
    if count is None or count > 1:
        seq[1]

    def first(default):
        return peeked[0] if peeked else default

    return IterableBatches(lambda: ahead(one_pass, size, "scratchnet PyDataset loader"),
                           count, "PyDataset",
                           on_epoch_begin=getattr(seq, "on_epoch_begin", None),
                           on_epoch_end=getattr(seq, "on_epoch_end", None), first=first)


def _as_batch_tuple(batch):
    """Keras's PyDatasetAdapter._standardize_batch: an array is (x,), a list a tuple."""
    if isinstance(batch, np.ndarray):
        return (batch,)
    if isinstance(batch, list):
        return tuple(batch)
    if isinstance(batch, dict) or (isinstance(batch, tuple) and 1 <= len(batch) <= 3):
        return batch
    raise ValueError("PyDataset.__getitem__() must return a tuple or a dict. If a tuple, it "
                     "must be ordered either (input,) or (inputs, targets) or (inputs, "
                     f"targets, sample_weights). Received: {describe(batch)}")


def _dataset_batches(dataset):
    count = dataset.cardinality()
    return IterableBatches(lambda: iter(dataset), count if count >= 0 else None,
                           "tf.data.Dataset")


def _is_tensorflow_dataset(x):
    """A real TensorFlow tf.data.Dataset (Keras's is_tf_dataset test, by class name)."""
    return any(cls.__name__ == "DatasetV2" and "tensorflow.python." in str(cls.__module__)
               for cls in type(x).__mro__)


def _refuse(argument, description, kind, what):
    """Keras's raise_unsupported_arg."""
    raise ValueError(f"{what}: When providing `x` as a {kind}, `{argument}` should not be "
                     f"passed. Instead, {description} should be included as part of the "
                     f"{kind}.")


def yields_batches(x):
    """Is x something that yields batches (rather than arrays)?"""
    from scratchnet.data import Dataset
    from scratchnet.data.py_dataset import is_sequence_like

    return isinstance(x, (Dataset, collections.abc.Iterator)) or is_sequence_like(x)


def batches_from(x, y=None, sample_weight=None, class_weight=None, shuffle=False, what="fit"):
    """`x` as a `Batches` when it yields batches (a Dataset, a generator or iterator), else
    None (x is arrays, which the model prepares as a whole). Keras's argument rules."""
    from scratchnet.data import Dataset
    from scratchnet.data.py_dataset import is_sequence_like

    if isinstance(x, Dataset):
        kind = "tf.data.Dataset"
    elif is_sequence_like(x):
        kind = "PyDataset"
    elif isinstance(x, collections.abc.Iterator):
        # Keras takes generators only; any other iterator (zip, map, iter(list)) is one too
        kind = "generator" if isinstance(x, types.GeneratorType) else "Python iterator"
    elif _is_tensorflow_dataset(x):
        raise TypeError(f"{what}: x is a TensorFlow tf.data.Dataset; scratchnet trains on "
                        "scratchnet's own: build the pipeline with scratchnet.data.Dataset "
                        "(tf.data.Dataset after `import scratchnet as tf`)")
    else:
        return None
    if y is not None:
        _refuse("y", "the targets", kind, what)
    if sample_weight is not None:
        _refuse("sample_weights", "the sample weights", kind, what)
    if kind not in ("tf.data.Dataset", "PyDataset") and class_weight is not None:
        raise ValueError(f"{what}: Argument `class_weight` is not supported for Python "
                         f"generator inputs. Received: class_weight={class_weight}")
    if kind == "PyDataset":
        count = x.num_batches if hasattr(x, "num_batches") else len(x)
        if count is None and shuffle:
            warnings.warn("`shuffle=True` was passed, but will be ignored since the data `x` "
                          "was provided as an infinite PyDataset. The PyDataset is expected "
                          "to already be shuffled.", stacklevel=2)
        return _sequence_batches(x, shuffle and count is not None)
    if shuffle:
        warnings.warn(f"`shuffle=True` was passed, but will be ignored since the data `x` "
                      f"was provided as a {kind}. "
                      + ("The Dataset is expected to already be shuffled (via "
                         "`.shuffle(buffer_size)`)." if kind == "tf.data.Dataset" else
                         f"The {kind} is expected to yield already-shuffled data."),
                      stacklevel=2)
    if kind == "tf.data.Dataset":
        return _dataset_batches(x)
    return _generator_batches(x, kind, what)


def check_tuple(element, kind, what):
    """Keras's check of a generator's batches: a tuple, (x,), (x, y) or (x, y, w)."""
    if not isinstance(element, tuple):
        raise ValueError(f"{what}: When passing a Python generator to a Keras model, the "
                         "generator must return a tuple, either (input,) or (inputs, "
                         "targets) or (inputs, targets, sample_weights). Received: "
                         f"{describe(element)} from the {kind}")


def unpack(element, kind, what):
    """(x, y, sample_weight) of one element, None where absent: Keras's
    unpack_x_y_sample_weight (a Dataset element that is not a tuple is x alone)."""
    if kind not in ("tf.data.Dataset", "PyDataset"):
        check_tuple(element, kind, what)
    if not isinstance(element, tuple):
        return element, None, None
    if 1 <= len(element) <= 3:
        return element + (None,) * (3 - len(element))
    raise ValueError(f"{what}: Data is expected to be in format `x`, `(x,)`, `(x, y)`, or "
                     f"`(x, y, sample_weight)`, found: a tuple of {len(element)} "
                     f"({describe(element)})")


def describe(value):
    """A short description of an element for messages (shapes, not contents)."""
    if isinstance(value, tuple):
        return "(" + ", ".join(describe(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(describe(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
    shape = getattr(value, "shape", None)
    if shape is not None and getattr(value, "dtype", None) is not None:
        return f"array of shape {tuple(shape)} and dtype {value.dtype}"
    return f"{type(value).__name__} {value!r}"[:80]


def check_steps(steps, argument, what):
    """steps_per_epoch / validation_steps / steps: None or a positive int."""
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"{what}: {argument} must be None or a positive int, received "
                         f"{steps!r}")
    return int(steps)


def array_batch_size(batch_size, steps, n, what):
    """Keras's ArrayDataAdapter: batch_size, or (when None) ceil(n / steps) if steps are
    given, else 32."""
    if batch_size is None and steps:
        return math.ceil(n / steps)
    return data.check_batch_size(batch_size, what)


class EpochIterator:
    """Which batches each epoch gets: Keras 3's EpochIterator (steps_per_execution=1).

    `epoch()` yields (step, batch) for one epoch; `num_batches` is what the progress bar and
    callbacks get as `steps`; `reset()` forgets the running pass (fit calls it once before
    training, evaluate before each evaluation). The state is Keras's: `_iterator`, the pass
    that goes on across epochs when steps_per_epoch is given; `_seen`, the batches asked of
    it; `_num_batches`, the batches in a pass (found out when a pass of unknown length ends).
    """

    def __init__(self, source, steps_per_epoch=None):
        self.source = source
        self.steps_per_epoch = steps_per_epoch
        self._iterator = None
        self._seen = 0
        self._num_batches = source.num_batches

    @property
    def num_batches(self):
        return self.steps_per_epoch or self._num_batches

    def reset(self):
        self.close()
        self._num_batches = self.source.num_batches
        self._seen = 0
        self.source.on_epoch_end()

    def close(self):
        """Stop the running pass (a Dataset's prefetch thread ends with it)."""
        close_iterator(self._iterator)
        self._iterator = None

    def _ran_out(self):
        """The data ended before the epoch's steps did (Keras's catch_stop_iteration)."""
        if self._num_batches is None:
            self._num_batches = self._seen   # (Keras counts the failed request too)
        warnings.warn(RAN_OUT, stacklevel=2)
        self.close()
        self.source.on_epoch_end()

    def epoch(self):
        """(step, batch) for the batches of one epoch."""
        self.source.on_epoch_begin()
        steps = self.steps_per_epoch or self._num_batches or -1
        if steps > 0:
            if self._iterator is None or self.steps_per_epoch is None:
                close_iterator(self._iterator)
                self._iterator = self.source.iterate()
                self._seen = 0
            for step in range(steps):
                if self._num_batches and self._seen >= self._num_batches:
                    if self.steps_per_epoch:
                        warnings.warn(RAN_OUT, stacklevel=2)
                    break
                self._seen += 1
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    self._ran_out()
                    return
                yield step, batch
            if self._num_batches and self._seen >= self._num_batches:
                self.close()                 # a full pass is done: the next starts afresh
        else:
            # length unknown and no steps_per_epoch: one pass, to its end
            self.close()
            self._iterator = self.source.iterate()
            step = 0
            while True:
                self._seen = step + 1
                try:
                    batch = next(self._iterator)
                except StopIteration:
                    self._ran_out()
                    return
                yield step, batch
                step += 1
        self.source.on_epoch_end()


def close_iterator(iterator):
    """Stop a pass now: a generator's `finally` blocks run (a Dataset's prefetch thread
    ends). Iterators without `close` (itertools.chain over a user's generator) are left."""
    stop = getattr(iterator, "close", None)
    if stop is not None:
        stop()

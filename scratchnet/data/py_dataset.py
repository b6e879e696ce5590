"""`keras.utils.PyDataset` (Keras 2's `keras.utils.Sequence`): batches you compute in Python.

    class CIFAR10PyDataset(keras.utils.PyDataset):          # Keras's own example
        def __init__(self, x_set, y_set, batch_size, **kwargs):
            super().__init__(**kwargs)
            self.x, self.y = x_set, y_set
            self.batch_size = batch_size

        def __len__(self):                                  # batches in one pass
            return math.ceil(len(self.x) / self.batch_size)

        def __getitem__(self, idx):                         # batch number idx
            low = idx * self.batch_size
            high = min(low + self.batch_size, len(self.x))
            return self.x[low:high], self.y[low:high]

    model.fit(CIFAR10PyDataset(x, y, 32), epochs=5)

A PyDataset knows how many batches a pass has (`len`, or the `num_batches` property: None for
an endless one) and gives any batch by its number, so `fit` can ask for them in any order
(`shuffle=True` shuffles the order of the batches each epoch, as Keras does) and can compute
the next ones in the background while the model trains on this one (models/batches.py).
`on_epoch_begin` / `on_epoch_end` are called around every epoch (reshuffle your data there).
ImageDataGenerator's iterators (`flow`, `flow_from_directory`) are PyDatasets too.

`workers`, `use_multiprocessing` and `max_queue_size` are accepted as in Keras 3: scratchnet
always loads ahead in ONE background thread, in order (so the batches, and any random
augmentation drawn while making them, are the same as without it); `max_queue_size` bounds how
far ahead. Processes are not used (`use_multiprocessing=True` runs threads as well).
"""
import itertools
import warnings


class PyDataset:
    """Base class: implement `__getitem__(index)` and `__len__()` (or `num_batches`)."""

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self):
        if not hasattr(self, "_workers"):
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10
            warnings.warn("Your `PyDataset` class should call `super().__init__(**kwargs)` in "
                          "its constructor. `**kwargs` can include `workers`, "
                          "`use_multiprocessing`, `max_queue_size`. Do not pass these "
                          "arguments to `fit()`, as they will be ignored.", stacklevel=3)

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position `index`: x, (x,), (x, y) or (x, y, sample_weight)."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    @property
    def num_batches(self):
        """Batches in one pass (`len(self)`), or None for an endless PyDataset."""
        if hasattr(self, "__len__"):
            return len(self)
        raise NotImplementedError(f"{type(self).__name__} must implement __len__() or the "
                                  "num_batches property")

    def __iter__(self):
        count = self.num_batches
        for index in (range(count) if count is not None else itertools.count()):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


Sequence = PyDataset          # Keras 2's name (keras.utils.Sequence)


def is_sequence_like(x):
    """A PyDataset, or anything shaped like Keras 2's Sequence (batches by index and a
    length, e.g. an ImageDataGenerator iterator), but not arrays, lists or dicts of them."""
    if isinstance(x, PyDataset):
        return True
    import numpy as np

    if isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    return (callable(getattr(x, "__getitem__", None)) and callable(getattr(x, "__len__", None))
            and callable(getattr(x, "on_epoch_end", None)))


__all__ = ["PyDataset", "Sequence"]

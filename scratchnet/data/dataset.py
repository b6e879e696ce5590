"""`tf.data.Dataset`: an input pipeline as a chain of small, lazy stages.

A *pipeline* describes how to produce training examples one at a time, without holding them
all in memory and without doing any work until someone asks for an element:

    ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))   # source: one (x, y) per row
          .shuffle(1000, seed=0)                                   # stage: mix them up
          .map(lambda x, y: (x / 255.0, y))                         # stage: transform each
          .batch(32)                                               # stage: group 32 into one
          .prefetch(tf.data.AUTOTUNE))                             # stage: compute ahead
    for x_batch, y_batch in ds:                                    # only now does work happen
        ...

Each method returns a *new* Dataset that remembers its upstream Dataset and a recipe: a
Python generator function that pulls elements from the upstream one and yields its own.
Iterating a Dataset (`iter(ds)`, a `for` loop, `as_numpy_iterator()`) starts a fresh run of
the whole chain, so every epoch starts again from the source; nothing is computed between
the `yield`s that nobody asked for (except in `prefetch`, whose point is to compute ahead).

Elements have TensorFlow's structure: a single array, a tuple of arrays, or a dict of arrays
(nested as you built them). `map` and `filter` call your function as TF does: `fn(*element)`
for a tuple, `fn(element)` otherwise. Elements are NumPy arrays (scalars as NumPy scalars,
e.g. `np.int64(3)`, like `as_numpy_iterator` in TF); Python ints become int32 and Python
floats float32, as in TensorFlow.

`cardinality()` is the number of elements when it can be known without running the
pipeline, else `INFINITE_CARDINALITY` (-1, e.g. after `repeat()`) or `UNKNOWN_CARDINALITY`
(-2, e.g. after `filter`, which cannot know how many elements pass). Each stage computes it
from its upstream's exactly as TensorFlow does.

This is a small, readable pipeline, not a tf.data clone: stages run in the calling thread
(`num_parallel_calls` is accepted and runs sequentially), except `prefetch`, which runs its
whole upstream in one background thread.
"""
import itertools
import queue
import threading

import numpy as np

from scratchnet import backend

AUTOTUNE = -1                 # tf.data.AUTOTUNE: "pick a good value for me"
INFINITE_CARDINALITY = -1     # tf.data.INFINITE_CARDINALITY
UNKNOWN_CARDINALITY = -2      # tf.data.UNKNOWN_CARDINALITY

_AUTOTUNE_PREFETCH = 2        # what prefetch(AUTOTUNE) buffers: enough to overlap one step


# --- element structures: a leaf array, or tuples / dicts of structures --------------------

def _map_structure(fn, *structures):
    """fn applied leaf by leaf to structures of the same shape (tuples and dicts nest)."""
    first = structures[0]
    if isinstance(first, tuple):
        return tuple(_map_structure(fn, *parts) for parts in zip(*structures))
    if isinstance(first, dict):
        return {key: _map_structure(fn, *(s[key] for s in structures)) for key in first}
    return fn(*structures)


def _leaves(structure):
    """The arrays of a structure, in order."""
    if isinstance(structure, tuple):
        return [leaf for part in structure for leaf in _leaves(part)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in _leaves(structure[key])]
    return [structure]


def _pack(structure, leaves):
    """The structure with its leaves replaced, in order, by `leaves` (inverse of _leaves)."""
    remaining = iter(leaves)
    return _map_structure(lambda _: next(remaining), structure)


def _to_array(value):
    """A leaf as TensorFlow converts it: arrays keep their dtype, Python ints become int32
    and Python floats float32 (NumPy alone would make them int64 / float64)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value
    array = np.asarray(value)
    if array.dtype == np.float64:
        return array.astype(np.float32)
    if array.dtype == np.int64 and (array.size == 0 or
                                    np.abs(array).max() <= np.iinfo(np.int32).max):
        return array.astype(np.int32)
    return array


def _as_structure(value):
    """A value a user gave (or a map function returned) as an element structure: tuples and
    dicts stay, lists inside `map` results become tuples (as in TF), leaves become arrays."""
    if isinstance(value, (tuple, list)):
        return tuple(_as_structure(part) for part in value)
    if isinstance(value, dict):
        return {key: _as_structure(part) for key, part in value.items()}
    return _to_array(value)


def _slices_structure(value):
    """from_tensor_slices's input: tuples and dicts are structures, anything else (a list
    included) is one array."""
    if isinstance(value, tuple):
        return tuple(_slices_structure(part) for part in value)
    if isinstance(value, dict):
        return {key: _slices_structure(part) for key, part in value.items()}
    return _to_array(value)


def _call(fn, element):
    """Call a user function on an element the way tf.data does: a tuple is unpacked."""
    return fn(*element) if isinstance(element, tuple) else fn(element)


def ahead(make_iterator, size, name="scratchnet.data prefetch"):
    """The elements of `make_iterator()`, computed up to `size` ahead by one background
    thread, in order. The thread stops as soon as the consumer stops (the end, a `break`, an
    error, garbage collection); an error in the producer is raised here, in the consumer.
    Used by `Dataset.prefetch` and by fit's loading of a PyDataset (models/batches.py)."""
    if size == 0:                       # nothing to buffer: no thread either
        yield from make_iterator()
        return
    ready = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item):
        # Wait for room in the queue, but give up once the consumer has stopped.
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def produce():
        upstream = make_iterator()
        try:
            for element in upstream:
                if not put(("element", element)):
                    return
            put(("end", None))
        except BaseException as error:      # handed to the consumer to raise
            put(("error", error))
        finally:
            _close(upstream)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            kind, value = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:                            # normal end, break, error or garbage collection
        stop.set()
        worker.join()


def _check_int(method, argument, value, minimum):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"Dataset.{method}: {argument} must be an int, received {value!r} "
                        f"of type {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"Dataset.{method}: {argument} must be >= {minimum}, received "
                         f"{value}")
    return int(value)


def _check_callable(method, fn):
    if not callable(fn):
        raise TypeError(f"Dataset.{method}: expected a function, received {fn!r} of type "
                        f"{type(fn).__name__}")


def _check_parallel_calls(method, num_parallel_calls):
    if num_parallel_calls is not None and num_parallel_calls != AUTOTUNE:
        _check_int(method, "num_parallel_calls", num_parallel_calls, 1)


def _close(iterator):
    """Stop a generator now (runs its `finally` blocks, e.g. prefetch's thread shutdown)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


# --- the Dataset ---------------------------------------------------------------------------

class Dataset:
    """A lazy sequence of elements: iterate it (any number of times) to run the pipeline.

    Build one with `from_tensor_slices`, `from_tensors`, `range` or `zip`, then chain stages.
    """

    def __init__(self, generate, cardinality, leading_dim=None):
        # generate(): a fresh iterator over the elements (one run of the pipeline).
        # cardinality: the element count, or INFINITE_CARDINALITY / UNKNOWN_CARDINALITY.
        # leading_dim: the first dimension every element's arrays share, when known without
        #   running the pipeline (TF's static shape; unbatch's cardinality needs it).
        self._generate = generate
        self._cardinality = int(cardinality)
        self._leading_dim = leading_dim

    # --- sources ---------------------------------------------------------------------------

    @staticmethod
    def from_tensor_slices(tensors, name=None):
        """One element per row: `tensors` (an array, or a tuple / dict of arrays, nested)
        cut along its first dimension, which all its arrays must share."""
        structure = _slices_structure(tensors)
        leaves = _leaves(structure)
        for leaf in leaves:
            if leaf.ndim == 0:
                raise ValueError("Dataset.from_tensor_slices: every array needs a first "
                                 f"dimension to slice; received a scalar {leaf!r}")
        sizes = {leaf.shape[0] for leaf in leaves}
        if len(sizes) > 1:
            shapes = ", ".join(str(leaf.shape) for leaf in leaves)
            raise ValueError("Dataset.from_tensor_slices: all arrays must have the same size "
                             f"in their first dimension; received shapes {shapes}")
        count = leaves[0].shape[0]
        inner = {leaf.shape[1] if leaf.ndim > 1 else None for leaf in leaves}

        def generate():
            for i in range(count):
                yield _map_structure(lambda array: array[i], structure)

        return Dataset(generate, count, inner.pop() if len(inner) == 1 else None)

    @staticmethod
    def from_tensors(tensors, name=None):
        """A dataset of exactly one element: `tensors` itself (an array or a structure)."""
        structure = _slices_structure(tensors)
        firsts = {leaf.shape[0] if leaf.ndim else None for leaf in _leaves(structure)}

        def generate():
            yield structure

        return Dataset(generate, 1, firsts.pop() if len(firsts) == 1 else None)

    @staticmethod
    def range(*args, dtype=np.int64, name=None):
        """`Dataset.range(stop)`, `range(start, stop[, step])`: like Python's range, int64."""
        values = range(*args)

        def generate():
            for value in values:
                yield np.dtype(dtype).type(value)

        return Dataset(generate, len(values))

    @staticmethod
    def zip(*args, datasets=None, name=None):
        """Elements of several datasets side by side, in the structure you pass:
        `zip(a, b)` or `zip((a, b))` gives (a_i, b_i), `zip({"x": a, "y": b})` a dict. Stops
        with the shortest dataset."""
        if datasets is None:
            if not args:
                raise TypeError("Dataset.zip: expected datasets, received none")
            datasets = args[0] if len(args) == 1 else tuple(args)
        elif args:
            raise TypeError("Dataset.zip: pass the datasets either positionally or as "
                            "`datasets=`, not both")
        if isinstance(datasets, list):
            datasets = tuple(datasets)
        members = _leaves(datasets)
        for member in members:
            if not isinstance(member, Dataset):
                raise TypeError("Dataset.zip: expected a (nested) tuple or dict of Datasets, "
                                f"received a {type(member).__name__} among them")

        def generate():
            iterators = [iter(member) for member in members]
            try:
                while True:
                    values = []
                    for iterator in iterators:
                        try:
                            values.append(next(iterator))
                        except StopIteration:       # the shortest dataset ended
                            return
                    yield _pack(datasets, values)
            finally:
                for iterator in iterators:
                    _close(iterator)

        # TF: unknown if any member is unknown, else the smallest finite count (infinite if
        # all are infinite).
        counts = [member.cardinality() for member in members]
        if UNKNOWN_CARDINALITY in counts:
            cardinality = UNKNOWN_CARDINALITY
        else:
            finite = [count for count in counts if count != INFINITE_CARDINALITY]
            cardinality = min(finite) if finite else INFINITE_CARDINALITY
        return Dataset(generate, cardinality)

    # --- iteration ---------------------------------------------------------------------------

    def __iter__(self):
        """A fresh run of the pipeline."""
        return iter(self._generate())

    def as_numpy_iterator(self):
        """An iterator over the elements as NumPy values (they already are: same as iter)."""
        return iter(self)

    def cardinality(self):
        """The number of elements, INFINITE_CARDINALITY (-1) or UNKNOWN_CARDINALITY (-2)."""
        return self._cardinality

    def __len__(self):
        if self._cardinality == INFINITE_CARDINALITY:
            raise TypeError("The dataset is infinite.")
        if self._cardinality == UNKNOWN_CARDINALITY:
            raise TypeError("The dataset length is unknown.")
        return self._cardinality

    def __bool__(self):
        return True      # as in TF; without this, an empty dataset would be falsy via __len__

    def __repr__(self):
        count = {INFINITE_CARDINALITY: "infinite",
                 UNKNOWN_CARDINALITY: "unknown"}.get(self._cardinality, self._cardinality)
        return f"<scratchnet.data.Dataset cardinality={count}>"

    def _then(self, generate, cardinality=None, leading_dim=None):
        """A new stage after this one (same cardinality unless told otherwise)."""
        return Dataset(generate, self._cardinality if cardinality is None else cardinality,
                       leading_dim)

    # --- stages that transform elements -----------------------------------------------------

    def map(self, map_func, num_parallel_calls=None, deterministic=None, name=None):
        """Each element replaced by `map_func(*element)` (tuples) / `map_func(element)`.
        `num_parallel_calls` is accepted (AUTOTUNE or an int >= 1) but runs sequentially."""
        _check_callable("map", map_func)
        _check_parallel_calls("map", num_parallel_calls)

        def generate():
            for element in self:
                yield _as_structure(_call(map_func, element))

        return self._then(generate)

    def filter(self, predicate, name=None):
        """Only the elements for which `predicate` returns True (a scalar bool)."""
        _check_callable("filter", predicate)

        def generate():
            for element in self:
                keep = np.asarray(_call(predicate, element))
                if keep.shape != () or keep.dtype != np.bool_:
                    raise ValueError("Dataset.filter: the predicate must return a scalar "
                                     f"boolean, returned {keep!r}")
                if keep:
                    yield element

        return self._then(generate, UNKNOWN_CARDINALITY, self._leading_dim)

    def enumerate(self, start=0, name=None):
        """(index, element) pairs, the index an int64 counting from `start`."""
        start = _check_int("enumerate", "start", start, -2**63)

        def generate():
            for index, element in zip(itertools.count(start), self):
                yield np.int64(index), element

        return self._then(generate)

    # --- stages that group or split elements ------------------------------------------------

    def batch(self, batch_size, drop_remainder=False, num_parallel_calls=None,
              deterministic=None, name=None):
        """Consecutive elements stacked into one (a new first dimension of size batch_size);
        the last batch is smaller unless drop_remainder=True drops it."""
        batch_size = _check_int("batch", "batch_size", batch_size, 1)
        _check_parallel_calls("batch", num_parallel_calls)

        def generate():
            pending = []
            for element in self:
                pending.append(element)
                if len(pending) == batch_size:
                    yield _stack(pending)
                    pending = []
            if pending and not drop_remainder:
                yield _stack(pending)

        count = self._cardinality
        if count >= 0:
            count = count // batch_size if drop_remainder else -(-count // batch_size)
        return self._then(generate, count, batch_size if drop_remainder else None)

    def unbatch(self, name=None):
        """The inverse of batch: each element split along its first dimension."""
        def generate():
            for element in self:
                leaves = _leaves(element)
                if any(np.ndim(leaf) == 0 for leaf in leaves):
                    raise ValueError("Dataset.unbatch: every array of an element needs a first "
                                     f"dimension; received {element!r}")
                sizes = {np.shape(leaf)[0] for leaf in leaves}
                if len(sizes) > 1:
                    shapes = ", ".join(str(np.shape(leaf)) for leaf in leaves)
                    raise ValueError("Dataset.unbatch: the arrays of an element must share "
                                     f"their first dimension; received shapes {shapes}")
                for i in range(sizes.pop()):
                    yield _map_structure(lambda array: array[i], element)

        count = self._cardinality
        if count >= 0:
            # TF knows the count only when every batch's size is known without running
            # (e.g. after batch(..., drop_remainder=True)).
            count = UNKNOWN_CARDINALITY if self._leading_dim is None else count * self._leading_dim
        return self._then(generate, count)

    # --- stages that choose which elements, and how often -----------------------------------

    def take(self, count, name=None):
        """The first `count` elements (all of them when count is -1)."""
        count = _check_int("take", "count", count, -1)

        def generate():
            yield from (self if count == -1 else itertools.islice(self, count))

        n = self._cardinality
        if n == UNKNOWN_CARDINALITY:
            cardinality = n
        elif count == -1:
            cardinality = n
        elif n == INFINITE_CARDINALITY:
            cardinality = count
        else:
            cardinality = min(n, count)
        return self._then(generate, cardinality, self._leading_dim)

    def skip(self, count, name=None):
        """All but the first `count` elements (none when count is -1)."""
        count = _check_int("skip", "count", count, -1)

        def generate():
            if count == -1:
                for _ in self:          # TF runs the upstream to its end, yielding nothing
                    pass
                return
            yield from itertools.islice(self, count, None)

        n = self._cardinality
        if n < 0:
            cardinality = n
        elif count == -1:
            cardinality = 0
        else:
            cardinality = max(0, n - count)
        return self._then(generate, cardinality, self._leading_dim)

    def repeat(self, count=None, name=None):
        """The dataset `count` times over (forever when count is None or -1): each repetition
        is a fresh run of the upstream pipeline (so a shuffle reshuffles)."""
        count = -1 if count is None else _check_int("repeat", "count", count, -1)

        def generate():
            epoch = 0
            while count == -1 or epoch < count:
                empty = True
                for element in self:
                    empty = False
                    yield element
                if empty:               # repeating nothing forever is still nothing
                    return
                epoch += 1

        n = self._cardinality
        if count == -1:
            cardinality = 0 if n == 0 else INFINITE_CARDINALITY
        elif count == 0:
            cardinality = 0
        elif n < 0:
            cardinality = n
        else:
            cardinality = n * count
        return self._then(generate, cardinality, self._leading_dim)

    def shuffle(self, buffer_size, seed=None, reshuffle_each_iteration=None, name=None):
        """Elements in random order, from a buffer of `buffer_size` elements: fill the buffer,
        then repeatedly hand out a random one and put the next upstream element in its place.
        A buffer as large as the dataset gives a uniform shuffle; a smaller one only mixes
        nearby elements (cheap on memory).

        The random numbers come from a NumPy Generator seeded with `seed` (or, without one,
        with a number drawn from scratchnet's generator, so `tf.random.set_seed` makes it
        reproducible). reshuffle_each_iteration (default True): each run (epoch) of the
        pipeline continues the same random stream, so each epoch has a new order; False
        restarts the stream each run: every epoch has the same order."""
        buffer_size = _check_int("shuffle", "buffer_size", buffer_size, 1)
        if seed is None:
            seed = int(backend.rng().integers(2**63))
        else:
            seed = _check_int("shuffle", "seed", seed, 0)
        reshuffle = True if reshuffle_each_iteration is None else bool(reshuffle_each_iteration)
        stream = np.random.default_rng(seed)      # shared by all runs when reshuffling

        def generate():
            rng = stream if reshuffle else np.random.default_rng(seed)
            buffer = []
            for element in self:
                if len(buffer) < buffer_size:
                    buffer.append(element)
                    continue
                pick = int(rng.integers(buffer_size))
                yield buffer[pick]
                buffer[pick] = element
            while buffer:                         # upstream done: empty the buffer
                pick = int(rng.integers(len(buffer)))
                yield buffer[pick]
                buffer[pick] = buffer[-1]
                buffer.pop()

        return self._then(generate, leading_dim=self._leading_dim)

    # --- stages about when work happens -------------------------------------------------------

    def cache(self, filename="", name=None):
        """Remember the elements of the first complete run; later runs replay them instead of
        running the upstream again (e.g. a slow `map` runs in the first epoch only). A run
        stopped early caches nothing. Only the in-memory cache (filename="") exists here."""
        if filename:
            raise NotImplementedError("Dataset.cache: scratchnet caches in memory only; "
                                      f"received filename={filename!r}, expected ''")
        cached = []         # the elements, once one run went through to the end

        def generate():
            if cached:
                yield from cached[0]
                return
            seen = []
            for element in self:
                seen.append(element)
                yield element
            if not cached:
                cached.append(seen)

        return self._then(generate, leading_dim=self._leading_dim)

    def prefetch(self, buffer_size, name=None):
        """Compute ahead: a background thread runs the upstream pipeline and keeps up to
        `buffer_size` elements ready (AUTOTUNE: 2), so e.g. the next batch is prepared while
        the model trains on this one. The thread stops as soon as the iteration ends, early
        (`break`) or not; an error in the upstream is raised here, in the consumer."""
        if buffer_size != AUTOTUNE:
            buffer_size = _check_int("prefetch", "buffer_size", buffer_size, 0)
        size = _AUTOTUNE_PREFETCH if buffer_size == AUTOTUNE else buffer_size

        def generate():
            return ahead(lambda: iter(self), size)

        return self._then(generate, leading_dim=self._leading_dim)


def _stack(elements):
    """A batch: the elements' arrays stacked along a new first axis, leaf by leaf."""
    def stack(*arrays):
        shapes = [np.shape(array) for array in arrays]
        for i, shape in enumerate(shapes):
            if shape != shapes[0]:
                raise ValueError("Dataset.batch: cannot batch arrays of different shapes: the "
                                 f"first element had shape {shapes[0]} and element {i} had "
                                 f"shape {shape} (pad them, or batch(1))")
        return np.stack(arrays)

    return _map_structure(stack, *elements)

"""`tf.GradientTape`: reverse-mode automatic differentiation, one recorded operation at a time.

    w = tf.Variable(2.0)
    with tf.GradientTape() as tape:        # start recording
        y = w * w + 3.0                    # each operation is run AND written down
    tape.gradient(y, w)                    # -> 4.0 (= 2w), by reading the record backwards

Step by step -- the same idea as the layers' backward (layers/base.py), only finer:

1. Recording. While the tape is open, every operation on a *tracked* value (a watched tensor,
   a trainable Variable that was read, or anything computed from one) appends a node to the
   tape: which values went in, which value came out, and a `backward` function -- the
   operation's chain rule, `dL/d(inputs) = backward(dL/d(output))`. `w * w` records
   `multiply` with backward `dy -> (dy * w, w * dy)`; `+ 3.0` records `add` (the constant is
   not tracked, so it gets no gradient).
2. Seeding. `tape.gradient(y, w)` starts with dy/dy = 1 (ones shaped like y: a non-scalar
   target is differentiated as the sum of its elements, as in TensorFlow).
3. Walking back. The nodes are visited newest first -- every consumer of a value is newer
   than the value -- so when a node is reached, dL/d(its output) is complete: it is passed to
   the node's backward, and the results are ADDED to dL/d(each input). A value used twice
   (`w * w`) thus gets both contributions: 2w.
4. Broadcasting. If an input was broadcast (a bias (3,) added to a batch (n, 3)), its
   gradient is summed back over the broadcast axes to its own shape (`unbroadcast`).
5. Reading off. dL/d(source) for each requested source; None when no path connects the
   source to the target (TensorFlow's answer; `unconnected_gradients='zero'` gives zeros).

Layers and models are nodes too. `model(x)` inside a tape runs the model's own forward pass
and records ONE node whose backward is the model's backward (the Plan or tape of layer calls
of engine/): the layers' hand-written backward passes compute dL/dx and the weight gradients,
which land in the tape's `sink` (Layer.add_grad) and become the gradients of
`model.trainable_variables`. A layer written as `call` of tf operations (a custom layer with
no backward, e.g. `tf.nn.conv2d(x, self.kernel) + self.bias`) is differentiated by a tape of
its own: that is how it trains inside `fit` too (Layer.forward / Layer.backward).

A tape is used once (`persistent=True` keeps it for several `gradient` calls); operations
run while it is paused (`with tape.stop_recording():`) are not recorded.
"""
import contextlib

import numpy as np

from scratchnet.tensors import Tensor, Variable, plain

_recording = []        # the open tapes that record, innermost last


def _key(value):
    """What identifies a value on a tape: the memory of a Variable (its `_storage`, shared
    by the weight array of a layer), the object itself for anything else."""
    storage = getattr(value, "_storage", None)
    return id(storage) if storage is not None else id(value)


def unbroadcast(grad, shape):
    """Sum `grad` over the axes broadcasting added or stretched to reach `shape`."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, d in enumerate(shape) if d == 1 and grad.shape[extra + i] != 1)
    summed = grad.sum(axis=axes, keepdims=True) if axes else grad
    return summed.reshape(shape)


def _flatten(structure):
    if isinstance(structure, dict):
        return [leaf for key in sorted(structure) for leaf in _flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in _flatten(item)]
    return [structure]


def _pack(structure, leaves):
    if isinstance(structure, dict):
        return {key: _pack(structure[key], leaves) for key in sorted(structure)}
    if isinstance(structure, (list, tuple)):
        packed = [_pack(item, leaves) for item in structure]
        return packed if isinstance(structure, list) else tuple(packed)
    return next(leaves)


class _Node:
    __slots__ = ("name", "inputs", "shapes", "output", "backward")

    def __init__(self, name, inputs, shapes, output, backward):
        self.name = name            # the operation's name ("MatMul", "dense", ...)
        self.inputs = inputs        # the inputs' keys (None: not tracked, gets no gradient)
        self.shapes = shapes        # the inputs' shapes (to unbroadcast their gradients)
        self.output = output        # the output's key (a tuple of keys: several outputs)
        self.backward = backward    # dL/d(output) -> [dL/d(input) or None, ...]


class GradientTape:
    """Records operations on tracked values; `gradient` differentiates them (see above)."""

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._nodes = []
        self._tracked = {}          # key -> the value (kept alive, so keys stay unique)
        self._variables = {}        # key -> watched Variable (or weight array), in order
        self._used = False
        self._internal = False      # True for the tape of a layer's own call (Layer.forward)

    # ---- recording ----------------------------------------------------------------------
    def __enter__(self):
        _recording.append(self)
        return self

    def __exit__(self, *exc):
        if self in _recording:
            _recording.remove(self)
        return False

    @contextlib.contextmanager
    def stop_recording(self):
        """Operations inside this block are not recorded on this tape."""
        if self not in _recording:
            raise ValueError("stop_recording: the tape is not recording (use it inside "
                             "`with tf.GradientTape() as tape:`)")
        position = _recording.index(self)
        _recording.remove(self)
        try:
            yield
        finally:
            _recording.insert(position, self)

    def watch(self, tensor):
        """Track `tensor` (a Tensor, Variable, array, or nested lists/tuples/dicts of them), so
        that operations on it are recorded and it can be a source of `gradient`."""
        for value in _flatten(tensor):
            if not isinstance(value, np.ndarray):
                raise ValueError(f"GradientTape.watch: expected a tensor (a tf.constant, a "
                                 f"tf.Variable or an array), received {value!r}")
            if value.dtype.kind != "f":
                continue              # (TensorFlow watches only floating-point tensors)
            self._tracked[_key(value)] = value
            if isinstance(value, Variable) or type(value) is np.ndarray:
                self._variables.setdefault(_key(value), value)

    def watched_variables(self):
        """The Variables this tape watches (read while recording, or watched)."""
        return tuple(v for v in self._variables.values() if isinstance(v, Variable))

    def reset(self):
        """Forget everything recorded so far (the tape keeps recording)."""
        self._nodes, self._tracked, self._variables = [], {}, {}
        self._used = False

    def _input_key(self, value):
        """The key of `value` if this tape tracks it (watching a trainable Variable read for
        the first time), else None."""
        key = _key(value)
        if key in self._tracked:
            return key
        if (self._watch_accessed and isinstance(value, Variable) and value.trainable
                and value.dtype.kind == "f"):
            self._tracked[key] = value
            self._variables.setdefault(key, value)
            return key
        return None

    def _record(self, name, inputs, output, backward):
        keys = [self._input_key(x) for x in inputs]
        if all(k is None for k in keys):
            return False
        self._tracked[id(output)] = output
        shapes = [np.shape(x) for x in inputs]
        self._nodes.append(_Node(name, keys, shapes, id(output), backward))
        return True

    def _record_weights(self, weights):
        """Keys for a layer call's trainable weight arrays (watched when the tape watches
        accessed variables or was told to watch them)."""
        keys = []
        for w in weights:
            key = id(w)
            if key not in self._tracked and self._watch_accessed:
                self._tracked[key] = w
                self._variables.setdefault(key, w)
            keys.append(key if key in self._tracked else None)
        return keys

    # ---- differentiating ---------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients="none"):
        """dL/d(source) for each source (same nesting as `sources`), L = the sum of
        `target`'s elements (weighted by `output_gradients` when given)."""
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("GradientTape.gradient: unconnected_gradients must be 'none' "
                             f"or 'zero', received {unconnected_gradients!r}")
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute "
                               "one set of gradients (or jacobians); use "
                               "tf.GradientTape(persistent=True) to call gradient() again")
        targets = _flatten(target)
        seeds = [None] * len(targets) if output_gradients is None else _flatten(
            output_gradients)
        if len(seeds) != len(targets):
            raise ValueError(f"GradientTape.gradient: {len(targets)} targets but "
                             f"{len(seeds)} output_gradients")
        source_list = _flatten(sources)
        for s in source_list:
            if not isinstance(s, np.ndarray):
                raise ValueError(f"GradientTape.gradient: sources must be tensors or "
                                 f"variables, received {s!r}")
        self._used = True
        saved, _recording[:] = list(_recording), []      # backward itself is not recorded
        # Layer nodes' weight gradients arrive through Layer.add_grad: into this sink (a
        # tape of the user's) or, for the tape of a layer's own call, into whatever collects
        # them around it (the layers' gradient lists in fit, or an outer tape's sink).
        sink = None if self._internal else {}
        if sink is not None:
            _sinks.append(sink)
        try:
            grads = {}
            for t, seed in zip(targets, seeds):
                if t is None or not isinstance(t, np.ndarray):
                    continue
                key = _key(t)
                if key not in self._tracked:
                    continue
                g = np.ones(np.shape(t), np.asarray(t).dtype) if seed is None else \
                    np.asarray(plain(seed), dtype=np.asarray(t).dtype).reshape(np.shape(t))
                grads[key] = grads[key] + g if key in grads else g
            for node in reversed(self._nodes):
                if isinstance(node.output, tuple):       # a model with several outputs
                    dy = [grads.get(k) for k in node.output]   # (None: no loss on it)
                    if all(d is None for d in dy):
                        continue
                else:
                    dy = grads.get(node.output)
                    if dy is None:
                        continue
                for key, shape, g in zip(node.inputs, node.shapes, node.backward(dy)):
                    if key is None or g is None:
                        continue
                    g = unbroadcast(np.asarray(g), shape)
                    grads[key] = grads[key] + g if key in grads else g
        finally:
            _recording[:] = saved
            if sink is not None:
                _sinks.pop()
        for key, g in (sink or {}).items():
            grads[key] = grads[key] + g if key in grads else g
        if not self._persistent:
            self._nodes = []
        results = []
        for s in source_list:
            g = grads.get(_key(s))
            if g is None and unconnected_gradients == "zero":
                g = np.zeros(np.shape(s), s.dtype)
            if g is not None:
                g = Tensor._from(np.asarray(g, dtype=s.dtype if s.dtype.kind == "f"
                                            else g.dtype).copy())
            results.append(g)
        if not isinstance(sources, (list, tuple, dict)):
            return results[0]
        return _pack(sources, iter(results))

    def jacobian(self, target, sources, **kwargs):
        raise NotImplementedError("GradientTape.jacobian is not in scratchnet: differentiate "
                                  "one output at a time with gradient(target[i], sources)")


# ---- what operations call -----------------------------------------------------------------
def recording():
    """True when some open tape records (operations then check whether to record)."""
    return bool(_recording)


def record(name, inputs, output, backward):
    """Note an operation on every open tape that tracks one of `inputs`; `output` is the
    Tensor it made, `backward(dy)` its chain rule (a gradient or None per input)."""
    recorded = False
    for tape in _recording:
        recorded = tape._record(name, inputs, output, backward) or recorded
    return recorded


def tracked(inputs):
    """True when an open tape tracks one of `inputs` (or would watch it on reading)."""
    return any(tape._input_key(x) is not None for tape in _recording for x in inputs
               if isinstance(x, np.ndarray))


@contextlib.contextmanager
def only(tape):
    """Record on `tape` alone inside this block (a custom layer differentiates its own call
    with its own tape; the outer tapes see the layer call as one node)."""
    saved, _recording[:] = list(_recording), [tape]
    try:
        yield tape
    finally:
        _recording[:] = saved


@contextlib.contextmanager
def paused():
    """Record nothing inside this block."""
    saved, _recording[:] = list(_recording), []
    try:
        yield
    finally:
        _recording[:] = saved


# ---- layer calls on a tape: their weight gradients go to a sink -----------------------------
_sinks = []     # while a tape's gradient() runs: {id(weight array): dL/dweight} (add_grad)


def record_layer_call(layer, inputs, output, cache):
    """Record `layer`'s call (forward already run: `output`, `cache`) on the open tapes as one
    node whose backward is the layer's own: it returns dL/dx, and the weight gradients it
    computes (Layer.add_grad) go to the sink of the `gradient` call running it."""
    weights = layer.trainable_weights
    takes_list = isinstance(inputs, list)
    xs = inputs if takes_list else [inputs]
    outputs = output if isinstance(output, list) else [output]
    need_dx = tracked(xs)

    reusable = getattr(layer, "_reusable_cache", None)     # (a model: see Model)

    def backward(dy):
        dx = layer.backward(dy, reusable(cache) if reusable else cache,
                            need_input_grad=need_dx)
        return (dx if takes_list else [dx]) if need_dx else [None] * len(xs)

    for tape in _recording:
        keys = [tape._input_key(x) for x in xs]
        weight_keys = tape._record_weights(weights)
        if all(k is None for k in keys + weight_keys):
            continue
        for out in outputs:
            tape._tracked[id(out)] = out
        output_keys = id(outputs[0]) if len(outputs) == 1 else tuple(map(id, outputs))
        tape._nodes.append(_Node(layer.name, keys, [np.shape(x) for x in xs], output_keys,
                                 backward))

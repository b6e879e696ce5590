"""Buffer reuse, keyed per layer call: performance machinery the layers' lessons never see.

A layer's forward and backward create their results (y, dL/dx, big intermediates such as
Conv2D's im2col matrix) with `workspace.array(name, shape, dtype)`. Called on its own -- a
student's `layer.forward(x)` -- that is just `np.empty`. Inside a model the engine gives each
layer CALL (a node of the graph, an entry of a subclassed model's tape) a `Workspace` of its
own and makes it the active one while that call runs: then `array` hands back the array the
same call got in the previous step (its first rows, for a smaller last batch), so nothing
big is allocated step after step.

Why it pays: at batch 256 the Coursera CNN's first Conv2D output is 44 MB, above glibc's
largest mmap threshold (32 MB), so every fresh array is new pages that the kernel must fault
in and zero: np.empty + fill of 44 MB took 5.8 ms, refilling a reused one 1.5 ms (2-core dev
machine), paid for y and again for max pooling's dL/dx, every step.

Why per call and not per layer: a layer called twice in one step (a shared layer, one
MaxPooling2D object used twice in LeNet-5's `call`) must not overwrite what its first call
keeps for backward. A model used as a layer passes its call's workspace down, and its own
calls take children of it (`Workspace.child`), so a nested model called twice is exact too.

The engine never lets a model's *output* come from a workspace (the caller keeps it), and
it activates workspaces only around its own calls; `thread_scratch` is different: scratch
space a chunk of work uses and drops within one call (per thread, shared by all calls).
"""
import threading
import weakref

import numpy as np

_active = None            # the Workspace of the layer call running now inside a model


class Workspace:
    """The reusable arrays of one layer call (by name), and the workspaces of the calls a
    model makes inside it (by step key)."""

    __slots__ = ("arrays", "children")

    def __init__(self):
        self.arrays = {}
        self.children = {}

    def child(self, key):
        ws = self.children.get(key)
        if ws is None:
            ws = self.children[key] = Workspace()
        return ws

    def array(self, name, shape, dtype, make=None):
        shape = tuple(shape)
        buf = self.arrays.get(name)
        if (buf is None or buf.dtype != dtype or buf.shape[1:] != shape[1:]
                or buf.shape[0] < shape[0]):
            buf = self.arrays[name] = (make or aligned_empty)(shape, dtype)
        return buf[:shape[0]] if buf.shape[0] != shape[0] else buf


def array(name, shape, dtype, make=None):
    """An array for a result called `name` of the running layer call: reused from the call's
    workspace inside a model, else new. `make(shape, dtype)` makes a new one (`aligned_empty` by
    default; Conv2D lays its im2col matrix out its own way). Its contents are garbage."""
    ws = _active
    if ws is None:
        return (make or aligned_empty)(tuple(shape), dtype)
    return ws.array(name, shape, dtype, make)


def active():
    """The workspace of the layer call running now (None outside a model's step)."""
    return _active


def activate(ws):
    """Make `ws` the active workspace; returns the one it replaces (give it to `activate`
    again afterwards, in a `finally`)."""
    global _active
    previous, _active = _active, ws
    return previous


_roots = weakref.WeakKeyDictionary()


def root_for(model):
    """The workspace a model's top-level runs (fit, evaluate, predict) hang their calls'
    workspaces on: one per model, kept while the model lives."""
    try:
        return _roots[model]
    except KeyError:
        ws = _roots[model] = Workspace()
        return ws


_scratch = {}
ALIGN = 64


def aligned_empty(shape, dtype):
    """np.empty(shape, dtype) starting on an ALIGN-byte boundary. BLAS may round a product
    differently depending on where its operands start in memory (OpenBLAS's matrix-vector
    kernels, used for one filter, do): scratch arrays that always start on the same
    boundary make a thread's result the same bits as any other thread's."""
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    raw = np.empty(nbytes + ALIGN, np.uint8)
    start = -raw.ctypes.data % ALIGN
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def thread_scratch(name, shape, dtype, make=None):
    """The calling thread's scratch array `name` (at least `shape`: grown when too small; its
    first shape[0] rows), made by make(shape, dtype) (default: `aligned_empty`). For work
    within one call only: chunks of work on different threads never share one, and the next
    call may overwrite it."""
    shape = tuple(shape)
    key = (threading.get_ident(), name, shape[1:], np.dtype(dtype).str)
    buf = _scratch.get(key)
    if buf is None or buf.shape[0] < shape[0]:
        buf = _scratch[key] = (make or aligned_empty)(shape, dtype)
    return buf[:shape[0]]

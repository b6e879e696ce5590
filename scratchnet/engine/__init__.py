"""The engine: how a model runs forward and backpropagates, whatever kind of model it is.

    symbolic.py   symbolic tensors (`Input(...)`) and the graph of layer calls they record
    graph.py      a Functional / Sequential model's graph laid out as a Plan: run it forward,
                  backpropagate in reverse (fan-out gradients summed), fuse Conv2D + pooling
    tape.py       a subclassed model's `call` run on traced tensors: every layer call recorded
                  on a tape, which backward reads in reverse
    ops.py        x + y, x * y, x / y, -x, x[...] on model tensors, differentiated
    context.py    the `training` flag passed down through every call
    workspace.py  buffer reuse keyed per layer call (performance machinery, not the lesson)

The layers themselves (scratchnet/layers) know nothing of this: each is a pure pair
`forward(x) -> (y, cache)`, `backward(dy, cache) -> dx`.
"""

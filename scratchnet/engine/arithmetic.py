"""`TensorArithmetic`: what `x + y`, `2 * x`, `x / y`, `-x` and `x[...]` do to a model's tensors.

Shared by the symbolic tensors of a Functional model (engine/symbolic.py) and the traced ones
of a subclassed model's `call` (engine/tape.py): each operator records an Operation
(engine/ops.py) that forward computes and backward differentiates.
"""


def _ops():
    from scratchnet.engine import ops      # (imported late: ops.py builds on layers/base.py)
    return ops


class TensorArithmetic:
    """+ - * / and unary minus, reflected forms included, and slicing -- for the symbolic
    tensors of a Functional model and the traced ones of a subclassed model's `call`: each
    records an Operation (engine/ops.py)."""

    __slots__ = ()

    def __add__(self, other):
        return _ops().binary("add", self, other)

    def __radd__(self, other):
        return _ops().binary("add", other, self)

    def __sub__(self, other):
        return _ops().binary("subtract", self, other)

    def __rsub__(self, other):
        return _ops().binary("subtract", other, self)

    def __mul__(self, other):
        return _ops().binary("multiply", self, other)

    def __rmul__(self, other):
        return _ops().binary("multiply", other, self)

    def __truediv__(self, other):
        return _ops().binary("divide", self, other)

    def __rtruediv__(self, other):
        return _ops().binary("divide", other, self)

    def __neg__(self):
        return _ops().unary("negative", self)

    def __pos__(self):
        return self

    def __getitem__(self, key):
        return _ops().getitem(self, key)

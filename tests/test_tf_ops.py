"""TensorFlow's operations on tensors (scratchnet/ops/, scratchnet/random.py) against TensorFlow
itself: each op's values and dtype AND its gradient through tf.GradientTape, on
Hypothesis-drawn shapes, broadcasting, axes, window sizes and dtypes.

One function, two libraries. Every case is a function of this module written once,
`def f(T, *inputs)`, and run with T = scratchnet and with T = tensorflow by
`forward_and_gradients`: the same NumPy arrays become T.constant inputs (or T.Variables),
f runs under `T.GradientTape` watching them, its output y is reduced to
L = sum(y * w) with a fixed random w, and `assert_parity` compares y and dL/d(each input)
-- None wherever TensorFlow has no gradient -- through parity_log.check (tolerances.py).

Values. float64 cases use normal random numbers: they check the arithmetic (the same
formulas agree to ~1e-12 at worst, far inside 1e-9). float32 cases use multiples of 1/8 in
[-2, 2] (and w too): their products and sums are exact in float32, so outputs and gradients
that are sums (matmul, reductions, gradients summed over broadcast axes, convolution) do
not depend on the order of summation -- with random float32 data two correct
implementations differ by ~1e-7 absolute, more than 1e-4 of a sum that happens to cancel.
Coarse grids (multiples of 1/2 in [-1, 1]) make ties on purpose: maximum/minimum,
reduce_max, argmax, max pooling send a tie's gradient where TensorFlow sends it.

Not parity (different generators): tf.random and tf.nn.dropout are checked for their rules
-- shapes, dtypes, ranges, statistics, seeding -- and the dropout gradient for being the
mask's scaling. Bad inputs must raise one ValueError/TypeError naming the operation.

Where TensorFlow refuses and scratchnet is lenient, nothing here pins either way: float32
tensor + float64 tensor (scratchnet promotes to float64), an integer tensor beside a Python
or NumPy float (`n * 0.5`: float64), tf.sqrt/exp/log of integers (float32), reduce_max of
booleans. tf.gather's gradient is a dense tensor here, TensorFlow's an IndexedSlices (the
test densifies TF's).
"""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import scratchnet as sn
from parity_log import check
from scratchnet.layers.padding import output_length
from tf_support import import_tf

tf = import_tf()

DTYPES = ("float32", "float64")
dtypes = st.sampled_from(DTYPES)
seeds = st.integers(0, 2**32 - 1)


# ---- values ----------------------------------------------------------------------------------
def make_values(rng, shape, dtype, kind="any"):
    """Test data (see the module docstring). kind: 'any' (exact 1/8-grid in float32, normal
    numbers in float64), 'coarse' (multiples of 1/2 in [-1, 1]: ties everywhere), 'positive'
    (>= 1/8: sqrt, log, pow's base), 'nonzero' (|v| >= 1/2: divisors)."""
    if kind == "coarse":
        x = rng.integers(-2, 3, shape) / 2
    elif kind == "positive":
        x = rng.integers(1, 25, shape) / 8 if dtype == "float32" else rng.uniform(0.1, 3, shape)
    else:
        x = rng.integers(-16, 17, shape) / 8 if dtype == "float32" else rng.normal(size=shape)
        if kind == "nonzero":
            x = np.where(x < 0, -0.5, 0.5) + x
    return np.asarray(x, dtype=dtype)


def weights_like(shape, dtype, seed):
    """The fixed random w of L = sum(y * w): the same for both libraries."""
    return make_values(np.random.default_rng([seed, 7]), shape, dtype)


def _np_dtype(t):
    """A tensor's dtype as NumPy's (TensorFlow's DType or NumPy's own)."""
    return np.dtype(getattr(t.dtype, "as_numpy_dtype", t.dtype))


def forward_and_gradients(T, f, arrays, seed=0, variables=False):
    """Run f(T, *inputs) on the arrays under T.GradientTape: (y, [dL/d(input) or None]) as
    NumPy arrays, L = sum(y * w). Float inputs are T.constant's the tape watches, or
    T.Variables (watched because the tape sees them read); other inputs are plain
    constants. An integer or boolean y has no gradient: its list is empty."""
    inputs = [T.Variable(a) if variables and a.dtype.kind == "f" else T.constant(a)
              for a in arrays]
    with T.GradientTape() as tape:
        for x in inputs:
            if not variables and _np_dtype(x).kind == "f":
                tape.watch(x)
        y = f(T, *inputs)
        floating = _np_dtype(y).kind == "f"
        if floating:
            w = T.constant(weights_like(tuple(y.shape), _np_dtype(y).name, seed))
            loss = T.reduce_sum(y * w)
    grads = tape.gradient(loss, inputs) if floating else []
    # (TF's gather gradient is an IndexedSlices -- sparse rows; scratchnet's is dense)
    grads = [T.convert_to_tensor(g) if hasattr(g, "indices") else g for g in grads]
    return np.asarray(y.numpy()), [None if g is None else np.asarray(g.numpy()) for g in grads]


def expect_same(actual, expected, what, area):
    """scratchnet's array equals TensorFlow's: the same dtype and shape; floats within
    tolerance (logged per area), integers and booleans exactly."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype}, TensorFlow's " \
                                           f"{expected.dtype}"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape}, TensorFlow's " \
                                           f"{expected.shape}"
    if expected.dtype.kind == "f":
        check(actual, expected, expected.dtype.name, what, area)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=what)


def assert_parity(f, arrays, area, seed=0, variables=False):
    """f's output and gradients are TensorFlow's (see forward_and_gradients)."""
    y, grads = forward_and_gradients(sn, f, arrays, seed, variables)
    y_tf, grads_tf = forward_and_gradients(tf, f, arrays, seed, variables)
    expect_same(y, y_tf, f"{area}: output", area)
    assert len(grads) == len(grads_tf)
    for i, (g, g_tf) in enumerate(zip(grads, grads_tf)):
        what = f"{area}: dL/d(input {i})"
        if g_tf is None:
            assert g is None, f"{what}: TensorFlow has no gradient here, scratchnet gave one"
        else:
            assert g is not None, f"{what}: scratchnet gave no gradient, TensorFlow did"
            expect_same(g, g_tf, what, area)
    return y_tf, grads_tf


def same_result(f):
    """f(T) (a tensor or a list of tensors) compared between the two libraries."""
    ours, theirs = f(sn), f(tf)
    if isinstance(theirs, (list, tuple)):
        assert len(ours) == len(theirs)
        for i, (a, b) in enumerate(zip(ours, theirs)):
            expect_same(a.numpy(), b.numpy(), f"item {i}", "tf ops: values and dtypes")
    else:
        expect_same(ours.numpy(), theirs.numpy(), "value", "tf ops: values and dtypes")


small_shapes = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)
shapes_1_to_3 = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
broadcast_pairs = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3,
                                                max_side=4)


# ---- binary arithmetic with broadcasting -----------------------------------------------------
def t_add(T, a, b): return T.add(a, b)                       # noqa: E704 (a table of cases)
def t_subtract(T, a, b): return T.subtract(a, b)             # noqa: E704
def t_multiply(T, a, b): return T.multiply(a, b)             # noqa: E704
def t_divide(T, a, b): return T.divide(a, b)                 # noqa: E704
def t_truediv(T, a, b): return T.math.truediv(a, b)          # noqa: E704
def t_maximum(T, a, b): return T.maximum(a, b)               # noqa: E704
def t_minimum(T, a, b): return T.minimum(a, b)               # noqa: E704
def op_plus(T, a, b): return a + b                           # noqa: E704
def op_minus(T, a, b): return a - b                          # noqa: E704
def op_times(T, a, b): return a * b                          # noqa: E704
def op_over(T, a, b): return a / b                           # noqa: E704
def chain(T, a, b): return (a * b - a) / (b * b + 1.0)      # noqa: E704 (both used twice)


BINARY = {f.__name__: (f, kind_b) for f, kind_b in [
    (t_add, "any"), (t_subtract, "any"), (t_multiply, "any"), (t_divide, "nonzero"),
    (t_truediv, "nonzero"), (op_plus, "any"), (op_minus, "any"), (op_times, "any"),
    (op_over, "nonzero"), (chain, "any")]}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=broadcast_pairs, dtype=dtypes, seed=seeds, variables=st.booleans())
def test_binary_arithmetic_broadcasts_as_tensorflow(name, shapes, dtype, seed, variables):
    f, kind_b = BINARY[name]
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a, b = make_values(rng, a_shape, dtype), make_values(rng, b_shape, dtype, kind_b)
    assert_parity(f, [a, b], "tf ops: arithmetic", seed, variables)


@pytest.mark.parametrize("f", [t_maximum, t_minimum], ids=["maximum", "minimum"])
@given(shapes=broadcast_pairs, dtype=dtypes, seed=seeds)
def test_maximum_minimum_with_ties_as_tensorflow(f, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a, b = make_values(rng, a_shape, dtype, "coarse"), make_values(rng, b_shape, dtype, "coarse")
    assert_parity(f, [a, b], "tf ops: maximum/minimum", seed)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_tie_sends_the_gradient_to_x_as_tensorflow(dtype):
    """TF's rule (math_grad._MaximumMinimumGrad): maximum's x gets dy where x >= y, minimum's
    x where x <= y -- on a tie all of it goes to x, none to y."""
    x = np.array([1.0, 2.0, 3.0], dtype)
    y = np.array([1.0, 3.0, 2.0], dtype)
    for f, expect_x in ((t_maximum, [1, 0, 1]), (t_minimum, [1, 1, 0])):
        _, (gx, gy) = assert_parity(f, [x, y], "tf ops: maximum/minimum")
        w = weights_like((3,), dtype, 0)
        np.testing.assert_array_equal(gx, w * np.array(expect_x, dtype))
        np.testing.assert_array_equal(gy, w * (1 - np.array(expect_x, dtype)))


def t_pow(T, a, b): return T.pow(a, b)                       # noqa: E704
def op_pow(T, a, b): return a ** b                           # noqa: E704


@pytest.mark.parametrize("f", [t_pow, op_pow], ids=["pow", "a**b"])
@given(shapes=broadcast_pairs, dtype=dtypes, seed=seeds)
def test_pow_with_positive_bases_as_tensorflow(f, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    a_shape, b_shape = shapes.input_shapes
    a = make_values(rng, a_shape, dtype, "positive")
    b = np.asarray(rng.integers(-4, 5, b_shape) / 2, dtype)      # exponents -2 ... 2
    assert_parity(f, [a, b], "tf ops: pow", seed)


def test_pow_of_zero_and_negative_bases_as_tensorflow():
    """dL/db = dy * a^b * log(a) only where a > 0 (0 elsewhere), as TF's _PowGrad."""
    a = np.array([0.0, -2.0, 3.0, -1.5], np.float64)
    b = np.array([2.0, 2.0, 3.0, 3.0], np.float64)
    assert_parity(op_pow, [a, b], "tf ops: pow")


# ---- element-wise functions ------------------------------------------------------------------
UNARY = {
    "square": (lambda T, x: T.square(x), "any"),
    "sqrt": (lambda T, x: T.sqrt(x), "positive"),
    "exp": (lambda T, x: T.exp(x), "any"),
    "log": (lambda T, x: T.math.log(x), "positive"),
    "abs": (lambda T, x: T.abs(x), "coarse"),             # (0 included: sign(0) = 0)
    "sigmoid": (lambda T, x: T.sigmoid(x), "any"),
    "math.sigmoid": (lambda T, x: T.math.sigmoid(x), "any"),
    "tanh": (lambda T, x: T.tanh(x), "any"),
    "negative": (lambda T, x: T.negative(x), "any"),
    "-x": (lambda T, x: -x, "any"),
    "sign": (lambda T, x: T.sign(x), "coarse"),            # gradient: zeros
    "round": (lambda T, x: T.round(x), "coarse"),          # gradient: none (halves: to even)
    "floor": (lambda T, x: T.math.floor(x), "coarse"),
    "ceil": (lambda T, x: T.math.ceil(x), "coarse"),
    "identity": (lambda T, x: T.identity(x), "any"),
    "nn.relu": (lambda T, x: T.nn.relu(x), "coarse"),      # (0 included: gradient 0)
    "nn.sigmoid": (lambda T, x: T.nn.sigmoid(x), "any"),
    "nn.tanh": (lambda T, x: T.nn.tanh(x), "any"),
    "x * 0.5": (lambda T, x: x * 0.5, "any"),
    "0.5 * x": (lambda T, x: 0.5 * x, "any"),
    "2 - x": (lambda T, x: 2 - x, "any"),
    "x / 4": (lambda T, x: x / 4, "any"),
    "1 / x": (lambda T, x: 1 / x, "nonzero"),
    "x ** 2": (lambda T, x: x ** 2, "any"),
    "x ** 3": (lambda T, x: x ** 3, "any"),
    "x ** 0.5": (lambda T, x: x ** 0.5, "positive"),
    "2.0 ** x": (lambda T, x: 2.0 ** x, "any"),
    "x + x * x": (lambda T, x: x + x * x, "any"),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=small_shapes, dtype=dtypes, seed=seeds)
def test_elementwise_functions_as_tensorflow(name, shape, dtype, seed):
    f, kind = UNARY[name]
    x = make_values(np.random.default_rng(seed), shape, dtype, kind)
    assert_parity(f, [x], "tf ops: element-wise", seed)


# ---- reductions ------------------------------------------------------------------------------
REDUCTIONS = {
    "reduce_sum": lambda T, x, axis, keepdims: T.reduce_sum(x, axis, keepdims),
    "reduce_mean": lambda T, x, axis, keepdims: T.reduce_mean(x, axis=axis, keepdims=keepdims),
    "reduce_max": lambda T, x, axis, keepdims: T.reduce_max(x, axis=axis, keepdims=keepdims),
    "reduce_min": lambda T, x, axis, keepdims: T.math.reduce_min(x, axis, keepdims=keepdims),
    "reduce_prod": lambda T, x, axis, keepdims: T.reduce_prod(x, axis=axis, keepdims=keepdims),
}


@st.composite
def shape_and_axis(draw, min_dims=1):
    """A shape and an axis argument for it: None, an int (negative too) or a list of
    distinct axes."""
    shape = draw(st.lists(st.integers(1, 4), min_size=min_dims, max_size=3).map(tuple))
    rank = len(shape)
    axis = draw(st.one_of(
        st.none(), st.integers(-rank, rank - 1),
        st.lists(st.integers(0, rank - 1), unique=True, min_size=1, max_size=rank).flatmap(
            lambda axes: st.tuples(*[st.sampled_from((a, a - rank)) for a in axes]).map(list))))
    return shape, axis


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(case=shape_and_axis(), keepdims=st.booleans(), dtype=dtypes, seed=seeds,
       kind=st.sampled_from(("any", "coarse")))
def test_reductions_over_drawn_axes_as_tensorflow(name, case, keepdims, dtype, seed, kind):
    """'coarse' values give reduce_max/min ties (TF shares dy equally among them) and
    reduce_prod zeros (TF's gradient: the product of the others, by two cumprods)."""
    shape, axis = case
    x = make_values(np.random.default_rng(seed), shape, dtype, kind)
    reduce = REDUCTIONS[name]
    assert_parity(lambda T, x: reduce(T, x, axis, keepdims), [x], "tf ops: reductions", seed)


@pytest.mark.parametrize("name", ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min",
                                  "reduce_prod"])
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_integer_reductions_as_tensorflow(name, case, keepdims, seed):
    """int32 stays int32; the mean of integers truncates toward zero, as TF's."""
    shape, axis = case
    x = np.random.default_rng(seed).integers(-5, 6, shape).astype(np.int32)
    reduce = REDUCTIONS[name]
    assert_parity(lambda T, x: reduce(T, x, axis, keepdims), [x], "tf ops: reductions")


@pytest.mark.parametrize("f", [lambda T, x, a, t: T.argmax(x, axis=a, output_type=t),
                               lambda T, x, a, t: T.math.argmin(x, a, output_type=t)],
                         ids=["argmax", "argmin"])
@given(case=shape_and_axis(), dtype=st.sampled_from(DTYPES + ("int32",)), seed=seeds,
       output_type=st.sampled_from(("int32", "int64")))
def test_argmax_argmin_with_ties_as_tensorflow(f, case, dtype, seed, output_type):
    """The first of tied extremes, as TF; None as the axis means axis 0."""
    shape, axis = case
    if isinstance(axis, list):
        axis = axis[0]
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(dtype)
    assert_parity(lambda T, x: f(T, x, axis, getattr(T, output_type)), [x], "tf ops: argmax")


# ---- comparisons, where, cast, add_n ---------------------------------------------------------
COMPARISONS = {
    "equal": lambda T, a, b: T.equal(a, b),
    "not_equal": lambda T, a, b: T.math.not_equal(a, b),
    "greater": lambda T, a, b: T.greater(a, b),
    "greater_equal": lambda T, a, b: T.greater_equal(a, b),
    "less": lambda T, a, b: T.less(a, b),
    "less_equal": lambda T, a, b: T.less_equal(a, b),
    "a < b": lambda T, a, b: a < b,
    "a >= b": lambda T, a, b: a >= b,
    "a == 1": lambda T, a, b: a == 1,
    "logical_and": lambda T, a, b: T.logical_and(a > 0, b > 0),
    "logical_or": lambda T, a, b: T.math.logical_or(a > 0, b > 0),
    "logical_not": lambda T, a, b: T.logical_not(a > b),
}


@pytest.mark.parametrize("name", sorted(COMPARISONS))
@given(shapes=broadcast_pairs, dtype=st.sampled_from(DTYPES + ("int32",)), seed=seeds)
def test_comparisons_as_tensorflow(name, shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    scale = 1 if dtype == "int32" else 0.5               # (ties, and exact 1s and 0.5s)
    a, b = ((rng.integers(-2, 3, s) * scale).astype(dtype) for s in shapes.input_shapes)
    assert_parity(COMPARISONS[name], [a, b], "tf ops: comparisons")


def chosen(T, c, x, y):
    return T.where(c, x, y * 2.0)


@given(shapes=mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3),
       dtype=dtypes, seed=seeds)
def test_where_sends_the_gradient_to_the_chosen_side_as_tensorflow(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    c_shape, x_shape, y_shape = shapes.input_shapes
    c = rng.random(c_shape) < 0.5
    x, y = make_values(rng, x_shape, dtype), make_values(rng, y_shape, dtype)
    assert_parity(chosen, [c, x, y], "tf ops: where", seed)
    assert_parity(lambda T, x, y: T.where(x > y, x, y), [x, y], "tf ops: where", seed)


@given(shape=shapes_1_to_3, seed=seeds)
def test_where_of_a_condition_gives_coordinates_as_tensorflow(shape, seed):
    c = np.random.default_rng(seed).random(shape) < 0.4
    assert_parity(lambda T, c: T.where(c), [c], "tf ops: where")


@pytest.mark.parametrize("source,target", [("float32", "float64"), ("float64", "float32"),
                                           ("float32", "float32"), ("float64", "int32"),
                                           ("float32", "bool"), ("int32", "float64")])
@given(shape=small_shapes, seed=seeds)
def test_cast_and_its_gradient_as_tensorflow(source, target, shape, seed):
    """Between float types the gradient passes through (cast back to the source's dtype);
    through integers or booleans it stops (None). Floats become ints truncated toward zero.
    (An integer or boolean result is cast on to float64 here, so that there is a loss.)"""
    x = np.asarray(np.random.default_rng(seed).integers(-20, 21, shape) / 4, source)

    def f(T, x):
        y = T.cast(x, target)
        return y if target.startswith("float") else T.cast(y, T.float64) * 1.0

    assert_parity(f, [x], "tf ops: cast", seed)


@given(shape=small_shapes, dtype=dtypes, seed=seeds, n=st.integers(1, 4))
def test_add_n_as_tensorflow(shape, dtype, seed, n):
    rng = np.random.default_rng(seed)
    arrays = [make_values(rng, shape, dtype) for _ in range(n)]
    assert_parity(lambda T, *xs: T.add_n([x * (i + 1.0) for i, x in enumerate(xs)]), arrays,
                  "tf ops: arithmetic", seed)


# ---- matmul ----------------------------------------------------------------------------------
@st.composite
def matmul_cases(draw):
    """(a shape, b shape, transpose_a, transpose_b): batch axes that broadcast (or none)."""
    batch_a, batch_b = draw(mutually_broadcastable_shapes(num_shapes=2, max_dims=2,
                                                          max_side=3)).input_shapes
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ta, tb = draw(st.booleans()), draw(st.booleans())
    return (batch_a + ((k, m) if ta else (m, k)), batch_b + ((n, k) if tb else (k, n)), ta, tb)


@given(case=matmul_cases(), dtype=dtypes, seed=seeds, operator=st.booleans())
def test_matmul_with_transposes_and_batches_as_tensorflow(case, dtype, seed, operator):
    a_shape, b_shape, ta, tb = case
    rng = np.random.default_rng(seed)
    a, b = make_values(rng, a_shape, dtype), make_values(rng, b_shape, dtype)
    if operator and not (ta or tb):
        assert_parity(lambda T, a, b: a @ b, [a, b], "tf ops: matmul", seed)
    else:
        assert_parity(lambda T, a, b: T.matmul(a, b, transpose_a=ta, transpose_b=tb), [a, b],
                      "tf ops: matmul", seed)


# ---- moving elements: shapes, joining, gathering, slicing ------------------------------------
@given(shape=small_shapes, dtype=dtypes, seed=seeds, data=st.data())
def test_reshape_as_tensorflow(shape, dtype, seed, data):
    """To a drawn shape of the same size: the sizes in another order, 1s inserted, one -1."""
    target = list(data.draw(st.permutations(shape))) if shape else []
    for _ in range(data.draw(st.integers(0, 2))):
        target.insert(data.draw(st.integers(0, len(target))), 1)
    if target and data.draw(st.booleans()):
        target[data.draw(st.integers(0, len(target) - 1))] = -1
    x = make_values(np.random.default_rng(seed), shape, dtype)
    assert_parity(lambda T, x: T.reshape(x, target), [x], "tf ops: shapes", seed)


@given(shape=small_shapes, dtype=dtypes, seed=seeds, data=st.data())
def test_expand_dims_and_squeeze_as_tensorflow(shape, dtype, seed, data):
    x = make_values(np.random.default_rng(seed), shape, dtype)
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    assert_parity(lambda T, x: T.expand_dims(x, axis), [x], "tf ops: shapes", seed)
    ones = [i for i, d in enumerate(shape) if d == 1]
    squeeze_axis = data.draw(st.one_of(st.none(), st.lists(st.sampled_from(ones), unique=True,
                                                           min_size=1) if ones else st.none()))
    assert_parity(lambda T, x: T.squeeze(x, squeeze_axis), [x], "tf ops: shapes", seed)


@given(shape=small_shapes, dtype=dtypes, seed=seeds, data=st.data())
def test_transpose_as_tensorflow(shape, dtype, seed, data):
    perm = data.draw(st.one_of(st.none(), st.permutations(range(len(shape)))))
    x = make_values(np.random.default_rng(seed), shape, dtype)
    assert_parity(lambda T, x: T.transpose(x, perm=perm), [x], "tf ops: shapes", seed)


@given(shape=shapes_1_to_3, dtype=dtypes, seed=seeds, data=st.data())
def test_concat_and_stack_as_tensorflow(shape, dtype, seed, data):
    rng = np.random.default_rng(seed)
    rank = len(shape)
    axis = data.draw(st.integers(-rank, rank - 1))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    pieces = [make_values(rng, shape[:axis % rank] + (n,) + shape[axis % rank + 1:], dtype)
              for n in sizes]
    assert_parity(lambda T, *xs: T.concat(list(xs), axis=axis), pieces, "tf ops: shapes", seed)
    same = [make_values(rng, shape, dtype) for _ in sizes]
    new_axis = data.draw(st.integers(-rank - 1, rank))
    assert_parity(lambda T, *xs: T.stack(xs, axis=new_axis), same, "tf ops: shapes", seed)


@given(shape=shapes_1_to_3, dtype=dtypes, seed=seeds, data=st.data())
def test_unstack_as_tensorflow(shape, dtype, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = make_values(np.random.default_rng(seed), shape, dtype)

    def f(T, x):           # every piece, each weighted differently, into one output
        parts = T.unstack(x, axis=axis)
        return T.stack([p * (i + 1.0) for i, p in enumerate(parts)][::-1])

    assert_parity(f, [x], "tf ops: shapes", seed)


@given(shape=shapes_1_to_3, dtype=dtypes, seed=seeds, data=st.data())
def test_tile_as_tensorflow(shape, dtype, seed, data):
    multiples = data.draw(st.lists(st.integers(1, 3), min_size=len(shape),
                                   max_size=len(shape)))
    x = make_values(np.random.default_rng(seed), shape, dtype)
    assert_parity(lambda T, x: T.tile(x, multiples), [x], "tf ops: shapes", seed)


@given(shape=shapes_1_to_3, dtype=dtypes, seed=seeds, data=st.data())
def test_gather_as_tensorflow(shape, dtype, seed, data):
    """Repeated indices add up their gradients; indices of rank 0-2; a drawn axis."""
    rng = np.random.default_rng(seed)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    index_shape = data.draw(st.lists(st.integers(1, 3), max_size=2).map(tuple))
    indices = rng.integers(0, shape[axis], index_shape).astype(np.int32)
    x = make_values(rng, shape, dtype)
    assert_parity(lambda T, x, i: T.gather(x, i, axis=axis), [x, indices], "tf ops: shapes",
                  seed)


SLICES = {
    "t[1:, ::2]": lambda T, t: t[1:, ::2],
    "t[..., 0]": lambda T, t: t[..., 0],
    "t[tf.newaxis]": lambda T, t: t[T.newaxis],
    "t[-1]": lambda T, t: t[-1],
    "t[::-1, 1]": lambda T, t: t[::-1, 1],
    "t[:, tf.newaxis, -2:]": lambda T, t: t[:, T.newaxis, -2:],
    "t[0][1]": lambda T, t: t[0][1],
    "t[1:3, ..., ::-2]": lambda T, t: t[1:3, ..., ::-2],
    "t[:, 1] twice": lambda T, t: t[:, 1] + t[:, 1] * t[0, 0],
}


@pytest.mark.parametrize("name", sorted(SLICES))
@given(shape=st.lists(st.integers(2, 4), min_size=2, max_size=3).map(tuple), dtype=dtypes,
       seed=seeds)
def test_slicing_as_tensorflow(name, shape, dtype, seed):
    x = make_values(np.random.default_rng(seed), shape, dtype)
    assert_parity(SLICES[name], [x], "tf ops: slicing", seed)


# ---- making tensors, and the dtypes of Python operands ---------------------------------------
CREATION = {
    "constant(1.0)": lambda T: T.constant(1.0),
    "constant(1)": lambda T: T.constant(1),
    "constant([1, 2.5])": lambda T: T.constant([1, 2.5]),
    "constant(True)": lambda T: T.constant(True),
    "constant(np.float64)": lambda T: T.constant(np.float64(2.0)),
    "constant(np int64 array)": lambda T: T.constant(np.arange(3)),
    "constant(2.0, shape)": lambda T: T.constant(2.0, shape=(2, 3)),
    "constant([[1, 2]], float64)": lambda T: T.constant([[1, 2]], dtype=T.float64),
    "convert_to_tensor([1.0])": lambda T: T.convert_to_tensor([1.0, 2.0]),
    "convert_to_tensor(int, float64)": lambda T: T.convert_to_tensor(3, dtype=T.float64),
    "range(5)": lambda T: T.range(5),
    "range(0.0, 1.0, 0.25)": lambda T: T.range(0.0, 1.0, 0.25),
    "range(5, 0, -2)": lambda T: T.range(5, 0, -2),
    "range(0, 2, 0.5)": lambda T: T.range(0, 2, 0.5),
    "range(3, dtype=float64)": lambda T: T.range(3, dtype=T.float64),
    "range(np.int64(3))": lambda T: T.range(np.int64(3)),
    "range(float64 tensor)": lambda T: T.range(T.constant(2.5, T.float64)),
    "linspace(0.0, 1.0, 5)": lambda T: T.linspace(0.0, 1.0, 5),
    "linspace(0, 10, 4)": lambda T: T.linspace(0, 10, 4),
    "linspace(-1.0, 2.0, 1)": lambda T: T.linspace(-1.0, 2.0, 1),
    "linspace(float64)": lambda T: T.linspace(T.constant(0.5, T.float64), 2.0, 7),
    "linspace(vectors, axis=1)": lambda T: T.linspace([0.0, 1.0], [1.0, 3.0], 3, axis=1),
    "eye(3)": lambda T: T.eye(3),
    "eye(2, 4, int32)": lambda T: T.eye(2, 4, dtype=T.int32),
    "eye(2, batch_shape=[3])": lambda T: T.eye(2, batch_shape=[3]),
    "fill([2, 3], 9)": lambda T: T.fill([2, 3], 9),
    "fill([2], 1.5)": lambda T: T.fill([2], 1.5),
    "fill([2], np.float64)": lambda T: T.fill([2], np.float64(0.1)),
    "one_hot([0, 2, -1, 5], 3)": lambda T: T.one_hot([0, 2, -1, 5], 3),
    "one_hot(axis=0)": lambda T: T.one_hot([[0, 2]], 3, axis=0),
    "one_hot(on 5, off -1)": lambda T: T.one_hot([0, 2], 3, on_value=5, off_value=-1),
    "one_hot(off_value=3)": lambda T: T.one_hot([0, 1], 2, off_value=3),
    "one_hot(on 2.0, off 0.5)": lambda T: T.one_hot([1], 3, on_value=2.0, off_value=0.5),
    "one_hot(on float64)": lambda T: T.one_hot([1], 3, on_value=np.float64(2.0)),
    "one_hot(on 3, float32)": lambda T: T.one_hot([0, 1], 2, on_value=3, dtype=T.float32),
    "zeros([2, 1])": lambda T: T.zeros([2, 1]),
    "zeros(int32)": lambda T: T.zeros([2], T.int32),
    "ones((2,))": lambda T: T.ones((2,)),
    "ones(float64)": lambda T: T.ones([1, 2], dtype=T.float64),
    "zeros_like(int)": lambda T: T.zeros_like(T.constant([1, 2])),
    "ones_like(list)": lambda T: T.ones_like([1.0, 2.0]),
    "zeros_like(dtype)": lambda T: T.zeros_like(T.constant([1, 2]), dtype=T.float32),
    "shape": lambda T: T.shape(T.zeros([2, 3])),
    "size": lambda T: T.size(T.zeros([2, 3])),
    "rank": lambda T: T.rank(T.zeros([2, 3])),
}


@pytest.mark.parametrize("name", sorted(CREATION))
def test_making_tensors_gives_tensorflows_values_and_dtypes(name):
    same_result(CREATION[name])


DTYPE_RULES = {
    "float32 * 0.5": lambda T: T.constant([1.0, 2.0]) * 0.5,
    "0.5 * float32": lambda T: 0.5 * T.constant([1.0, 2.0]),
    "float64 * 3": lambda T: T.constant([1.0], T.float64) * 3,
    "int32 + 1": lambda T: T.constant([1, 2]) + 1,
    "True + int32": lambda T: True + T.constant([1, 2]),
    "int32 / int32": lambda T: T.constant([1, 2]) / T.constant([2, 4]),
    "int32 / 2": lambda T: T.constant([1, 2]) / 2,
    "int64 / int64": lambda T: T.constant(np.array([1, 2])) / T.constant(np.array([2, 4])),
    "int32 // 2": lambda T: T.constant([7, -7]) // 2,
    "int32 % 3": lambda T: T.constant([7, -7]) % 3,
    "float32 // 2.0": lambda T: T.constant([7.5, -7.5]) // 2.0,
    "int32 ** 2": lambda T: T.constant([2, 3]) ** 2,
    "2 ** int32": lambda T: 2 ** T.constant([2, 3]),
    "[1.0, 2.0] + float32": lambda T: [1.0, 2.0] + T.constant([1.0, 2.0]),
    "float32 * np.float64": lambda T: T.constant([1.0, 2.0]) * np.float64(0.1),
    "float32 * float64 array": lambda T: T.constant([1.5, 2.0]) * np.array([0.1, 2.0]),
    "float64 array * float32": lambda T: np.array([0.1, 2.0]) * T.constant([1.5, 2.0]),
    "float32 - int64 array": lambda T: T.constant([1.5, 2.0]) - np.array([1, 2]),
    "int32 * int64 array": lambda T: T.constant([1, 2]) * np.array([3, 4]),
    "add(float32, float64 array)": lambda T: T.add(T.constant([1.5]), np.array([0.1])),
    "add(1.5, 2)": lambda T: T.add(1.5, 2),
    "maximum(float32, float64 array)": lambda T: T.maximum(T.constant([1.5]), np.array([0.1])),
    "float32 @ float64 array": lambda T: T.constant([[1.0, 2.0]]) @ np.array([[0.1], [2.0]]),
    "where(c, float32, 0.0)": lambda T: T.where([True, False], T.constant([1.5, 2.0]), 0.0),
    "reduce_sum(int32)": lambda T: T.reduce_sum(T.constant([1, 2, 3])),
    "reduce_mean([-1, -2])": lambda T: T.reduce_mean(T.constant([-1, -2])),
    "sqrt(float64)": lambda T: T.sqrt(T.constant([2.0], T.float64)),
    "abs(int8)": lambda T: T.abs(T.constant([-128, 3], T.int8)),
    "square(int32)": lambda T: T.square([-2, 3]),
    "argmax(float64)": lambda T: T.argmax(T.constant([1.0, 3.0], T.float64)),
    "cast(float -> int32)": lambda T: T.cast([-1.7, 1.7, 2.5], T.int32),
    "l2_loss(float64)": lambda T: T.nn.l2_loss(T.constant([1.0, 2.0], T.float64)),
    "sparse labels int64": lambda T: T.nn.sparse_softmax_cross_entropy_with_logits(
        np.array([0, 2]), [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]),
    "unstack ints": lambda T: T.unstack(T.reshape(T.range(6), [2, 3]), axis=1),
    "stack Python ints": lambda T: T.stack([1, 2, 3]),
    "gather 2-D indices": lambda T: T.gather(T.reshape(T.range(6), [2, 3]), [[0, 1], [1, 1]],
                                             axis=1),
    "t[bool tensor]": lambda T: T.constant([1, 2, 3])[T.constant([True, False, True])],
    "t[int tensor]": lambda T: T.constant([[1, 2], [3, 4]])[T.constant(1)],
    "matmul(int32)": lambda T: T.matmul([[1, 2]], [[3], [4]]),
}


@pytest.mark.parametrize("name", sorted(DTYPE_RULES))
def test_dtype_rules_of_operands_as_tensorflow(name):
    """A Python number or NumPy value beside a tensor takes the tensor's dtype (`x * 0.5`
    stays float32, `n + 1` int32, `x * np.array([...])` float32); int / int is float64."""
    same_result(DTYPE_RULES[name])


# ---- tf.nn: convolution and pooling ----------------------------------------------------------
def window_form(draw, size):
    """An int window/stride `size` as TensorFlow accepts it: s, [s], [s, s] or [1, s, s, 1]
    (rows and columns may differ in the longer forms)."""
    rows, cols = size
    form = draw(st.sampled_from(("int", "list1", "list2", "list4")))
    if form in ("int", "list1") or rows == cols:
        return {"int": rows, "list1": [rows]}.get(form, [rows, rows]), (rows, rows)
    return ([rows, cols], (rows, cols)) if form == "list2" else ([1, rows, cols, 1],
                                                                   (rows, cols))


@st.composite
def conv_cases(draw, dtype):
    """Dilations only in float32: TF's CPU gradient of a dilated float64 convolution is not
    implemented ("Current CPU implementations do not yet support dilation rates larger than
    1"); its oneDNN float32 kernels have one."""
    batch, height, width = draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(
        st.integers(1, 7))
    channels, filters = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = draw(st.sampled_from(("SAME", "VALID")))
    strides, stride_hw = window_form(draw, (draw(st.integers(1, 3)), draw(st.integers(1, 3))))
    dilations, dilation_hw = 1, (1, 1)
    if stride_hw == (1, 1) and dtype == "float32" and draw(st.booleans()):
        dilations, dilation_hw = window_form(draw, (draw(st.integers(1, 2)),
                                                    draw(st.integers(1, 2))))
    out = [output_length(n, k, s, padding.lower(), d) for n, k, s, d in
           zip((height, width), kernel, stride_hw, dilation_hw)]
    assume(min(out) > 0)     # (TF computes garbage for VALID windows larger than the image)
    return ((batch, height, width, channels), kernel + (channels, filters), strides, padding,
            dilations)


@given(dtype_and_case=dtypes.flatmap(lambda d: st.tuples(st.just(d), conv_cases(d))),
       seed=seeds)
def test_conv2d_and_its_gradients_as_tensorflow(dtype_and_case, seed):
    dtype, (x_shape, w_shape, strides, padding, dilations) = dtype_and_case
    rng = np.random.default_rng(seed)
    x, w = make_values(rng, x_shape, dtype), make_values(rng, w_shape, dtype)
    assert_parity(lambda T, x, w: T.nn.conv2d(x, w, strides, padding, dilations=dilations),
                  [x, w], "tf ops: conv2d", seed)


POOLS = {
    "max_pool2d": lambda T: T.nn.max_pool2d, "avg_pool2d": lambda T: T.nn.avg_pool2d,
    "max_pool": lambda T: T.nn.max_pool, "avg_pool": lambda T: T.nn.avg_pool,
}


@st.composite
def pool_cases(draw):
    batch, height, width = draw(st.integers(1, 2)), draw(st.integers(1, 7)), draw(
        st.integers(1, 7))
    ksize, ksize_hw = window_form(draw, (draw(st.integers(1, 4)), draw(st.integers(1, 4))))
    strides, stride_hw = window_form(draw, (draw(st.integers(1, 3)), draw(st.integers(1, 3))))
    padding = draw(st.sampled_from(("SAME", "VALID")))
    out = [output_length(n, k, s, padding.lower()) for n, k, s in
           zip((height, width), ksize_hw, stride_hw)]
    assume(min(out) > 0)     # (TF crashes -- SIGFPE -- on VALID windows larger than the image)
    return (batch, height, width, draw(st.integers(1, 3))), ksize, strides, padding


@pytest.mark.parametrize("name", sorted(POOLS))
@given(case=pool_cases(), dtype=dtypes, seed=seeds, kind=st.sampled_from(("any", "coarse")))
def test_pooling_and_its_gradient_as_tensorflow(name, case, dtype, seed, kind):
    """'coarse' images tie in most windows: max pooling's dy goes to the first largest."""
    shape, ksize, strides, padding = case
    x = make_values(np.random.default_rng(seed), shape, dtype, kind)
    assert_parity(lambda T, x: POOLS[name](T)(x, ksize, strides, padding), [x],
                  "tf ops: pooling", seed)


# ---- tf.nn: bias, softmax, crossentropies, l2_loss -------------------------------------------
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple), dtype=dtypes,
       seed=seeds)
def test_bias_add_as_tensorflow(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    x, b = make_values(rng, shape, dtype), make_values(rng, shape[-1:], dtype)
    assert_parity(lambda T, x, b: T.nn.bias_add(x, b), [x, b], "tf ops: nn", seed)


@pytest.mark.parametrize("f", [lambda T, z, a: T.nn.softmax(z, axis=a),
                               lambda T, z, a: T.nn.log_softmax(z, axis=a),
                               lambda T, z, a: T.math.softmax(z, a),
                               lambda T, z, a: T.math.log_softmax(z, a)],
                         ids=["nn.softmax", "nn.log_softmax", "math.softmax",
                              "math.log_softmax"])
@given(shape=shapes_1_to_3, dtype=dtypes, seed=seeds, data=st.data())
def test_softmax_and_log_softmax_over_an_axis_as_tensorflow(f, shape, dtype, seed, data):
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    z = make_values(np.random.default_rng(seed), shape, dtype) * 2
    assert_parity(lambda T, z: f(T, z, axis), [z], "tf ops: softmax", seed)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), dtype=dtypes,
       seed=seeds, data=st.data())
def test_softmax_crossentropy_and_both_gradients_as_tensorflow(shape, dtype, seed, data):
    """dL/dlogits = (softmax - labels) dy and dL/dlabels = -log_softmax dy (TF has both)."""
    rng = np.random.default_rng(seed)
    axis = data.draw(st.sampled_from((-1, 0)))
    labels = rng.random(shape)
    labels = (labels / labels.sum(axis=axis, keepdims=True)).astype(dtype)
    logits = make_values(rng, shape, dtype) * 2
    assert_parity(lambda T, t, z: T.nn.softmax_cross_entropy_with_logits(t, z, axis=axis),
                  [labels, logits], "tf ops: crossentropy", seed)


@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), dtype=dtypes,
       seed=seeds, label_type=st.sampled_from(("int32", "int64")))
def test_sparse_softmax_crossentropy_as_tensorflow(shape, dtype, seed, label_type):
    """Integer labels get no gradient; the logits TF's (softmax - one_hot) dy."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, shape[-1], shape[:-1]).astype(label_type)
    logits = make_values(rng, shape, dtype) * 2
    assert_parity(lambda T, t, z: T.nn.sparse_softmax_cross_entropy_with_logits(t, z),
                  [labels, logits], "tf ops: crossentropy", seed)


@given(shape=small_shapes, dtype=dtypes, seed=seeds)
def test_sigmoid_crossentropy_and_both_gradients_as_tensorflow(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    labels = np.asarray(rng.integers(0, 5, shape) / 4, dtype)
    logits = make_values(rng, shape, dtype) * 3
    assert_parity(lambda T, t, z: T.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=z),
                  [labels, logits], "tf ops: crossentropy", seed)


@given(shape=small_shapes, dtype=dtypes, seed=seeds)
def test_l2_loss_as_tensorflow(shape, dtype, seed):
    x = make_values(np.random.default_rng(seed), shape, dtype)
    assert_parity(lambda T, x: T.nn.l2_loss(x), [x], "tf ops: nn", seed)


# ---- tf.nn.dropout: its rules (TensorFlow's random numbers are not ours) ---------------------
@given(rate=st.sampled_from((0.0, 0.1, 0.5, 0.8)), dtype=dtypes, seed=seeds)
def test_dropout_zeroes_a_rate_share_and_its_gradient_is_the_mask_scaling(rate, dtype, seed):
    x = make_values(np.random.default_rng(seed), (40, 50), dtype, "positive")
    sn.random.set_seed(seed % 1000)
    tf.random.set_seed(seed % 1000)
    for T in (sn, tf):           # the same rules, checked on both libraries
        xt = T.constant(x)
        with T.GradientTape() as tape:
            tape.watch(xt)
            y = T.nn.dropout(xt, rate)
        dy = weights_like((40, 50), dtype, seed)
        dx = tape.gradient(y, xt, output_gradients=T.constant(dy)).numpy()
        y = y.numpy()
        assert y.dtype == np.dtype(dtype) and y.shape == x.shape
        kept = y != 0
        np.testing.assert_allclose(y[kept], x[kept] / (1 - rate), rtol=1e-6)
        share = 1 - kept.mean()              # 2000 draws: 5 standard deviations
        assert abs(share - rate) <= 5 * np.sqrt(rate * (1 - rate) / x.size) + 1e-12, T
        np.testing.assert_allclose(dx, np.where(kept, dy / (1 - rate), 0), rtol=1e-6)


def test_dropout_noise_shape_and_seeds_follow_tensorflows_rules():
    """noise_shape [n, 1] drops whole rows; an op seed repeats its sequence after set_seed
    and, as in TF, two calls with the same op seed differ."""
    def draws(T):
        x = T.ones([200, 4])
        rows = T.nn.dropout(x, 0.5, noise_shape=[200, 1]).numpy()
        T.random.set_seed(5)
        first = [T.nn.dropout(x, 0.5, seed=3).numpy() for _ in range(2)]
        T.random.set_seed(5)
        again = [T.nn.dropout(x, 0.5, seed=3).numpy() for _ in range(2)]
        return rows, first, again

    for T in (sn, tf):
        rows, first, again = draws(T)
        assert np.all((rows == 0).all(axis=1) | (rows == 2).all(axis=1)), T
        assert 0 < (rows == 0).mean() < 1
        np.testing.assert_array_equal(first[0], again[0])
        np.testing.assert_array_equal(first[1], again[1])
        assert not np.array_equal(first[0], first[1]), T


# ---- tf.random: shapes, dtypes, ranges, seeds ------------------------------------------------
RANDOM = {
    "normal": lambda T, s, d, seed: T.random.normal(s, mean=1.0, stddev=2.0, dtype=d, seed=seed),
    "uniform": lambda T, s, d, seed: T.random.uniform(s, -1.0, 3.0, dtype=d, seed=seed),
    "uniform int": lambda T, s, d, seed: T.random.uniform(s, -3, 5, dtype=T.int32, seed=seed),
    "truncated_normal": lambda T, s, d, seed: T.random.truncated_normal(s, 1.0, 0.5, dtype=d,
                                                                        seed=seed),
    "shuffle": lambda T, s, d, seed: T.random.shuffle(
        T.reshape(T.range(int(np.prod(s)), dtype=d), s), seed=seed),
}


@pytest.mark.parametrize("name", sorted(RANDOM))
@pytest.mark.parametrize("dtype", DTYPES)
def test_random_shapes_dtypes_and_ranges_as_tensorflow(name, dtype):
    draw = RANDOM[name]
    ours, theirs = draw(sn, (4, 6), getattr(sn, dtype), None), draw(tf, (4, 6),
                                                                      getattr(tf, dtype), None)
    assert tuple(ours.shape) == tuple(theirs.shape) == (4, 6)
    assert ours.dtype == _np_dtype(theirs)
    big = draw(sn, (200, 100), getattr(sn, dtype), None).numpy()
    if name == "normal":
        assert abs(big.mean() - 1) < 0.1 and abs(big.std() - 2) < 0.1
    elif name == "uniform":
        assert big.min() >= -1 and big.max() < 3 and abs(big.mean() - 1) < 0.1
    elif name == "uniform int":
        assert set(np.unique(big)) == set(range(-3, 5))
    elif name == "truncated_normal":
        assert big.min() >= 0 and big.max() <= 2 and abs(big.mean() - 1) < 0.05
    else:
        assert sorted(big[:, 0].tolist()) == list(range(0, 20000, 100))


def seeding_rules(T):
    """TensorFlow's seeding rules as booleans: set_seed repeats the sequence of draws, the
    draws within it differ; an op seed repeats after set_seed, gives a different sequence
    under another global seed, and its repeated calls differ."""
    def sequence(global_seed, op_seed=None):
        T.random.set_seed(global_seed)
        return [T.random.normal([5], seed=op_seed).numpy() for _ in range(2)] + [
            T.random.uniform([5], seed=op_seed).numpy()]

    a, b = sequence(1), sequence(1)
    c, d, e = sequence(1, 7), sequence(1, 7), sequence(2, 7)
    return {"set_seed repeats": all(np.array_equal(x, y) for x, y in zip(a, b)),
            "draws differ": not np.array_equal(a[0], a[1]),
            "op seed repeats": all(np.array_equal(x, y) for x, y in zip(c, d)),
            "op seed calls differ": not np.array_equal(c[0], c[1]),
            "global seed matters": not np.array_equal(c[0], e[0])}


def test_random_seeding_follows_tensorflows_rules():
    assert seeding_rules(sn) == seeding_rules(tf) == {
        "set_seed repeats": True, "draws differ": True, "op seed repeats": True,
        "op seed calls differ": True, "global seed matters": True}
    for T in (sn, tf):                     # negative seeds are seeds too
        T.random.set_seed(-4)
        assert tuple(T.random.uniform([2], seed=-1).shape) == (2,)


# ---- bad inputs: one clear error naming the operation ----------------------------------------
def ones(T, *shape):
    return T.ones(shape)


ERRORS = [   # (the op the message must name, the call)
    ("tf.matmul", lambda T: T.matmul(ones(T, 2, 3), ones(T, 2, 3))),
    ("tf.matmul", lambda T: T.matmul(ones(T, 2, 2, 3), ones(T, 3, 3, 4))),    # batch axes
    ("tf.matmul", lambda T: T.matmul(ones(T, 3), ones(T, 3, 1))),            # a vector
    ("tf.nn.conv2d", lambda T: T.nn.conv2d(ones(T, 1, 4, 4, 2), ones(T, 2, 2, 1, 1), 1,
                                           "SAME")),                        # channels
    ("tf.nn.conv2d", lambda T: T.nn.conv2d(ones(T, 1, 4, 4, 1), ones(T, 2, 2, 1, 1), 1,
                                           "FULL")),
    ("tf.nn.conv2d", lambda T: T.nn.conv2d(ones(T, 1, 4, 4, 1), ones(T, 2, 2, 1, 1), 1,
                                           "same")),                        # lower case
    ("tf.nn.conv2d", lambda T: T.nn.conv2d(ones(T, 1, 4, 4, 1), ones(T, 2, 2, 1, 1),
                                           [1, 1, 1, 1, 1], "SAME")),
    ("tf.nn.conv2d", lambda T: T.nn.conv2d(ones(T, 1, 4, 4, 1), ones(T, 2, 2, 1, 1), 0,
                                           "SAME")),
    ("tf.nn.max_pool2d", lambda T: T.nn.max_pool2d(ones(T, 1, 4, 4, 1), 2, 2, "FULL")),
    ("tf.nn.avg_pool2d", lambda T: T.nn.avg_pool2d(ones(T, 1, 4, 4, 1), 2, [2, 2, 2], "SAME")),
    ("tf.reshape", lambda T: T.reshape(ones(T, 2, 3), [4])),
    ("tf.reshape", lambda T: T.reshape(ones(T, 2, 3), [-1, -1])),
    ("tf.reduce_sum", lambda T: T.reduce_sum(ones(T, 2, 3), axis=2)),
    ("tf.reduce_sum", lambda T: T.reduce_sum(T.constant([True, True]))),
    ("tf.reduce_max", lambda T: T.reduce_max(ones(T, 2, 3), axis=[0, -3])),
    ("tf.argmax", lambda T: T.argmax(ones(T, 2, 3), axis=-3)),
    ("tf.expand_dims", lambda T: T.expand_dims(ones(T, 2, 3), 4)),
    ("tf.squeeze", lambda T: T.squeeze(ones(T, 2, 3), axis=0)),
    ("tf.transpose", lambda T: T.transpose(ones(T, 2, 3), perm=[0, 0])),
    ("tf.concat", lambda T: T.concat([ones(T, 2, 3), ones(T, 2, 2)], axis=0)),
    ("tf.stack", lambda T: T.stack([ones(T, 2), ones(T, 3)])),
    ("tf.tile", lambda T: T.tile(ones(T, 2, 3), [2])),
    ("tf.gather", lambda T: T.gather(ones(T, 3), [3])),
    ("tf.add", lambda T: T.add(ones(T, 2, 3), ones(T, 4))),
    ("tf.multiply", lambda T: ones(T, 2, 3) * ones(T, 2)),
    ("tf.where", lambda T: T.where([True, False, True], ones(T, 2), ones(T, 2))),
    ("tf.range", lambda T: T.range(0, 5, 0)),
    ("tf.one_hot", lambda T: T.one_hot([0, 1], 2, on_value=T.constant(2), dtype=T.float32)),
    ("tf.nn.softmax", lambda T: T.nn.softmax(ones(T, 2, 3), axis=2)),
    ("tf.nn.log_softmax", lambda T: T.nn.log_softmax(ones(T, 2, 3), axis=-3)),
    ("tf.nn.bias_add", lambda T: T.nn.bias_add(ones(T, 2, 3), ones(T, 2))),
    ("tf.nn.dropout", lambda T: T.nn.dropout(ones(T, 3), 1.0)),
    ("tf.nn.sparse_softmax_cross_entropy_with_logits", lambda T:
        T.nn.sparse_softmax_cross_entropy_with_logits([0, 3], ones(T, 2, 3))),
    ("tf.nn.softmax_cross_entropy_with_logits", lambda T:
        T.nn.softmax_cross_entropy_with_logits(ones(T, 2, 2), ones(T, 2, 3))),
    ("tf.random.uniform", lambda T: T.random.uniform([2], dtype=T.int32)),
]


@pytest.mark.parametrize("what,call", ERRORS,
                         ids=[f"{what}-{i}" for i, (what, _) in enumerate(ERRORS)])
def test_bad_inputs_raise_one_clear_error_naming_the_op(what, call):
    """TensorFlow refuses each of these too (its errors are InvalidArgumentError & co.);
    scratchnet's is a ValueError or TypeError whose message starts with the op's name."""
    with pytest.raises(Exception):
        call(tf)
    with pytest.raises((ValueError, TypeError)) as error:
        call(sn)
    assert str(error.value).startswith(what + ":"), str(error.value)


def test_empty_windows_are_refused_naming_the_op():
    """Windows larger than a VALID image, and images without a batch axis: TensorFlow's CPU
    kernels return garbage (conv2d) or kill the process (pooling: SIGFPE; a 3-D conv2d input:
    a failed CHECK), so only scratchnet is asked."""
    cases = [("tf.nn.conv2d", lambda: sn.nn.conv2d(sn.ones([1, 2, 2, 1]), sn.ones([3, 3, 1, 1]),
                                                   1, "VALID")),
             ("tf.nn.max_pool2d", lambda: sn.nn.max_pool2d(sn.ones([1, 2, 2, 1]), 3, 1, "VALID")),
             ("tf.nn.avg_pool2d", lambda: sn.nn.avg_pool(sn.ones([1, 2, 5, 1]), [1, 3, 1, 1], 1,
                                                         "VALID")),
             ("tf.nn.conv2d", lambda: sn.nn.conv2d(sn.ones([4, 4, 1]), sn.ones([2, 2, 1, 1]), 1,
                                                   "SAME"))]      # (TF: a CHECK failure, abort)
    for what, call in cases:
        with pytest.raises(ValueError, match="^" + what + ":"):
            call()

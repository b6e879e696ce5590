"""Conv2D's backward vs central differences (float64): dL/dx, dL/dkernel, dL/dbias.

The loss is L = sum(y * g) for a fixed random g, so dL/dy = g. Each checked entry t of x,
the kernel or the bias is nudged by +-H and dL/dt ~ (L(t + H) - L(t - H)) / (2 H).
Both implementations (fast and naive) are checked, with small shapes drawn by Hypothesis.
"""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from scratchnet.layers.conv import Conv2D
from scratchnet.layers.padding import output_length

# Numerical-method tolerance (not a parity tolerance, so it lives here and not in
# tolerances.py): central differences have truncation error ~H^2 |L'''| / 6 and rounding
# error ~eps |L| / H. Conv2D is linear in x, w and b, so with 'linear' the truncation term
# vanishes and only rounding remains (~1e-16 * 10 / 1e-5 = 1e-10); tanh adds ~H^2 = 1e-10,
# and ReLU is piecewise linear (the draws avoid inputs next to its kink, see below).
# 1e-6 relative (with a 1e-8 absolute floor for entries near zero) sits well above both.
H = 1e-5
GRADCHECK_RTOL = 1e-6
GRADCHECK_ATOL = 1e-8
MAX_ENTRIES = 12   # entries checked per array (all of them when the array is smaller)


def numerical_grad(loss, array, indices):
    grads = []
    for index in indices:
        saved = array[index]
        array[index] = saved + H
        up = loss()
        array[index] = saved - H
        down = loss()
        array[index] = saved
        grads.append((up - down) / (2 * H))
    return np.array(grads)


def some_indices(shape, rng):
    size = int(np.prod(shape))
    flat = rng.choice(size, size=min(size, MAX_ENTRIES), replace=False)
    return [np.unravel_index(i, shape) for i in flat]


@pytest.mark.parametrize("implementation", ("fast", "naive"))
@pytest.mark.parametrize("activation", (None, "relu", "tanh"))
@settings(max_examples=10)  # each example runs ~2 x 36 forward passes
@given(batch=st.integers(1, 2), height=st.integers(1, 7), width=st.integers(1, 7),
       channels=st.integers(1, 3), filters=st.integers(1, 3), kernel=st.integers(1, 4),
       padding=st.sampled_from(("valid", "same")), step=st.integers(1, 2),
       dilate=st.booleans(), use_bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_conv2d_gradients_match_central_differences(implementation, activation, batch, height,
                                                     width, channels, filters, kernel, padding,
                                                     step, dilate, use_bias, seed):
    strides, dilation = ((1, 1), (step, step)) if dilate else ((step, step), (1, 1))
    assume(min(output_length(n, kernel, s, padding, d)
               for n, s, d in zip((height, width), strides, dilation)) > 0)
    rng = np.random.default_rng(seed)
    layer = Conv2D(filters, kernel, strides, padding, dilation_rate=dilation,
                   activation=activation, use_bias=use_bias, dtype="float64")
    layer.implementation = implementation
    x = rng.standard_normal((batch, height, width, channels))
    y = layer(x)
    weights = [rng.standard_normal(w.shape) for w in layer.weights]
    layer.set_weights(weights)
    g = rng.standard_normal(y.shape)

    def loss():
        return float(np.sum(layer.forward(x, training=True)[0] * g))

    _, cache = layer.forward(x, training=True)
    if activation == "relu":
        # Central differences are wrong across ReLU's kink: skip draws with z near 0.
        assume(np.min(np.abs(layer.logits(cache))) > 10 * H)

    layer.zero_grads()
    dx = layer.backward(g, cache, need_input_grad=True)
    analytic = [dx] + [grad.copy() for grad in layer.grads]
    arrays = [x] + layer.weights          # the layer's own weight arrays, nudged in place
    for what, array, grad in zip(("dL/dx", "dL/dkernel", "dL/dbias"), arrays, analytic):
        indices = some_indices(array.shape, rng)
        numeric = numerical_grad(loss, array, indices)
        np.testing.assert_allclose(np.array([grad[i] for i in indices]), numeric,
                                   rtol=GRADCHECK_RTOL, atol=GRADCHECK_ATOL, err_msg=what)

"""2-D convolution spelled out: the reference that `conv_fast` must equal.

Lectures: the university course's by-hand 3x3 filter loop over an image; Hands-On CV ch. 3
(padding, strides, dilation); Python ML ch. 15 (the convolution sum, padding modes).

Shapes (channels last, as Keras):

    x: (n, H, W, C)     kernel w: (kh, kw, C, F)     bias b: (F,)     z: (n, Ho, Wo, F)

With strides (sh, sw), dilation (dh, dw) and the zero padding (top, left) of
`scratchnet.layers.padding.paddings` (so xp is x with zeros around it), every output is one
dot product of a kernel-sized window of the input with one filter:

    z[n, p, q, f] = b[f] + sum_{i < kh} sum_{j < kw} sum_{c < C}
                               xp[n, p*sh + i*dh, q*sw + j*dw, c] * w[i, j, c, f]

(Deep-learning "convolution" is this cross-correlation: the kernel is not flipped.)

Backward, given dz = dL/dz, is the chain rule applied to that one sum: each product
xp[...] * w[i, j, c, f] sends dz[n, p, q, f] * w[i, j, c, f] back to that input pixel and
dz[n, p, q, f] * xp[...] to that kernel entry:

    dL/dw[i, j, c, f] = sum_{n, p, q} xp[n, p*sh + i*dh, q*sw + j*dw, c] * dz[n, p, q, f]
    dL/db[f]          = sum_{n, p, q} dz[n, p, q, f]
    dL/dxp[n, p*sh + i*dh, q*sw + j*dw, c] += sum_f dz[n, p, q, f] * w[i, j, c, f]
                                                     (for every n, p, q, i, j: a scatter)
    dL/dx = dL/dxp without its padding (the padded zeros are constants: no gradient)

Two versions of the forward pass, both plain Python/NumPy:

* `conv2d_forward_by_hand`: the sum above as nested loops, one output number at a time,
  as in the lecture. Slow (Python loops); for small inputs and for reading.
* `conv2d_forward` / `conv2d_backward`: loop over the kh*kw kernel taps only. For a fixed
  tap (i, j) the input pixels it touches, over ALL output positions at once, are the strided
  slice xp[:, i*dh :: sh, j*dw :: sw, :] (Ho x Wo of them), so that tap's contribution is one
  matrix product (n, Ho, Wo, C) @ (C, F). Same sum, same formulas, NumPy doing the inner loops.
"""
import numpy as np


def conv_output_size(padded, k, s, d):
    """Output length along one axis of an already padded input: floor((n - k_eff)/s) + 1."""
    return (padded - ((k - 1) * d + 1)) // s + 1


def pad_input(x, pads):
    """x (n, H, W, C) with zeros added: pads = ((top, bottom), (left, right))."""
    (top, bottom), (left, right) = pads
    return np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))


def tap_window(p_len, q_len, i, j, strides, dilation):
    """The slices of xp that kernel tap (i, j) reads, for all Ho x Wo output positions."""
    (sh, sw), (dh, dw) = strides, dilation
    rows = slice(i * dh, i * dh + sh * (p_len - 1) + 1, sh)
    cols = slice(j * dw, j * dw + sw * (q_len - 1) + 1, sw)
    return rows, cols


def conv2d_forward_by_hand(x, kernel, bias, strides, pads, dilation):
    """z = conv(x, kernel) + bias, one output number at a time (the lecture's loop)."""
    (sh, sw), (dh, dw) = strides, dilation
    kh, kw, channels, filters = kernel.shape
    xp = pad_input(x, pads)
    n, hp, wp, _ = xp.shape
    ho, wo = conv_output_size(hp, kh, sh, dh), conv_output_size(wp, kw, sw, dw)
    z = np.zeros((n, ho, wo, filters), dtype=x.dtype)
    for b in range(n):                       # every image
        for p in range(ho):                  # every output row
            for q in range(wo):              # every output column
                for f in range(filters):     # every filter
                    total = 0.0 if bias is None else bias[f]
                    for i in range(kh):              # every kernel row
                        for j in range(kw):          # every kernel column
                            for c in range(channels):  # every input channel
                                pixel = xp[b, p * sh + i * dh, q * sw + j * dw, c]
                                total += pixel * kernel[i, j, c, f]
                    z[b, p, q, f] = total
    return z


def conv2d_forward(x, kernel, bias, strides, pads, dilation):
    """z = conv(x, kernel) + bias (bias may be None), as kh*kw matrix products."""
    kh, kw, _, filters = kernel.shape
    xp = pad_input(x, pads)
    n, hp, wp, _ = xp.shape
    ho = conv_output_size(hp, kh, strides[0], dilation[0])
    wo = conv_output_size(wp, kw, strides[1], dilation[1])
    z = np.zeros((n, ho, wo, filters), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            rows, cols = tap_window(ho, wo, i, j, strides, dilation)
            z += xp[:, rows, cols, :] @ kernel[i, j]        # (n, Ho, Wo, C) @ (C, F)
    if bias is not None:
        z += bias
    return z


def conv2d_backward(x, kernel, dz, strides, pads, dilation, need_input_grad=True):
    """(dL/dx or None, dL/dkernel, dL/dbias) for z = conv(x, kernel) + bias, given dz."""
    kh, kw, channels, filters = kernel.shape
    n, ho, wo, _ = dz.shape
    xp = pad_input(x, pads)
    dxp = np.zeros_like(xp) if need_input_grad else None
    dkernel = np.zeros_like(kernel)
    dz_rows = dz.reshape(-1, filters)                         # (n*Ho*Wo, F)
    for i in range(kh):
        for j in range(kw):
            rows, cols = tap_window(ho, wo, i, j, strides, dilation)
            window = xp[:, rows, cols, :]                     # (n, Ho, Wo, C)
            dkernel[i, j] = window.reshape(-1, channels).T @ dz_rows       # (C, F)
            if need_input_grad:
                dxp[:, rows, cols, :] += dz @ kernel[i, j].T  # (n, Ho, Wo, F) @ (F, C)
    dbias = dz_rows.sum(axis=0)
    if not need_input_grad:
        return None, dkernel, dbias
    (top, _), (left, _) = pads
    dx = dxp[:, top:top + x.shape[1], left:left + x.shape[2], :]
    return np.ascontiguousarray(dx), dkernel, dbias

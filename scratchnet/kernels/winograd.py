r"""3x3 convolutions with fewer multiplications: Winograd's minimal filtering F(2x2, 3x3).

Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (CVPR 2016). Same sums
as `conv_naive` (read that first), for a 3x3 kernel, stride 1, no dilation.

One dimension first. Two outputs of a 3-tap correlation, y0 = d0 g0 + d1 g1 + d2 g2 and
y1 = d1 g0 + d2 g1 + d3 g2, take 6 multiplications the direct way. Winograd's F(2, 3) takes
4, from four inputs d = (d0, d1, d2, d3):

    m1 = (d0 - d2) g0        m2 = (d1 + d2) (g0 + g1 + g2) / 2
    m4 = (d1 - d3) g2        m3 = (d2 - d1) (g0 - g1 + g2) / 2
    y0 = m1 + m2 + m3        y1 = m2 - m3 - m4

In matrices: y = A^T [(G g) * (B^T d)], * element by element, with

    B^T = [[1, 0, -1, 0],     G = [[1,    0,   0],     A^T = [[1, 1,  1,  0],
           [0, 1,  1, 0],          [1/2, 1/2, 1/2],           [0, 1, -1, -1]]
           [0, -1, 1, 0],          [1/2,-1/2, 1/2],
           [0, 1,  0, -1]]         [0,    0,   1]]

Nesting it in two dimensions, a 2x2 block of outputs from a 4x4 tile d of one input channel
and the 3x3 kernel g of one (channel, filter) pair is

    Y = A^T [ (G g G^T) * (B^T d B) ] A          16 multiplications instead of 36.

A layer sums over the C input channels, and the sum can move inside, before A^T . A: with
U = G g G^T per (channel, filter) (16 numbers each, once per step) and V = B^T d B per
(tile, channel), each of the 16 positions (xi, nu) of the 4x4 transformed tile is ONE matrix
product over all tiles of all images:

    M[xi, nu] = V[xi, nu] @ U[xi, nu]       (tiles, C) @ (C, F)
    Y(tile, f) = A^T M(tile, f) A          the 2x2 outputs of each tile

so a layer's 9 C F multiply-adds per output become 16/4 = 4 C F (2.25x fewer), in 16 good
BLAS products, plus the transforms (additions only, linear in C or F, not in C F).

Backward: the transposed algorithm, for both gradients. Read the forward as a chain, per
tile: V = B^T d B, M = sum_c U * V, Y = A^T M A. Going back through it with dY (the tile's
2x2 block of dz, zeros beyond the output):

    Z = A dY A^T                                 (4x4 per tile and filter)
    dL/dV(c) = sum_f U(c, f) * Z(f)              per position: Z[xi, nu] @ U[xi, nu]^T,
                                                 (tiles, F) @ (F, C)
    dL/dd(c) = B dL/dV(c) B^T                    added into dL/dx at the tile's place: tiles
                                                 overlap by 2 rows and columns, so each input
                                                 pixel collects from up to 4 of them
    dL/dU(c, f) = sum_tiles V(c) * Z(f)          per position: V[xi, nu]^T @ Z[xi, nu],
                                                 (C, tiles) @ (tiles, F)
    dL/dw(c, f) = G^T dL/dU(c, f) G              (3x3)

Z is made once per block of tiles and serves both products; V is computed again from x
(not kept from forward). dL/dx thus needs the tiles of the forward (not the 7x7 tiles per
image a "full" convolution of dz with the flipped kernel would take for a 13x13 input:
36 instead of 49 for Coursera's 11x11 output), and no transform of dz as an input.
Coursera's 32 x 13x13x64 -> 64, one thread, dL/dx: 2.80 ms as that full convolution (the
first version), 1.95 ms this way (Z included).

Output sizes that are odd get a last, half-used tile: the inputs beyond the image read as
zeros, the outputs beyond it are dropped, the dz beyond it is zero.

Rounding: B and A have entries 0 and +-1, G entries 0, +-1/2 and 1, so only additions and
halvings happen besides the products; float32 results differ from the direct sum by a few
units in the last place, like any other order of the same sum (tests: against `conv_naive`
in float64 to 1e-12 and against TensorFlow).

Two versions, as everywhere in `scratchnet.kernels`:

* `forward_numpy`, `backward_numpy`: the formulas above, tiles cut with NumPy and the
  transforms as matrix products (`np.einsum`). To read.
* the Numba kernels below (`input_transform`, `output_transform`, `gradient_transform`,
  `input_gradient_transform`) with BLAS's batched products in between, driven by Conv2D
  (layers/conv_fast_paths.py, which also says when Winograd is used). Tests prove the
  NumPy version equal to conv_naive, and Conv2D running the Numba version equal to
  TensorFlow and to its own im2col pass (tests/test_conv_winograd.py).
"""
import numpy as np
from numba import njit

from scratchnet.kernels import blas

B_T = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], np.float64)
G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]], np.float64)
A_T = np.array([[1, 1, 1, 0], [0, 1, -1, -1]], np.float64)
F2x2 = (B_T, G, A_T)                  # F(2x2, 3x3): what Conv2D runs

# F(4x4, 3x3): 4x4 outputs from 6x6 tiles, 36 multiplications instead of 144 (4x fewer),
# from the points 0, 1, -1, 2, -2 and infinity (Lavin & Gray's matrices). Only in the
# readable version: its float32 rounding is too large for the parity tolerances. Measured
# (benchmarks/winograd_error.py: the Coursera and horse-or-human 3x3 layers, ReLU inputs,
# He-scaled kernels, against the float64 direct convolution): forward's largest error
# 1.3-2.4e-5 against 0.9-1.5e-6 for F(2x2, 3x3), and 0.09-0.17% of the outputs -- small
# ones -- outside float32's |a - b| <= 1e-6 + 1e-4 |b| (dL/dw: up to 0.07%), where F(2x2,
# 3x3) keeps every entry inside. The entries 4, 5 and 8 of B^T and A^T, and 1/6, 1/12, 1/24
# of G, amplify the rounding of the tile sums.
B_T_4 = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                  [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], np.float64)
G_4 = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], np.float64)
A_T_4 = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                  [0, 1, -1, 8, -8, 1]], np.float64)
F4x4 = (B_T_4, G_4, A_T_4)

# F(2x2, 5x5): 2x2 outputs of a 5x5 kernel from 6x6 tiles, 36 multiplications instead of 100
# (2.8x fewer), from the same points as F(4x4, 3x3) -- so the same B^T -- with G (6x5) and
# A^T (2x6) for r = 5 (Lavin & Gray's construction). The Python-ML CNN's second Conv2D
# (12x12x32 -> 64, 5x5) is the lecture layer it would serve. Only in the readable version,
# like F(4x4, 3x3) and for the same reason: on that layer (benchmarks/winograd_error.py)
# forward's largest error is 1.3e-5 and 0.21% of the outputs fall outside the float32
# tolerance, where the direct float32 convolution keeps every entry inside (largest error
# 1.8e-6). Other points (0, 1, -1, 2, -1/2) gave 0.07% outside: still too many.
G_5 = np.array([[1 / 4, 0, 0, 0, 0], [-1 / 6, -1 / 6, -1 / 6, -1 / 6, -1 / 6],
                [-1 / 6, 1 / 6, -1 / 6, 1 / 6, -1 / 6],
                [1 / 24, 1 / 12, 1 / 6, 1 / 3, 2 / 3], [1 / 24, -1 / 12, 1 / 6, -1 / 3, 2 / 3],
                [0, 0, 0, 0, 1]], np.float64)
A_T_5 = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1]], np.float64)
F2x2_5x5 = (B_T_4, G_5, A_T_5)


def applies(kernel_shape, strides, dilation):
    """True for the convolutions F(2x2, 3x3) computes: a 3x3 kernel, stride 1, dilation 1."""
    return (tuple(kernel_shape[:2]) == (3, 3) and tuple(strides) == (1, 1)
            and tuple(dilation) == (1, 1))


def tiles(out_hw):
    """(tile rows, tile columns): 2x2 output blocks covering an Ho x Wo output."""
    return -(-out_hw[0] // 2), -(-out_hw[1] // 2)


def kernel_transform(kernel, out=None):
    """U = G g G^T for every (channel, filter): (16, C, F), position xi*4 + nu first,
    computed in float64 and rounded once to the kernel's dtype (`out`: an array to reuse)."""
    c, f = kernel.shape[2:]
    u = np.empty((16, c, f), kernel.dtype) if out is None else out
    kernel_transform_kernel(np.ascontiguousarray(kernel), u)
    return u


def weight_gradient(s, dtype):
    """dL/dw (3, 3, C, F) of `dtype` = G^T S G from the summed products S (16, C, F)."""
    dw = np.empty((3, 3, *s.shape[1:]), dtype)
    weight_gradient_kernel(np.ascontiguousarray(s, dtype=np.float64), dw)
    return dw


# ---------------------------------------------------------------- the readable version
# `matrices` = (B^T, G, A^T): F2x2 (the default), F4x4 or F2x2_5x5; m = A^T's rows outputs
# per tile side, for an r x r kernel (G's columns), from tiles of alpha = m + r - 1 inputs
# (B^T's size).
def _input_tiles(x, pads, out_hw, m=2, r=3):
    """The alpha x alpha input tile (alpha = m + r - 1) of every m x m output block:
    (n, tile rows, tile cols, alpha, alpha, C), zeros beyond the image."""
    (top, _), (left, _) = pads
    alpha = m + r - 1
    th, tw = -(-out_hw[0] // m), -(-out_hw[1] // m)
    n, h, w, c = x.shape
    xp = np.zeros((n, m * th + r - 1, m * tw + r - 1, c), x.dtype)
    rows, cols = min(h, m * th + r - 1 - top), min(w, m * tw + r - 1 - left)
    xp[:, top:top + rows, left:left + cols] = x[:, :rows, :cols]
    d = np.empty((n, th, tw, alpha, alpha, c), x.dtype)
    for i in range(th):
        for j in range(tw):
            d[:, i, j] = xp[:, m * i:m * i + alpha, m * j:m * j + alpha]
    return d


def forward_numpy(x, kernel, pads, matrices=F2x2):
    """z = conv(x, kernel), (n, Ho, Wo, F), by Y = A^T [U * V] A, the sum over channels
    taken in the transformed domain."""
    b_t, g_mat, a_t = matrices
    b_t, a_t = b_t.astype(x.dtype), a_t.astype(x.dtype)        # small integers: exact
    m, r = a_t.shape[0], g_mat.shape[1]
    n, h, w, _ = x.shape
    (top, bottom), (left, right) = pads
    out_hw = (h + top + bottom - r + 1, w + left + right - r + 1)
    d = _input_tiles(x, pads, out_hw, m, r)
    v = np.einsum("ar,ntqrsc,bs->ntqabc", b_t, d, b_t)          # B^T d B per tile, channel
    u = np.einsum("ai,ijcf,bj->abcf", g_mat, kernel.astype(np.float64),
                  g_mat).astype(x.dtype)                        # G g G^T (float64, rounded)
    prod = np.einsum("ntqabc,abcf->ntqabf", v, u)               # summed over channels
    y = np.einsum("ia,ntqabf,jb->ntqijf", a_t, prod, a_t)       # A^T M A: mxm outputs
    th, tw = y.shape[1:3]
    z = y.transpose(0, 1, 3, 2, 4, 5).reshape(n, m * th, m * tw, -1)
    return z[:, :out_hw[0], :out_hw[1]]


def backward_numpy(x, kernel, dz, pads, matrices=F2x2):
    """(dL/dx, dL/dw) for z = conv(x, kernel) and dz = dL/dz, by the transposed transforms."""
    b_t, g_mat, a_t = matrices
    b_t, a_t = b_t.astype(x.dtype), a_t.astype(x.dtype)
    m, r = a_t.shape[0], g_mat.shape[1]
    alpha = m + r - 1
    n, ho, wo, f = dz.shape
    th, tw = -(-ho // m), -(-wo // m)
    g = np.zeros((n, m * th, m * tw, f), dz.dtype)
    g[:, :ho, :wo] = dz
    blocks = g.reshape(n, th, m, tw, m, f).transpose(0, 1, 3, 2, 4, 5)  # (n, th, tw, m, m, f)
    zt = np.einsum("ia,ntqabf,jb->ntqijf", a_t.T, blocks, a_t.T)         # Z = A dY A^T
    u = np.einsum("ai,ijcf,bj->abcf", g_mat, kernel.astype(np.float64),
                  g_mat).astype(x.dtype)                                # U = G g G^T
    dv = np.einsum("ntqabf,abcf->ntqabc", zt, u)                        # sum_f U * Z
    dd = np.einsum("ra,ntqabc,sb->ntqrsc", b_t.T, dv, b_t.T)            # B dV B^T
    (top, _), (left, _) = pads
    h, w = x.shape[1:3]
    dxp = np.zeros((n, m * th + r - 1, m * tw + r - 1, x.shape[3]), x.dtype)  # padded dL/dx
    for i in range(th):
        for j in range(tw):                                             # tiles overlap: add
            dxp[:, m * i:m * i + alpha, m * j:m * j + alpha] += dd[:, i, j]
    rows, cols = min(h, m * th + r - 1 - top), min(w, m * tw + r - 1 - left)
    dx = np.zeros_like(x)
    dx[:, :rows, :cols] = dxp[:, top:top + rows, left:left + cols]
    v = np.einsum("ar,ntqrsc,bs->ntqabc", b_t, _input_tiles(x, pads, (ho, wo), m, r), b_t)
    s = np.einsum("ntqabc,ntqabf->abcf", v.astype(np.float64),
                  zt.astype(np.float64))                   # summed over tiles, in float64
    dw = np.einsum("ai,abcf,bj->ijcf", g_mat, s, g_mat).astype(x.dtype)        # G^T S G
    return dx, dw


# ---------------------------------------------------------------- Numba kernels
@njit(cache=True, nogil=True)
def tile_origin(tile, th, tw, top, left):
    """(image b, row, column) where tile t = (b*th + i)*tw + j's 4x4 input tile starts: row
    2i - top, column 2j - left (negative: in the padding)."""
    b, ij = divmod(tile, th * tw)
    i, j = divmod(ij, tw)
    return b, 2 * i - top, 2 * j - left


@njit(cache=True, nogil=True)
def input_transform(x3, c, top, left, th, tw, t0, t1, v):
    """v[xi*4 + nu, t - t0, :] = (B^T d B)[xi, nu] for the tiles t0 <= t < t1, tile
    t = (b*th + i)*tw + j having its input tile d at row 2i - top, column 2j - left of image
    b of x3 (n, H, W*C); zeros beyond the image. v: (16, >= t1 - t0, C)."""
    n, h, wc = x3.shape
    w = wc // c
    d = np.zeros((4, 4, c), x3.dtype)
    s = np.empty((4, 4, c), x3.dtype)
    for tile in range(t0, t1):
        b, r0, c0 = tile_origin(tile, th, tw, top, left)
        t = tile - t0
        for r in range(4):                        # the tile, zero beyond the image
            hh = r0 + r
            for q in range(4):
                ww = c0 + q
                dst = d[r, q]
                if 0 <= hh < h and 0 <= ww < w:
                    src = x3[b, hh, ww * c:(ww + 1) * c]
                    for ch in range(c):
                        dst[ch] = src[ch]
                else:
                    for ch in range(c):
                        dst[ch] = 0
        for q in range(4):                        # B^T d: combine rows
            d0, d1, d2, d3 = d[0, q], d[1, q], d[2, q], d[3, q]
            s0, s1, s2, s3 = s[0, q], s[1, q], s[2, q], s[3, q]
            for ch in range(c):
                s0[ch] = d0[ch] - d2[ch]
                s1[ch] = d1[ch] + d2[ch]
                s2[ch] = d2[ch] - d1[ch]
                s3[ch] = d1[ch] - d3[ch]
        for r in range(4):                        # (B^T d) B: combine columns
            e0, e1, e2, e3 = s[r, 0], s[r, 1], s[r, 2], s[r, 3]
            o0, o1 = v[4 * r, t], v[4 * r + 1, t]
            o2, o3 = v[4 * r + 2, t], v[4 * r + 3, t]
            for ch in range(c):
                o0[ch] = e0[ch] - e2[ch]
                o1[ch] = e1[ch] + e2[ch]
                o2[ch] = e2[ch] - e1[ch]
                o3[ch] = e1[ch] - e3[ch]


@njit(cache=True, nogil=True)
def output_transform(m, th, tw, t0, t1, bias, has_bias, relu, z, y, write_z):
    """The 2x2 outputs A^T M A of the tiles t0 <= t < t1 (m[:, t - t0], m: (16, >= t1 - t0,
    F)), + bias, into z (n, Ho, Wo, F) (if write_z) and y = max(z, 0) if relu else z (y may
    be z). Outputs beyond Ho x Wo (a last, half-used tile) are dropped."""
    n, ho, wo, f = y.shape
    u = np.empty((2, 4, f), m.dtype)
    out = np.empty((2, 2, f), m.dtype)
    for tile in range(t0, t1):
        b, ij = divmod(tile, th * tw)
        i, j = divmod(ij, tw)
        t = tile - t0
        for q in range(4):                        # A^T M: combine rows
            m0, m1, m2, m3 = m[q, t], m[4 + q, t], m[8 + q, t], m[12 + q, t]
            u0, u1 = u[0, q], u[1, q]
            for k in range(f):
                u0[k] = m0[k] + m1[k] + m2[k]
                u1[k] = m1[k] - m2[k] - m3[k]
        for r in range(2):                        # (A^T M) A: combine columns
            e0, e1, e2, e3 = u[r, 0], u[r, 1], u[r, 2], u[r, 3]
            o0, o1 = out[r, 0], out[r, 1]
            for k in range(f):
                o0[k] = e0[k] + e1[k] + e2[k]
                o1[k] = e1[k] - e2[k] - e3[k]
        for r in range(2):
            p = 2 * i + r
            if p >= ho:
                continue
            for q in range(2):
                col = 2 * j + q
                if col >= wo:
                    continue
                src, dst, zd = out[r, q], y[b, p, col], z[b, p, col]
                for k in range(f):
                    val = src[k] + bias[k] if has_bias else src[k]
                    if write_z:
                        zd[k] = val
                    dst[k] = val if (val > 0 or not relu) else 0


@njit(cache=True, nogil=True)
def gradient_transform(dz, th, tw, t0, t1, zt):
    """zt[xi*4 + nu, t - t0, :] = (A dz A^T)[xi, nu] for the 2x2 blocks t0 <= t < t1 of dz
    (n, Ho, Wo, F) (zeros beyond Ho x Wo), block t = (b*th + i)*tw + j at rows 2i, 2i + 1,
    columns 2j, 2j + 1 of image b. zt: (16, >= t1 - t0, F)."""
    n, ho, wo, f = dz.shape
    d = np.zeros((2, 2, f), dz.dtype)
    s = np.empty((4, 2, f), dz.dtype)
    for tile in range(t0, t1):
        b, ij = divmod(tile, th * tw)
        i, j = divmod(ij, tw)
        t = tile - t0
        for r in range(2):
            for q in range(2):
                p, col = 2 * i + r, 2 * j + q
                dst = d[r, q]
                if p < ho and col < wo:
                    src = dz[b, p, col]
                    for k in range(f):
                        dst[k] = src[k]
                else:
                    for k in range(f):
                        dst[k] = 0
        for q in range(2):                        # A dz: 4 rows from 2
            a0, a1 = d[0, q], d[1, q]
            s0, s1, s2, s3 = s[0, q], s[1, q], s[2, q], s[3, q]
            for k in range(f):
                s0[k] = a0[k]
                s1[k] = a0[k] + a1[k]
                s2[k] = a0[k] - a1[k]
                s3[k] = -a1[k]
        for r in range(4):                        # (A dz) A^T: 4 columns from 2
            e0, e1 = s[r, 0], s[r, 1]
            o0, o1 = zt[4 * r, t], zt[4 * r + 1, t]
            o2, o3 = zt[4 * r + 2, t], zt[4 * r + 3, t]
            for k in range(f):
                o0[k] = e0[k]
                o1[k] = e0[k] + e1[k]
                o2[k] = e0[k] - e1[k]
                o3[k] = -e1[k]


@njit(cache=True, nogil=True)
def input_gradient_transform(dv, c, top, left, th, tw, t0, t1, dx3):
    """dx3 += B dV B^T for the tiles t0 <= t < t1 (dV = dv[:, t - t0], dv: (16, >= t1 - t0,
    C)), each added at its input tile: rows 2i - top.., columns 2j - left.. of image b of dx3
    (n, H, W*C), tile t = (b*th + i)*tw + j; the parts beyond the image are dropped. B dV
    combines the rows (B = (B^T)^T: 4 rows from 4), then (B dV) B^T the columns."""
    n, h, wc = dx3.shape
    w = wc // c
    p = np.empty((4, 4, c), dv.dtype)
    e = np.empty((4, 4, c), dv.dtype)
    for tile in range(t0, t1):
        b, r0, c0 = tile_origin(tile, th, tw, top, left)
        t = tile - t0
        for q in range(4):                        # B dV: combine rows
            a0, a1, a2, a3 = dv[q, t], dv[4 + q, t], dv[8 + q, t], dv[12 + q, t]
            p0, p1, p2, p3 = p[0, q], p[1, q], p[2, q], p[3, q]
            for ch in range(c):
                p0[ch] = a0[ch]
                p1[ch] = a1[ch] - a2[ch] + a3[ch]
                p2[ch] = a1[ch] + a2[ch] - a0[ch]
                p3[ch] = -a3[ch]
        for r in range(4):                        # (B dV) B^T: combine columns
            g0, g1, g2, g3 = p[r, 0], p[r, 1], p[r, 2], p[r, 3]
            o0, o1, o2, o3 = e[r, 0], e[r, 1], e[r, 2], e[r, 3]
            for ch in range(c):
                o0[ch] = g0[ch]
                o1[ch] = g1[ch] - g2[ch] + g3[ch]
                o2[ch] = g1[ch] + g2[ch] - g0[ch]
                o3[ch] = -g3[ch]
        for r in range(4):                        # add into dL/dx, inside the image
            hh = r0 + r
            if hh < 0 or hh >= h:
                continue
            for q in range(4):
                ww = c0 + q
                if ww < 0 or ww >= w:
                    continue
                dst = dx3[b, hh, ww * c:(ww + 1) * c]
                src = e[r, q]
                for ch in range(c):
                    dst[ch] += src[ch]


@njit(cache=True, nogil=True)
def kernel_transform_kernel(w, u):
    """u[xi*4 + nu, c, :] = (G g G^T)[xi, nu] of the 3x3 kernel g = w[:, :, c, :] (per
    filter), in float64: G g combines the kernel's rows, (G g) G^T its columns."""
    c_count, f = w.shape[2], w.shape[3]
    t = np.empty((4, 3, f))
    for c in range(c_count):
        for j in range(3):
            for k in range(f):
                g0, g1, g2 = np.float64(w[0, j, c, k]), np.float64(w[1, j, c, k]), \
                    np.float64(w[2, j, c, k])
                t[0, j, k] = g0
                t[1, j, k] = (g0 + g1 + g2) * 0.5
                t[2, j, k] = (g0 - g1 + g2) * 0.5
                t[3, j, k] = g2
        for r in range(4):
            for k in range(f):
                e0, e1, e2 = t[r, 0, k], t[r, 1, k], t[r, 2, k]
                u[4 * r, c, k] = e0
                u[4 * r + 1, c, k] = (e0 + e1 + e2) * 0.5
                u[4 * r + 2, c, k] = (e0 - e1 + e2) * 0.5
                u[4 * r + 3, c, k] = e2


@njit(cache=True, nogil=True)
def weight_gradient_kernel(s, dw):
    """dw[:, :, c, f] = G^T S G of the 4x4 sums S = s[:, c, f] (float64): G^T combines S's
    rows into 3, G its columns into 3."""
    c_count, f = s.shape[1], s.shape[2]
    t = np.empty((3, 4, f))
    for c in range(c_count):
        for q in range(4):
            for k in range(f):
                s0, s1, s2, s3 = s[q, c, k], s[4 + q, c, k], s[8 + q, c, k], s[12 + q, c, k]
                t[0, q, k] = s0 + (s1 + s2) * 0.5
                t[1, q, k] = (s1 - s2) * 0.5
                t[2, q, k] = (s1 + s2) * 0.5 + s3
        for r in range(3):
            for k in range(f):
                e0, e1, e2, e3 = t[r, 0, k], t[r, 1, k], t[r, 2, k], t[r, 3, k]
                dw[r, 0, c, k] = e0 + (e1 + e2) * 0.5
                dw[r, 1, c, k] = (e1 - e2) * 0.5
                dw[r, 2, c, k] = (e1 + e2) * 0.5 + e3


# ---------------------------------------------------------------- drivers, one chunk of images
# Tiles per block: the block's transformed tiles (16 x tiles x channels) stay in cache while
# the 16 products read them. Batched products of 64 channels, one thread, float32: 128-256
# tiles 53-55 GMAC/s, 1,152 tiles 36, 4,608 tiles 31 (im2col + one GEMM: ~45). In the layer
# (chunks of images on 2 threads, backward now holding Z and dL/dV beside V), blocks of up
# to 2 MB per buffer, evened out (`block_tiles`), against 512 KB, forward / backward ms:
# Coursera 32 x 13x13x64 -> 64 1.19 / 3.20 -> 1.10 / 2.68 (a chunk's 144 tiles had been a
# block of 128 and one of 16), 8 x 74x74x16 -> 32 2.22 / 4.63 -> 2.09 / 3.69, 8 x 36x36x32
# -> 64 1.25 / 2.87 -> 1.18 / 2.48; 4 MB measured the same as 2 MB.
BLOCK_BYTES = 1 << 21


def block_tiles(width, dtype, total=None):
    """Tiles per block for transformed tiles `width` numbers wide (channels or filters); with
    `total`, evened out over the blocks that `total` tiles take (no small last block)."""
    most = max(16, BLOCK_BYTES // (16 * width * np.dtype(dtype).itemsize))
    if total is None or total <= most:
        return most if total is None else max(total, 1)
    return -(-total // -(-total // most))


def block_plan(y_shape, c, dtype, scratch):
    """How `convolve_images` cuts images whose output is y_shape (count, Ho, Wo, F) into
    blocks: (tiles down, tiles across, tiles in all, tiles per block, the V and M buffers
    from scratch)."""
    count, ho, wo, f = y_shape
    th, tw = tiles((ho, wo))
    total = count * th * tw
    block = block_tiles(max(c, f), dtype, total)
    return (th, tw, total, block, scratch("winograd v", (16, block, c)),
            scratch("winograd m", (16, block, f)))


def one_call(total, block):
    """True when a chunk's blocks may run as one compiled call (`convolve_blocks`)."""
    return blas.available() and _blocks_of_two(total, block)


def _blocks_of_two(total, block):
    """True when every block has 2+ tiles: then each product has 2+ rows and columns, and
    `blas.gemm` gives np.matmul's bits (see there)."""
    return total - (-(-total // block) - 1) * block >= 2


def convolve_images(x3, c, top, left, u, bias, has_bias, relu, z, y, write_z, scratch):
    """y (and z, if write_z) = f(conv(x) + bias) for the images x3 (count, H, W*C), z and y
    (count, Ho, Wo, F), with u = kernel_transform(kernel); block by block of tiles, the
    blocks' buffers from scratch(name, shape). As one compiled call (`convolve_blocks`)
    where Numba may call BLAS (`blas.available()`), else the same steps from Python."""
    th, tw, total, block, v, m = block_plan(y.shape, c, x3.dtype, scratch)
    if one_call(total, block):
        convolve_blocks(x3, c, top, left, th, tw, total, block, u, bias, has_bias, relu, z, y,
                        write_z, v, m)
        return
    for t0 in range(0, total, block):
        t1 = min(total, t0 + block)
        input_transform(x3, c, top, left, th, tw, t0, t1, v)
        np.matmul(v[:, :t1 - t0], u, out=m[:, :t1 - t0])
        output_transform(m, th, tw, t0, t1, bias, has_bias, relu, z, y, write_z)


@njit(cache=True, nogil=True)
def convolve_blocks(x3, c, top, left, th, tw, total, block, u, bias, has_bias, relu, z, y,
                    write_z, v, m):
    """`convolve_images`' loop over blocks, the 16 products of a block by `blas.gemm` (the
    calls np.matmul makes): the same bits, with the GIL let go once per chunk of images."""
    for t0 in range(0, total, block):
        t1 = min(total, t0 + block)
        input_transform(x3, c, top, left, th, tw, t0, t1, v)
        for pos in range(16):                      # M = V @ U: (tiles, C) @ (C, F)
            blas.gemm(v[pos, :t1 - t0], False, u[pos], False, m[pos, :t1 - t0])
        output_transform(m, th, tw, t0, t1, bias, has_bias, relu, z, y, write_z)


def gradients_of_images(x3, c, top, left, dz, u, s, dx3, scratch):
    """The gradients for images x3 (count, H, W*C) and their dz (count, Ho, Wo, F), block by
    block of tiles (see the module docstring): s (16, C, F), float64 = the sum over their
    tiles of V^T Z (None: no dL/dw), and dx3 (count, H, W*C, zeroed by the caller) += the
    tiles' B (Z U^T) B^T (None: no dL/dx), with u = kernel_transform(kernel). As one
    compiled call (`gradient_blocks`) where Numba may call BLAS, else from Python."""
    count, ho, wo, f = dz.shape
    th, tw = tiles((ho, wo))
    total = count * th * tw
    block = block_tiles(max(c, f), x3.dtype, total)
    zt = scratch("winograd z", (16, block, f))
    if s is not None:
        v = scratch("winograd v", (16, block, c))
        part = scratch("winograd s", (16, c, f))
        s[:] = 0                                       # (float64)
    if dx3 is not None:
        dv = scratch("winograd dv", (16, block, c))
        u_t = u.transpose(0, 2, 1)                     # U^T per position: (F, C)
    if one_call(total, block):
        nothing = np.empty((1, 1, 1), x3.dtype)
        gradient_blocks(x3, c, top, left, dz, th, tw, total, block, u if dx3 is not None
                        else nothing, np.empty((1, 1, 1)) if s is None else s, s is not None,
                        nothing if dx3 is None else dx3, dx3 is not None, zt,
                        nothing if s is None else v, nothing if s is None else part,
                        nothing if dx3 is None else dv)
        return
    for t0 in range(0, total, block):
        t1 = min(total, t0 + block)
        gradient_transform(dz, th, tw, t0, t1, zt)
        if s is not None:
            input_transform(x3, c, top, left, th, tw, t0, t1, v)
            np.matmul(v[:, :t1 - t0].transpose(0, 2, 1), zt[:, :t1 - t0], out=part)
            s += part
        if dx3 is not None:
            np.matmul(zt[:, :t1 - t0], u_t, out=dv[:, :t1 - t0])
            input_gradient_transform(dv, c, top, left, th, tw, t0, t1, dx3)


@njit(cache=True, nogil=True)
def gradient_blocks(x3, c, top, left, dz, th, tw, total, block, u, s, with_s, dx3, with_dx,
                    zt, v, part, dv):
    """`gradients_of_images`' loop over blocks as one compiled call, its products by
    `blas.gemm` (the calls np.matmul makes: the same bits). Unused arrays are dummies."""
    f = dz.shape[3]
    for t0 in range(0, total, block):
        t1 = min(total, t0 + block)
        gradient_transform(dz, th, tw, t0, t1, zt)
        if with_s:
            input_transform(x3, c, top, left, th, tw, t0, t1, v)
            for pos in range(16):                  # V^T Z: (C, tiles) @ (tiles, F)
                blas.gemm(v[pos, :t1 - t0], True, zt[pos, :t1 - t0], False, part[pos])
                s_pos, part_pos = s[pos], part[pos]
                for ch in range(c):
                    s_row, part_row = s_pos[ch], part_pos[ch]
                    for k in range(f):
                        s_row[k] += part_row[k]
        if with_dx:
            for pos in range(16):                  # Z U^T: (tiles, F) @ (F, C)
                blas.gemm(zt[pos, :t1 - t0], False, u[pos], True, dv[pos, :t1 - t0])
            input_gradient_transform(dv, c, top, left, th, tw, t0, t1, dx3)

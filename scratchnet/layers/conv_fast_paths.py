"""How Conv2D runs fast: the chunked drivers around `scratchnet.kernels.conv_fast`.

`Conv2D` (layers/conv.py) holds the layer -- arguments, shapes, the math, the naive path --
and inherits these methods from `Conv2DFastPaths`. They do the same math as conv_naive, laid
out for speed:

* the batch is cut into chunks of images small enough for a chunk's im2col rows (and its
  output) to stay in cache, and `scratchnet.threads` shares the chunks out to the cores;
* `_forward_fast` (training, and activations other than ReLU / linear): im2col, the product
  and bias + activation per chunk; z is kept for backward, the im2col matrix only for one
  input channel;
* `_infer_fast` (inference with ReLU or no activation): nothing is kept, each chunk's im2col
  goes to a small per-thread buffer; optionally the max pooling after the layer runs on each
  chunk too (`Conv2D.forward_fused`);
* `_train_pooled`: training fused with that max pooling -- nothing conv-sized is kept;
* `_pooled_bands` / `_backward_bands`: large images (horse-or-human) followed by a max
  pooling, in row bands of one image whose im2col stays in cache; nothing conv-sized is
  kept, backward computes each band's im2col again; dw and db are summed per fixed group of
  images, so the result does not depend on the thread count;
* `_backward_fast`: dz and db per chunk, then, with more than one input channel,
  `_backward_by_groups` (per fixed group of images: im2col again, dw's share, dcols, col2im);
  with one, dw (two whole-batch products) beside dx (per chunk: dcols, col2im) as tasks
  for the threads, `_dw_by_chunks` for a first layer, `_backward_direct` for the direct
  one-channel kernels;
* buffers: y, z, dz, dx and the im2col matrix come from `engine.workspace.array` -- new
  arrays for a call of your own, the call's own arrays from the previous step inside a model
  (keyed per call, so a layer called twice keeps two sets); per-thread chunk scratch from
  `workspace.thread_scratch`. What one call keeps for its backward is its `ConvCache`.
"""
import functools

import numpy as np

from scratchnet import activations, threads
from scratchnet.engine import workspace
from scratchnet.kernels import chunks, conv_fast, pool_fast, winograd


# Winograd (`Conv2DFastPaths._winograd`): 3x3, stride 1, no dilation, at least this many
# input channels and filters and this many direct multiply-adds per call. Measured one thread,
# float32, ms for forward / dL/dw / dL/dx, Winograd vs im2col + GEMM (a tie at 17.8M work):
#     32 x 13x13x16 -> 32 (17.8M)    0.47/0.54/0.67  vs  0.47/0.41/0.47   (slower)
#     32 x 13x13x32 -> 32 (35.7M)    0.73/0.81/0.97  vs  0.88/0.89/0.90
#     256 x 13x13x32 -> 32 (286M)    7.05/7.59/9.11  vs  12.07/10.15/8.49
#     32 x 13x13x64 -> 64 (143M)     1.99/2.50/2.93  vs  3.54/3.74/3.41   (Coursera's second)
#     8 x 74x74x16 -> 32 (191M)      4.66/5.40/5.51  vs  9.07/7.01/6.75   (horse-or-human)
#     8 x 36x36x32 -> 64 (171M)      2.48/2.84/3.07  vs  4.80/4.67/4.33
WINOGRAD_MIN_CHANNELS = 16
WINOGRAD_MIN_WORK = 32_000_000

# Row bands (`Conv2DFastPaths._bands`): about this many bytes of im2col per band, used when
# one image's im2col is at least BAND_MIN_BYTES; BAND_GROUPS fixed groups of images.
# Measured on the 2-core dev machine (AMD EPYC, L2 1 MB per core, L3 32 MB), horse-or-human
# 150x150 in fit, batch 128, float32, 2 threads, ms per step, forward/backward of its three
# Conv2D layers (each fused with its 2x2 max pooling):
#     chunks of images (before)  57/80  70-79/109-131  39-42/76-82   step 480-525
#     bands of 128 KB           129/125     86/147        46/92      step 687
#     bands of 512 KB            58/91      49/95         35/75      step 458
#     bands of 2 MB              54-60/75-81  47-50/88-97  33-36/65-70  step 420-442
#     bands of 4-16 MB           54-59/73-79  47-51/91-137 33-38/68-87 step 427-514
# Smaller bands lose to the Python calls per band (5 per band forward, 6-7 backward); the
# first layer (3 channels, K = 27) gains nothing: its im2col and small products cost the
# same in cache, and it was the pooling-fused path already. Since Winograd took over the
# 16+-channel layers, bands serve that first layer alone; it alone, same machine, batch 128,
# ms forward / backward by band size: 256 KB 56.4 / 105.0, 512 KB 47.7 / 87.7, 1 MB 45.0 /
# 81.7, 2 MB 44.1 / 76.7, 4 MB (one band per 150x150 image) 44.4 / 72.0, 8 MB 43.2 / 73.1.
BAND_BYTES = 1 << 22
BAND_MIN_BYTES = 1 << 20
BAND_GROUPS = 16


class ConvCache:
    """What one Conv2D call keeps for its backward: its input x and paddings; z and y (None
    after an inference pass, which keeps nothing: backward computes them again); the im2col
    matrix (None when forward made none); the output shape; whether forward ran the direct
    one-channel kernel; and, after a training pass fused with the max pooling after it, that
    pooling's argmax (-1 where the gradient goes nowhere) and its backward's tiling."""

    __slots__ = ("x", "pads", "z", "y", "cols", "out_shape", "direct", "argmax", "tiles",
                 "bands", "winograd")

    def __init__(self, x, pads, z=None, y=None, cols=None, out_shape=None, direct=False,
                 argmax=None, tiles=None, bands=None, winograd=False):
        self.x, self.pads, self.z, self.y, self.cols = x, pads, z, y, cols
        self.out_shape = out_shape if out_shape is not None else (
            None if z is None else z.shape)
        self.direct, self.argmax, self.tiles = direct, argmax, tiles
        self.bands = bands          # the row bands of a banded pass (`_bands`), else None
        self.winograd = winograd    # forward ran Winograd's F(2x2, 3x3): so does backward


def _cols_maker(channels):
    """How to make an im2col matrix for inputs with this many channels (`new_cols`)."""
    return lambda shape, dtype: conv_fast.new_cols(shape[0], shape[1], dtype, channels)


def _pooled_outputs(pool, y_shape, dtype, training):
    """(pads, output size, output array, argmax array or None) of the max pooling fused
    after a convolution whose output would have `y_shape`: the arrays from the running
    call's workspace, the argmax only in training."""
    pads, pooled_hw = pool._window(y_shape)
    out = workspace.array("y", (y_shape[0], *pooled_hw, y_shape[3]), dtype)
    argmax = workspace.array("argmax", out.shape, np.int32) if training else None
    return pads, pooled_hw, out, argmax


def _pool_chunk(y4, pool, pads, out_hw, out, argmax, relu):
    """Max-pool a chunk's conv output y4 into out (and its argmax, if not None); after a
    ReLU, windows whose max is 0 get argmax -1: no gradient goes through them (the ReLU's
    gradient there is 0), which is what lets the pair's backward skip z."""
    pool_fast.max_pool_images(y4, pool.pool_size, pool.strides, pads, out_hw, out, argmax)
    if relu and argmax is not None:
        pool_fast.drop_argmax_of_zeros(out, argmax)


class Conv2DFastPaths:
    """The fast forward and backward passes of `Conv2D` (a mixin: it reads the layer's
    kernel, bias, strides, padding and activation)."""

    def _layout(self, x, pads):
        """What every fast pass needs to know about x (n, H, W, C): the output size Ho, Wo,
        output positions per image (rows), window entries (depth = kh*kw*C), whether the
        kernel is a 1x1 that needs no im2col (pointwise: cols is x), the geometry arguments
        of the kernels, and x viewed as (n, H, W*C)."""
        kshape = self.kernel.shape
        ho, wo = conv_fast.geometry(x.shape, kshape, self.strides, pads, self.dilation_rate)
        geo = conv_fast._geometry_args(kshape, self.strides, pads, self.dilation_rate,
                                       (ho, wo))
        return (ho, wo, ho * wo, kshape[0] * kshape[1] * kshape[2],
                conv_fast._is_pointwise(kshape, self.strides, pads), geo,
                x.reshape(x.shape[0], x.shape[1], x.shape[2] * x.shape[3]))

    def _one_call_chunks(self, pool, y_shape, dtype, direct):
        """True when this pass runs each chunk as one compiled call (kernels/chunks.py): the
        lectures' MaxPooling2D(2, 2) after it (`chunks.usable`), 2+ filters (so that each
        product has 2+ columns: see blas.gemm), and BLAS callable from Numba unless the
        direct one-channel kernel makes no product."""
        return y_shape[3] >= 2 and chunks.usable(pool, y_shape, dtype, not direct)

    def _im2col_kind(self, x3, geo):
        """(transposed, rgb3x3): how im2col lays out this layer's matrix (one channel:
        transposed) and whether the 3x3 RGB kernel writes it (conv_fast.fill_cols)."""
        channels = self.kernel.shape[2]
        transposed = conv_fast.cols_transposed(channels)
        return transposed, not transposed and conv_fast.rgb3x3_applies(x3, channels, geo)

    def _direct_weights(self):
        """The kernel as (F, kh*kw), as conv_fast.conv1ch_rows_kernel takes it."""
        kh, kw, _, filters = self.kernel.shape
        return np.ascontiguousarray(self.kernel.reshape(kh * kw, filters).T)

    def _no_bias(self):
        """A placeholder bias for the fused kernels when use_bias=False (never read)."""
        return np.zeros(self.filters, self.dtype)

    def _infers_in_chunks(self):
        """Inference with ReLU or no activation keeps nothing for backward (`_infer_fast`)."""
        return (self._implementation == "fast"
                and (self.activation is activations.relu
                     or self.activation is activations.linear))

    # ---- fusion with the MaxPooling2D after it -----------------------------------------
    def fuses_with(self, layer, training=False):
        """True when `layer` (the only consumer of this call's output) can run inside this
        layer's chunk loop (`forward_fused`): a MaxPooling2D of the same dtype after a ReLU /
        linear Conv2D. Pooling works image by image, so it can pool each chunk of y while that
        is still in cache."""
        from scratchnet.layers.conv import Conv2D
        from scratchnet.layers.pooling import MaxPooling2D
        if not (isinstance(layer, MaxPooling2D) and self._infers_in_chunks()
                and layer.dtype in (None, self.dtype) and self.kernel is not None):
            return False
        # a subclass that overrides forward or backward of either layer must see its own
        # code run: no fusion then
        if any(getattr(type(obj), name) is not getattr(base, name)
               for obj, base in ((self, Conv2D), (layer, MaxPooling2D))
               for name in ("forward", "backward")):
            return False
        return True

    def forward_fused(self, x, pool, training=False):
        """(pool's output, cache): pool.forward(self.forward(x)) in one pass (`fuses_with`):
        each chunk of images is convolved into a small per-thread buffer and max-pooled from
        there, so the full-size conv output is never written to memory. Coursera's first
        layer at batch 256: 28x28x1 -> 26x26x64 is 44 MB, its 2x2 max pool 11 MB."""
        x, pads = self._prepare(x)
        bands = self._bands(x, pads, pool)
        if bands is not None:
            return self._pooled_bands(x, pads, pool, bands, training)
        if training:
            return self._train_pooled(x, pads, pool)
        return self._infer_fast(x, pads, pool)

    def backward_fused(self, dy, cache, pool, need_input_grad=True):
        """dL/dx of the fused pair from dL/d(pool's output)."""
        if cache.bands is not None and cache.argmax is not None:
            return self._backward_bands(np.ascontiguousarray(dy, dtype=self.dtype), cache,
                                        pool, need_input_grad)
        if cache.argmax is not None:
            if not need_input_grad and cache.direct and self.trainable:
                return self._backward_direct_pooled(np.ascontiguousarray(dy, dtype=self.dtype),
                                                    cache)
            if not need_input_grad and cache.cols is not None and self.trainable:
                return self._backward_first_pooled(np.ascontiguousarray(dy, dtype=self.dtype),
                                                   cache, pool)
            # training pass: the argmax sends each window's gradient straight to dL/dz
            return self._backward_fast(None, cache, False, need_input_grad,
                                       pooled=np.ascontiguousarray(dy, dtype=self.dtype))
        # after an inference pass (nothing kept): the two backward passes, z computed again
        previous = workspace.activate(None)
        try:
            self._ensure_saved(cache)
            _, pool_cache = pool.forward(cache.y, training=True)
            return self.backward(pool.backward(dy, pool_cache), cache, need_input_grad)
        finally:
            workspace.activate(previous)

    def _ensure_saved(self, cache):
        """After an inference forward (which keeps nothing for backward): run forward again
        keeping z and cols, into fresh arrays (the returned y may be in use elsewhere)."""
        if cache.z is not None:
            return
        previous = workspace.activate(None)
        try:
            _, again = self.forward(cache.x, training=True)
        finally:
            workspace.activate(previous)
        for name in ("z", "y", "cols", "out_shape", "direct", "winograd"):
            setattr(cache, name, getattr(again, name))

    # ---- forward ----------------------------------------------------------------------
    def _forward_fast(self, x, pads):
        """Training (or an activation other than ReLU / linear): im2col, z2 = cols @ w2 and
        bias (+ ReLU) in one pass, image chunk by image chunk, each chunk on its own thread
        (`threads.run_split`) when the batch is big enough; z is kept for backward, and the
        im2col matrix too for one input channel (with more, each chunk's goes to a per-thread
        buffer and backward makes it again: `_backward_by_groups`).

        One-channel inputs with few filters (stride 1, no dilation, ReLU or linear) skip
        im2col + GEMM for a direct kernel (`conv_fast.conv1ch_rows_kernel`): LeNet's first
        layer in fit, batch 256: forward 5.1 -> 3.3 ms, and its backward then needs no cols
        (conv1ch_rows_dw_kernel)."""
        if self._winograd(x, pads):
            return self._winograd_forward(x, pads, training=True)
        n, filters = x.shape[0], self.filters
        kshape = self.kernel.shape
        linear = self.activation is activations.linear
        relu = self.activation is activations.relu
        ho, wo, rows, depth, pointwise, geo, x3 = self._layout(x, pads)
        direct = (relu or linear) and conv_fast.direct_one_channel(kshape, self.strides,
                                                                   self.dilation_rate)
        # the im2col matrix is kept for one input channel only, as in `_train_pooled`
        keep = not direct and conv_fast.cols_transposed(kshape[2])
        if pointwise:
            cols = x.reshape(n * rows, depth)
        elif keep:
            cols = workspace.array("cols", (n * rows, depth), x.dtype, _cols_maker(kshape[2]))
        else:
            cols = None
        pieces = self._pieces(n, rows, depth, x.dtype)
        per_chunk = -(-n // pieces)
        w2 = self.kernel.reshape(-1, filters)
        # z is returned as y when the activation is linear
        z2 = workspace.array("y" if linear else "z", (n * rows, filters), x.dtype)
        y2 = workspace.array("y", z2.shape, x.dtype) if relu else z2
        bias = self.bias if self.use_bias else self._no_bias()
        if direct:
            z4, y4 = z2.reshape(n, ho, wo, filters), y2.reshape(n, ho, wo, filters)
            x1 = x.reshape(x.shape[:3])

        def chunk(start, stop, _):
            r0, r1 = start * rows, stop * rows
            if direct:
                conv_fast.one_channel_chunk(x1[start:stop], self.kernel, bias, self.use_bias,
                                            relu, pads, z2 is not y2, z4[start:stop],
                                            y4[start:stop])
                return
            if pointwise or keep:
                chunk_cols = cols[r0:r1]
            else:                        # a per-thread buffer (`_backward_by_groups`)
                chunk_cols = workspace.thread_scratch("conv cols", (per_chunk * rows, depth),
                                                      x.dtype)[:r1 - r0]
            if not pointwise:
                conv_fast.fill_cols(x3[start:stop], kshape[2], geo, chunk_cols)
            np.matmul(chunk_cols, w2, out=z2[r0:r1])
            if relu:
                conv_fast.bias_act_kernel(z2[r0:r1], bias, self.use_bias, True, y2[r0:r1])
            elif self.use_bias:
                conv_fast.bias_act_inplace_kernel(z2[r0:r1], bias, True, False)

        threads.run_split(chunk, n, pieces=pieces)
        if not (linear or relu):
            y2 = self.activation(z2)
        out_shape = (n, ho, wo, filters)
        z, y = z2.reshape(out_shape), y2.reshape(out_shape)
        return y, ConvCache(x, pads, z=z, y=y, cols=cols, out_shape=out_shape, direct=direct)

    def _infer_fast(self, x, pads, pool=None):
        """Inference with ReLU or no activation: y = f(conv(x) + b) chunk by chunk, keeping
        nothing for backward (no z next to y; a backward after this recomputes what it needs,
        `_ensure_saved`). Each chunk's im2col goes to a small per-thread buffer that stays in
        cache instead of a batch-sized matrix (Coursera 13x13x64 -> 64 at batch 256: 71 MB),
        and bias + ReLU are applied in place. With `pool` (a MaxPooling2D, see
        `forward_fused`) each chunk's y is written to a per-thread buffer too and max-pooled
        from there; the pooled images are the result.

        One-channel inputs with few filters use the direct kernel (as in `_forward_fast`):
        LeNet 28x28x1 -> 6 k5 same, batch 256, float32, 2 threads: 5.1 -> 2.4 ms."""
        if self._winograd(x, pads):
            return self._winograd_forward(x, pads, pool)
        n, filters = x.shape[0], self.filters
        kshape = self.kernel.shape
        relu = self.activation is activations.relu
        ho, wo, rows, depth, pointwise, geo, x3 = self._layout(x, pads)
        direct = conv_fast.direct_one_channel(kshape, self.strides, self.dilation_rate)
        w2 = self.kernel.reshape(-1, filters)
        bias = self.bias if self.use_bias else self._no_bias()
        y_shape = (n, ho, wo, filters)
        tl = (int(pads[0][0]), int(pads[1][0]))
        if pool is None:
            y = workspace.array("y", y_shape, x.dtype)
            out = y
        else:
            pool_pads, pooled_hw, out, _ = _pooled_outputs(pool, y_shape, x.dtype, False)
        pieces = self._pieces(n, rows, depth + (filters if pool is not None else 0), x.dtype)
        per_chunk = -(-n // pieces)
        make_cols = _cols_maker(kshape[2])
        # Every thread's buffer must have the same layout, or BLAS may round differently on
        # each (one filter: OpenBLAS's matrix-vector kernel): a transposed (one-channel)
        # buffer's row stride is its length, so its name says the length, and the normal
        # and transposed layouts never share a name.
        cols_name = ("conv cols t%d" % (per_chunk * rows) if conv_fast.cols_transposed(kshape[2])
                     else "conv cols")

        one_call = (pool is not None and not pointwise
                    and self._one_call_chunks(pool, y_shape, x.dtype, direct))
        transposed, rgb3x3 = self._im2col_kind(x3, geo)
        wt = self._direct_weights() if direct and one_call else None
        lowest = np.finfo(x.dtype).min

        def chunk(start, stop, _):
            count = stop - start
            if one_call:                 # the same steps as below, one call (chunks.py)
                y4 = workspace.thread_scratch("conv y", (per_chunk, ho, wo, filters),
                                              x.dtype)[:count]
                if direct:
                    chunks.direct_pooled_forward(x3[start:stop], kshape[0], kshape[1], *tl,
                                                 wt, bias, self.use_bias, relu, y4, lowest,
                                                 False, out[start:stop], chunks.NO_ARGMAX)
                else:
                    cols = workspace.thread_scratch(cols_name, (per_chunk * rows, depth),
                                                    x.dtype, make_cols)
                    chunks.gemm_pooled_forward(x3[start:stop], kshape[2], *geo,
                                               cols.T if transposed else cols, transposed,
                                               rgb3x3, 0, w2, bias, self.use_bias, relu,
                                               y4.reshape(count * rows, filters), lowest,
                                               False, out[start:stop], chunks.NO_ARGMAX)
                return
            if pool is None:
                y4 = y[start:stop]
            else:
                y4 = workspace.thread_scratch("conv y", (per_chunk, ho, wo, filters),
                                              x.dtype)[:count]
            if direct:
                conv_fast.one_channel_chunk(x3[start:stop], self.kernel, bias, self.use_bias,
                                            relu, pads, False, y4, y4)
            else:
                y2 = y4.reshape(count * rows, filters)
                if pointwise:
                    cols = x3[start:stop].reshape(count * rows, depth)
                else:                    # laid out as new_cols lays out im2col matrices
                    cols = workspace.thread_scratch(cols_name, (per_chunk * rows, depth),
                                                    x.dtype, make_cols)[:count * rows]
                    conv_fast.fill_cols(x3[start:stop], kshape[2], geo, cols)
                np.matmul(cols, w2, out=y2)
                if relu or self.use_bias:
                    conv_fast.bias_act_inplace_kernel(y2, bias, self.use_bias, relu)
            if pool is not None:
                pool_fast.max_pool_images(y4, pool.pool_size, pool.strides, pool_pads,
                                          pooled_hw, out[start:stop])

        threads.run_split(chunk, n, pieces=pieces)
        return out, ConvCache(x, pads, out_shape=y_shape)

    def _train_pooled(self, x, pads, pool):
        """Training, fused with the MaxPooling2D after it. Per chunk of images: im2col,
        y = f(cols @ w2 + b) into a per-thread buffer, then max pooling with its argmax.
        Nothing conv-sized is kept: backward needs only the cell each window sends its
        gradient to (the argmax) and, for ReLU, whether that cell was positive -- if the
        pooled value is 0 it was not, its ReLU gradient is 0 and the argmax is set to -1 (no
        cell). So the pool's backward gives this layer dL/dz directly (`backward_fused`),
        exactly TF's ReluGrad(MaxPoolGrad(dy)): the windows' argmax cells are where both
        send anything. Coursera's first Conv2D + MaxPooling2D (28x28x1 -> 26x26x64 -> 13x13x64),
        batch 32, forward + backward, 2 threads, median of 60: 2.49 -> 1.68 ms.

        The im2col matrix is kept (a batch-sized array) only for one input channel, whose
        backward reads it in the fused pool-backward + dL/dw chunk (`_backward_first_pooled`);
        with more channels the chunks write it to a per-thread buffer and backward makes it
        again, group by group (`_backward_by_groups`), see there. Making it again for one
        channel too measured no gain (`fit`, 2 threads, ms per step, kept / made again,
        medians of 7 alternating: Python-ML CNN batch 256 52.9 / 52.7, batch 32 10.5 / 10.7;
        Coursera CNN batch 256 45.3 / 46.0, batch 32 7.41 / 7.58), so it is kept there."""
        if self._winograd(x, pads):
            return self._winograd_forward(x, pads, pool, training=True)
        if conv_fast.direct_one_channel(self.kernel.shape, self.strides, self.dilation_rate):
            return self._train_pooled_direct(x, pads, pool)
        n, filters = x.shape[0], self.filters
        kshape = self.kernel.shape
        relu = self.activation is activations.relu
        ho, wo, rows, depth, pointwise, geo, x3 = self._layout(x, pads)
        keep = pointwise or conv_fast.cols_transposed(kshape[2])
        if pointwise:
            cols = x.reshape(n * rows, depth)
        elif keep:
            cols = workspace.array("cols", (n * rows, depth), x.dtype, _cols_maker(kshape[2]))
        else:
            cols = None                  # per-thread buffers (`chunk_cols`)
        w2 = self.kernel.reshape(-1, filters)
        bias = self.bias if self.use_bias else self._no_bias()
        y_shape = (n, ho, wo, filters)
        pool_pads, pooled_hw, out, argmax = _pooled_outputs(pool, y_shape, x.dtype, True)
        pieces = self._pieces(n, rows, depth + filters, x.dtype)
        per_chunk = -(-n // pieces)
        one_call = not pointwise and self._one_call_chunks(pool, y_shape, x.dtype, False)
        transposed, rgb3x3 = self._im2col_kind(x3, geo)
        lowest = np.finfo(x.dtype).min

        def chunk(start, stop, _):
            r0, r1 = start * rows, stop * rows
            y2 = workspace.thread_scratch("conv y2", (per_chunk * rows, filters),
                                          x.dtype)[:r1 - r0]
            store, first = cols, r0      # where this chunk's im2col rows go
            if not keep:
                store, first = workspace.thread_scratch("conv cols", (per_chunk * rows, depth),
                                                        x.dtype), 0
            if one_call:                 # the same steps as below, one call (chunks.py)
                chunks.gemm_pooled_forward(x3[start:stop], kshape[2], *geo,
                                           store.T if transposed else store, transposed,
                                           rgb3x3, first, w2, bias, self.use_bias, relu, y2,
                                           lowest, True, out[start:stop], argmax[start:stop])
                return
            chunk_cols = store[first:first + r1 - r0]
            if not pointwise:
                conv_fast.fill_cols(x3[start:stop], kshape[2], geo, chunk_cols)
            np.matmul(chunk_cols, w2, out=y2)
            if relu or self.use_bias:
                conv_fast.bias_act_inplace_kernel(y2, bias, self.use_bias, relu)
            _pool_chunk(y2.reshape(stop - start, ho, wo, filters), pool, pool_pads, pooled_hw,
                        out[start:stop], argmax[start:stop], relu)

        threads.run_split(chunk, n, pieces=pieces)
        return out, ConvCache(x, pads, cols=cols, out_shape=y_shape, argmax=argmax,
                              tiles=pool._backward_tiles(y_shape))

    def _train_pooled_direct(self, x, pads, pool):
        """Training, fused with the MaxPooling2D after it, for a one-channel layer with few
        filters (LeNet's first): per chunk of images the direct kernel writes y into a
        per-thread buffer, which is max-pooled from there with its argmax (-1 for windows
        whose max is a ReLU zero, as in `_train_pooled`). Nothing conv-sized is kept;
        backward (`_backward_direct_pooled`) reads only x and the argmax."""
        n, filters = x.shape[0], self.filters
        relu = self.activation is activations.relu
        ho, wo, rows, depth, _, _, _ = self._layout(x, pads)
        x1 = x.reshape(x.shape[:3])
        bias = self.bias if self.use_bias else self._no_bias()
        y_shape = (n, ho, wo, filters)
        pool_pads, pooled_hw, out, argmax = _pooled_outputs(pool, y_shape, x.dtype, True)
        pieces = self._pieces(n, rows, depth, x.dtype)
        per_chunk = -(-n // pieces)
        one_call = self._one_call_chunks(pool, y_shape, x.dtype, True)
        wt = self._direct_weights() if one_call else None
        tl = (int(pads[0][0]), int(pads[1][0]))
        lowest = np.finfo(x.dtype).min
        kh, kw = self.kernel.shape[:2]

        def chunk(start, stop, _):
            y4 = workspace.thread_scratch("conv y", (per_chunk, ho, wo, filters),
                                          x.dtype)[:stop - start]
            if one_call:                 # the same steps as below, one call (chunks.py)
                chunks.direct_pooled_forward(x1[start:stop], kh, kw, *tl, wt, bias,
                                             self.use_bias, relu, y4, lowest, True,
                                             out[start:stop], argmax[start:stop])
                return
            conv_fast.one_channel_chunk(x1[start:stop], self.kernel, bias, self.use_bias,
                                        relu, pads, False, y4, y4)
            _pool_chunk(y4, pool, pool_pads, pooled_hw, out[start:stop], argmax[start:stop],
                        relu)

        threads.run_split(chunk, n, pieces=pieces)
        return out, ConvCache(x, pads, out_shape=y_shape, direct=True, argmax=argmax,
                              tiles=pool._backward_tiles(y_shape))

    def _backward_direct_pooled(self, dy, cache):
        """dL/dw and dL/db of `_train_pooled_direct`'s layer (a first layer: no dL/dx) from
        the pool's dy: per chunk of images (`_backward_direct`'s chunks) the pool's backward
        writes the chunk's dz into a per-thread buffer and conv1ch_rows_dw_kernel sums from
        it -- dz is already zero where the ReLU was off, so the kernel applies no mask. The
        same chunks and sums as the two layers' separate passes: the same bits."""
        x, (top, _), (left, _) = cache.x, *cache.pads
        n, ho, wo, filters = cache.out_shape
        kh, kw = self.kernel.shape[:2]
        pieces = self._pieces(n, ho * wo, kh * kw, x.dtype, backward=True)
        per_chunk = -(-n // pieces)
        acc = np.zeros((pieces, kh * kw, filters))
        db_parts = np.zeros((pieces, filters))
        x3 = x.reshape(x.shape[:3])

        def chunk(start, stop, k):
            dz = workspace.thread_scratch("conv dz", (per_chunk, ho, wo, filters),
                                          x.dtype)[:stop - start]
            pool_fast.max_pool_backward_images(dy[start:stop], cache.argmax[start:stop], dz,
                                               cache.tiles)
            conv_fast.conv1ch_rows_dw_kernel(x3[start:stop], kh, kw, int(top), int(left), dz,
                                             dz, False, acc[k], db_parts[k])

        threads.run_split(chunk, n, pieces=pieces)
        self._add_direct_grads(acc, db_parts, x.dtype)
        return None

    # ---- Winograd's F(2x2, 3x3) (kernels/winograd.py) ---------------------------------
    def _winograd(self, x, pads):
        """True when this call convolves by Winograd's F(2x2, 3x3) instead of im2col + GEMM:
        a 3x3 kernel, stride 1, no dilation, at least WINOGRAD_MIN_CHANNELS input channels
        and filters, and at least WINOGRAD_MIN_WORK direct multiply-adds in the call (see
        there for the measurements behind the rule)."""
        kshape = self.kernel.shape
        if (self._implementation != "fast"
                or not winograd.applies(kshape, self.strides, self.dilation_rate)
                or min(kshape[2], kshape[3]) < WINOGRAD_MIN_CHANNELS):
            return False
        ho, wo = conv_fast.geometry(x.shape, kshape, self.strides, pads, self.dilation_rate)
        return x.shape[0] * ho * wo * 9 * kshape[2] * kshape[3] >= WINOGRAD_MIN_WORK

    def _winograd_forward(self, x, pads, pool=None, training=False):
        """z = conv(x) + b and y = f(z) by Winograd, chunk by chunk of images on the threads
        (each chunk tile block by tile block, `winograd.convolve_images`). Like the im2col
        passes: training keeps z and y (nothing else: backward transforms x again); with
        `pool` each chunk's y goes to a per-thread buffer and is max-pooled from there (with
        the argmax in training); inference with ReLU / linear keeps nothing."""
        n, filters = x.shape[0], self.filters
        c = self.kernel.shape[2]
        dtype = x.dtype
        relu = self.activation is activations.relu
        linear = self.activation is activations.linear
        ho, wo = conv_fast.geometry(x.shape, self.kernel.shape, self.strides, pads,
                                    self.dilation_rate)
        (top, _), (left, _) = pads
        x3 = x.reshape(n, x.shape[1], x.shape[2] * c)
        u = winograd.kernel_transform(self.kernel, out=workspace.array(
            "winograd u", (16, c, filters), dtype))
        bias = self.bias if self.use_bias else self._no_bias()
        y_shape = (n, ho, wo, filters)

        def scratch(name, shape):
            return workspace.thread_scratch(name, shape, dtype)

        if pool is not None:
            pool_pads, pooled_hw, out, argmax = _pooled_outputs(pool, y_shape, dtype, training)
            pieces = self._pieces(n, ho * wo, filters, dtype)
            per_chunk = -(-n // pieces)
            usable = chunks.usable(pool, y_shape, dtype, True)
            lowest = np.finfo(dtype).min

            def pooled_chunk(start, stop, _):
                y4 = scratch("conv y", (per_chunk, ho, wo, filters))[:stop - start]
                if usable:                   # one call per chunk (chunks.py) when it may
                    th, tw, total, block, v, m = winograd.block_plan(y4.shape, c, dtype,
                                                                     scratch)
                    if winograd.one_call(total, block):
                        chunks.winograd_pooled_forward(
                            x3[start:stop], c, top, left, th, tw, total, block, u, bias,
                            self.use_bias, relu, y4, v, m, lowest, training,
                            out[start:stop], chunks.NO_ARGMAX if argmax is None
                            else argmax[start:stop])
                        return
                winograd.convolve_images(x3[start:stop], c, top, left, u, bias, self.use_bias,
                                         relu, y4, y4, False, scratch)
                arg = None if argmax is None else argmax[start:stop]
                _pool_chunk(y4, pool, pool_pads, pooled_hw, out[start:stop], arg, relu)

            threads.run_split(pooled_chunk, n, pieces=pieces)
            tiles = pool._backward_tiles(y_shape) if training else None
            return out, ConvCache(x, pads, out_shape=y_shape, argmax=argmax, tiles=tiles,
                                  winograd=True)
        keep_z = training or not (relu or linear)
        z = workspace.array("y" if linear else "z", y_shape, dtype) if keep_z else None
        y = z if linear and keep_z else workspace.array("y", y_shape, dtype)
        fused = relu or linear
        work = n * ho * wo * 9 * c * filters

        def chunk(start, stop, _):
            zc = y[start:stop] if z is None else z[start:stop]
            winograd.convolve_images(x3[start:stop], c, top, left, u, bias, self.use_bias,
                                     relu, zc, y[start:stop] if fused else zc,
                                     z is not None and fused and z is not y, scratch)

        threads.run_split(chunk, n, work)
        if not fused:
            y = self.activation(z)
        if not keep_z:
            return y, ConvCache(x, pads, out_shape=y_shape)
        return y, ConvCache(x, pads, z=z, y=y, out_shape=y_shape, winograd=True)

    def _winograd_backward(self, dz, cache, need_input_grad):
        """dL/dw and dL/dx by Winograd's transposed algorithm from dz = dL/dz (n, Ho, Wo, F);
        the bias gradient is done (`_backward_fast`). Per fixed group of images
        (`threads.parts`, from the shapes only) on the threads, block by block of tiles
        (`winograd.gradients_of_images`): Z = A dz A^T once, then the sums S = V^T Z of the
        group's tiles (float64; the groups' sums added in order at the end: the same bits at
        any thread count) and dL/dx of its images, B (Z U^T) B^T added tile by tile."""
        x, pads = cache.x, cache.pads
        n, ho, wo, filters = dz.shape
        c = self.kernel.shape[2]
        dtype = x.dtype
        (top, _), (left, _) = pads
        x3 = x.reshape(n, x.shape[1], x.shape[2] * c)
        groups = threads.bounds(n, threads.parts(n, n * ho * wo * 9 * c * filters))
        sums = (workspace.array("winograd sums", (len(groups), 16, c, filters), np.float64)
                if self.trainable else None)
        dx = dx3 = u = None
        if need_input_grad:
            dx = workspace.array("dx", x.shape, dtype)
            dx3 = dx.reshape(x3.shape)
            u = winograd.kernel_transform(self.kernel, out=workspace.array(
                "winograd u", (16, c, filters), dtype))

        def scratch(name, shape):
            return workspace.thread_scratch(name, shape, dtype)

        def group(k, start, stop):
            if dx3 is not None:
                dx3[start:stop] = 0                   # the tiles add into it
            winograd.gradients_of_images(x3[start:stop], c, top, left, dz[start:stop], u,
                                         None if sums is None else sums[k],
                                         None if dx3 is None else dx3[start:stop], scratch)

        threads.run_tasks([functools.partial(group, k, start, stop)
                           for k, (start, stop) in enumerate(groups)])
        if sums is not None:
            self.add_grad(0, winograd.weight_gradient(sums.sum(axis=0), dtype))
        return dx

    # ---- large images: row bands, fused with the max pooling after the layer ------------
    def _bands(self, x, pads, pool):
        """The row bands for `_pooled_bands`, or None when the chunk-of-images passes serve.

        A band is a run of output rows (p0, p1) of ONE image, a multiple of the pool's window
        height (strides = pool size, no pool padding, so the pool's windows never straddle
        two bands), with an im2col matrix of about BAND_BYTES: it stays in cache while the
        product reads it. Used when one image's im2col is at least BAND_MIN_BYTES and the
        layer does not run Winograd (horse-or-human's first, 3-channel layer; the 28x28
        lecture CNNs keep their tuned chunk-of-images passes). Rows the pooling never reads
        (the last row of an odd height) are not computed. The bands depend only on the
        shapes, never on the thread count."""
        kshape = self.kernel.shape
        if (pool.padding != "valid" or tuple(pool.strides) != tuple(pool.pool_size)
                or conv_fast._is_pointwise(kshape, self.strides, pads)
                or self._winograd(x, pads)):
            return None
        ho, wo = conv_fast.geometry(x.shape, kshape, self.strides, pads, self.dilation_rate)
        kh = int(pool.pool_size[0])
        pooled_h = ho // kh
        row_bytes = wo * kshape[0] * kshape[1] * kshape[2] * x.dtype.itemsize
        if pooled_h == 0 or ho * row_bytes < BAND_MIN_BYTES:
            return None
        count = -(-(pooled_h * kh * row_bytes) // BAND_BYTES)        # bands per image
        per_band = -(-pooled_h // count)                              # pooled rows per band
        return tuple((p0 * kh, min(p0 + per_band, pooled_h) * kh)
                     for p0 in range(0, pooled_h, per_band))

    def _band_groups(self, n):
        """Fixed groups of images, the units of work shared out to the threads; each keeps
        its own share of dw and db, added up in group order (the same sums in the same order
        at any thread count)."""
        return threads.bounds(n, min(n, BAND_GROUPS))

    def _band_geometry(self, geo, p0, p1):
        """The kernels' geometry arguments for output rows p0 .. p1 - 1 only: their windows
        start p0 * stride rows further down (the padding above shrinks by as much)."""
        kh, kw, sh, sw, dh, dw, top, left, _, wo = geo
        return kh, kw, sh, sw, dh, dw, top - p0 * sh, left, p1 - p0, wo

    def _pooled_bands(self, x, pads, pool, bands, training):
        """pool(f(conv(x) + b)) band by band (`_bands`): per band im2col into a per-thread
        buffer, the product, bias + activation in place, then the max pooling of the band
        (with its argmax in training: the cell index i*Wo + j within the band). Nothing
        conv-sized is kept, not even the im2col matrix: backward computes each band's again
        (`_backward_bands`), which costs less than writing it to memory and reading it back
        (measurements: see BAND_BYTES)."""
        n, filters = x.shape[0], self.filters
        kshape = self.kernel.shape
        relu = self.activation is activations.relu
        ho, wo, _, depth, _, geo, x3 = self._layout(x, pads)
        w2 = self.kernel.reshape(-1, filters)
        bias = self.bias if self.use_bias else self._no_bias()
        y_shape = (n, ho, wo, filters)
        _, pooled_hw, out, argmax = _pooled_outputs(pool, y_shape, x.dtype, training)
        kh = int(pool.pool_size[0])
        most = max(p1 - p0 for p0, p1 in bands) * wo

        def group(start, stop):
            cols_buf = workspace.thread_scratch("band cols", (most, depth), x.dtype)
            y_buf = workspace.thread_scratch("band y", (most, filters), x.dtype)
            for b in range(start, stop):
                for p0, p1 in bands:
                    rows = (p1 - p0) * wo
                    cols, y2 = cols_buf[:rows], y_buf[:rows]
                    conv_fast.fill_rows_cols(x3[b:b + 1], kshape[2],
                                             self._band_geometry(geo, p0, p1), cols)
                    np.matmul(cols, w2, out=y2)
                    if relu or self.use_bias:
                        conv_fast.bias_act_inplace_kernel(y2, bias, self.use_bias, relu)
                    pooled = out[b:b + 1, p0 // kh:p1 // kh]
                    arg = None if argmax is None else argmax[b:b + 1, p0 // kh:p1 // kh]
                    _pool_chunk(y2.reshape(1, p1 - p0, wo, filters), pool, (0, 0),
                                (pooled.shape[1], pooled_hw[1]), pooled, arg, relu)

        threads.run_tasks([functools.partial(group, start, stop)
                           for start, stop in self._band_groups(n)])
        return out, ConvCache(x, pads, out_shape=y_shape, argmax=argmax, bands=bands)

    def _backward_bands(self, dy, cache, pool, need_input_grad):
        """Backward of `_pooled_bands` (training), band by band again: dz of the band from
        the pooled gradient and the argmax (into a per-thread buffer), its column sums (db),
        the band's im2col again and dw += cols^T dz, and dx: dcols = dz w2^T added back onto
        the band's input rows (the bands of one image run in order on one thread, so their
        overlapping rows add up safely). dw and db are summed per image group
        (`_band_groups`) and the groups added in order: deterministic at any thread count."""
        trainable = self.trainable
        if not (trainable or need_input_grad):
            return None
        x, pads, bands, argmax = cache.x, cache.pads, cache.bands, cache.argmax
        n, filters = x.shape[0], self.filters
        kshape = self.kernel.shape
        dtype = x.dtype
        ho, wo, _, depth, _, geo, x3 = self._layout(x, pads)
        w2 = self.kernel.reshape(-1, filters)
        kh = int(pool.pool_size[0])
        most = max(p1 - p0 for p0, p1 in bands) * wo
        tiles = pool._backward_tiles((1, bands[0][1] - bands[0][0], wo, filters))
        groups = self._band_groups(n)
        dw_parts = np.zeros((len(groups), depth, filters), dtype) if trainable else None
        db_parts = np.zeros((len(groups), filters))                         # float64 sums
        dx = workspace.array("dx", x.shape, dtype) if need_input_grad else None
        dx3 = None if dx is None else dx.reshape(x3.shape)

        def group(k, start, stop):
            dz_buf = workspace.thread_scratch("band dz", (most, filters), dtype)
            cols_buf = (workspace.thread_scratch("band cols", (most, depth), dtype)
                        if trainable else None)
            d_buf = (workspace.thread_scratch("band dcols", (most, depth), dtype)
                     if need_input_grad else None)
            dw_band = (workspace.thread_scratch("band dw", (depth, filters), dtype)
                       if trainable else None)
            sums = np.empty(filters)
            for b in range(start, stop):
                for p0, p1 in bands:
                    rows = (p1 - p0) * wo
                    dz2 = dz_buf[:rows]
                    pool_fast.max_pool_backward_images(
                        dy[b:b + 1, p0 // kh:p1 // kh], argmax[b:b + 1, p0 // kh:p1 // kh],
                        dz2.reshape(1, p1 - p0, wo, filters), tiles)
                    conv_fast.column_sums_kernel(dz2, sums)
                    db_parts[k] += sums
                    band_geo = self._band_geometry(geo, p0, p1)
                    if trainable:
                        cols = cols_buf[:rows]
                        conv_fast.fill_rows_cols(x3[b:b + 1], kshape[2], band_geo, cols)
                        np.matmul(cols.T, dz2, out=dw_band)
                        dw_parts[k] += dw_band
                    if need_input_grad:
                        dcols = d_buf[:rows]
                        np.matmul(dz2, w2.T, out=dcols)
                        conv_fast.col2im_kernel(dcols, kshape[2], *band_geo, dx3[b:b + 1],
                                                p0 == bands[0][0])

        threads.run_tasks([functools.partial(group, k, start, stop)
                           for k, (start, stop) in enumerate(groups)])
        if trainable:
            self.add_grad(0, dw_parts.sum(axis=0, dtype=np.float64).astype(dtype).reshape(
                kshape))
            if self.use_bias:
                self.add_grad(1, db_parts.sum(axis=0).astype(dtype))
        return dx

    def _pieces(self, n, rows, depth, dtype, backward=False):
        """Image chunks: enough for the threads (`threads.parts`) and for the im2col rows of
        a chunk to stay in cache (about threads.CHUNK_BYTES each)."""
        work = (3 if backward else 1) * n * rows * depth * self.filters
        cache = -(-n * rows * depth * np.dtype(dtype).itemsize // threads.CHUNK_BYTES)
        return max(1, min(n, 64, max(threads.parts(n, work), cache)))

    # ---- backward ---------------------------------------------------------------------
    def _backward_fast(self, d, cache, relu, need_input_grad, pooled=None):
        """Gradients from d = dL/dy (relu=True: dz = d * (z > 0), fused) or d = dL/dz, or
        (d None) from `pooled`, dL/d(output of the max pooling fused after this layer) in
        training: its argmax (cache.argmax) sends each window's gradient to dz.

        1. dz and the bias gradient (float64 sums), chunk by chunk of images;
        2. after Winograd, `_winograd_backward`; where forward kept no im2col matrix (more
           than one input channel), `_backward_by_groups`, which makes it again; otherwise
           dw2 = cols^T dz2 as two products over the whole batch (each half of dw2's rows),
           and dx chunk by chunk (dcols = dz2 w2^T into a per-thread buffer that stays in
           cache, then col2im into the chunk's images of dx), all shared out by
           `threads.run_tasks`: the threads start on the dw halves, then work through the dx
           chunks. A first layer (no dx) splits dw's sum over image chunks instead
           (`_dw_by_chunks`).
        Why two whole-batch products rather than a share of dw per image chunk (measured
        when the matrix was kept for every layer): the shares are small products that run
        slower and must be added up. Coursera 13x13x64 -> 64, batch 32, 2 threads, median of
        40 runs: 4.7 ms by chunks, 4.1 ms this way (together with the vectorized col2im and
        the helpers' brief spin). Made again in cache, runs of images win instead (see
        `_backward_by_groups`)."""
        trainable = self.trainable
        if not (trainable or need_input_grad):
            return None
        x, pads, filters = cache.x, cache.pads, self.filters
        n, ho, wo, _ = cache.out_shape
        m = ho * wo
        cols = cache.cols
        if cols is None and cache.direct:   # forward ran a direct one-channel kernel
            if not need_input_grad and pooled is None:
                return self._backward_direct(d, cache, relu)
            cols = conv_fast.im2col(x, self.kernel.shape, self.strides, pads,
                                    self.dilation_rate)
        # forward kept no im2col matrix (more than one input channel): made again by groups
        again = cols is None and not cache.winograd
        dtype = x.dtype
        depth = self.kernel.shape[0] * self.kernel.shape[1] * self.kernel.shape[2]
        if pooled is not None:
            d = workspace.array("dz", cache.out_shape, dtype)       # written by dz_chunk
        d2 = d.reshape(-1, filters)
        if relu:
            z2 = cache.z.reshape(-1, filters)
            dz2 = workspace.array("dz", z2.shape, dtype)
        else:
            dz2 = d2
        sums = self.use_bias and trainable
        if relu or sums or pooled is not None:
            # a first layer sums over dw's chunks, as the fused pass does
            pieces = (threads.parts(n, n * m * filters) if need_input_grad or cache.winograd
                      else self._dw_pieces(n, m, depth))
            db_parts = np.zeros((pieces, filters))                   # float64 sums
            tiles = chunks.pool_tiles(cache.tiles)
            one_call = pooled is not None and chunks.usable_kernels(dtype)   # no product

            def dz_chunk(start, stop, k):
                r0, r1 = start * m, stop * m
                if one_call:             # the pool's backward and the sums, one call
                    chunks.pooled_dz(pooled[start:stop], cache.argmax[start:stop], tiles,
                                     d[start:stop], sums, db_parts[k])
                    return
                if pooled is not None:
                    pool_fast.max_pool_backward_images(pooled[start:stop],
                                                       cache.argmax[start:stop],
                                                       d[start:stop], cache.tiles)
                    if not sums:
                        return
                if relu:
                    conv_fast.relu_backward_kernel(z2[r0:r1], d2[r0:r1], dz2[r0:r1],
                                                   db_parts[k], True)
                else:
                    conv_fast.column_sums_kernel(dz2[r0:r1], db_parts[k])

            threads.run_split(dz_chunk, n, pieces=pieces)
            if sums:
                self.add_grad(1, db_parts.sum(axis=0).astype(dtype))
        if cache.winograd:
            return self._winograd_backward(dz2.reshape(cache.out_shape), cache, need_input_grad)
        if again:
            return self._backward_by_groups(dz2, cache, need_input_grad)
        dw2 = workspace.array("dw", (depth, filters), dtype) if trainable else None
        if not need_input_grad:
            self._dw_by_chunks(cols, dz2, dw2, n, m)
            self.add_grad(0, dw2.reshape(self.kernel.shape))
            return None
        w2 = self.kernel.reshape(-1, filters)
        dx = workspace.array("dx", x.shape, dtype)
        pointwise = conv_fast._is_pointwise(self.kernel.shape, self.strides, pads)
        geo = conv_fast._geometry_args(self.kernel.shape, self.strides, pads,
                                       self.dilation_rate, (ho, wo))
        dx3 = dx.reshape(n, x.shape[1], x.shape[2] * x.shape[3])
        pieces = max(threads.parts(n, n * m * depth * filters), self._pieces(n, m, depth, dtype))
        per_chunk = -(-n // pieces)

        one_call = depth >= 2 and m >= 2 and chunks.usable_products(dtype)

        def dx_chunk(start, stop):
            r0, r1 = start * m, stop * m
            if pointwise:                                            # dcols is dx itself
                np.matmul(dz2[r0:r1], w2.T, out=dx.reshape(-1, depth)[r0:r1])
                return
            dcols = workspace.thread_scratch("conv dcols", (per_chunk * m, depth),
                                             dtype)[:r1 - r0]
            if one_call:                 # the same two steps, one call (chunks.py)
                chunks.gemm_dx(dz2[r0:r1], w2, dcols, x.shape[3], *geo, dx3[start:stop])
                return
            np.matmul(dz2[r0:r1], w2.T, out=dcols)                  # dcols = dz2 w2^T
            conv_fast.col2im_kernel(dcols, x.shape[3], *geo, dx3[start:stop], True)

        # dw2 in two halves of its rows (cols' columns): two threads start on dw at once
        # (and a (288, 3872) @ (3872, 64) half took 1.8 ms against 3.8-4.4 for the whole)
        dw_tasks = [] if dw2 is None else [
            functools.partial(np.matmul, cols[:, k0:k1].T, dz2, out=dw2[k0:k1])
            for k0, k1 in threads.bounds(depth, 2) if k1 > k0]
        threads.run_tasks(dw_tasks + [functools.partial(dx_chunk, start, stop)
                                      for start, stop in threads.bounds(n, pieces)])
        if dw2 is not None:
            self.add_grad(0, dw2.reshape(self.kernel.shape))
        return dx

    def _backward_by_groups(self, dz2, cache, need_input_grad):
        """dL/dw and dL/dx (each if needed) after a pooled training pass that kept no im2col
        matrix (`_train_pooled`, more than one input channel), from dz2 = dL/dz (n*Ho*Wo, F):
        per fixed group of images (`threads.parts`, from the shapes only) on the threads,
        run by run of images whose im2col fills about threads.CHUNK_BYTES, im2col again into
        a per-thread buffer, the group's share of dw = cols^T dz (the runs' products added
        in order), and dcols = dz w2^T with col2im into the run's images of dx; the groups'
        shares are added in order at the end: the same bits at any thread count. As one
        compiled call per group (chunks.gemm_grads) where it may.

        Why make im2col again: it reads x (1/25 of cols for a 5x5 kernel) where keeping it
        meant writing a batch-sized matrix in forward and reading it back from memory in
        backward, and the dw products of runs in cache outrun one over the whole batch.
        (16384, 800)^T @ (16384, 64) (the Python-ML CNN's second layer at batch 256), one
        thread, ms: 22.9 for the whole batch's two halves, 23-25 by runs of images read
        back, 19.7-21 by runs made again (im2col included). In `fit`, 2 threads, float32,
        ms per step, kept -> made again (the code before and after, in separate processes
        taking turns, 6 rounds, best of 3 each, medians): Python-ML CNN batch 32 10.60 ->
        9.84, batch 256 55.8 -> 53.1; LeNet-5 batch 32 2.04 -> 1.98, batch 256 12.26 ->
        10.84; the new side was faster in every round at batch 256. It also spares the
        memory: the Python-ML CNN's matrix is 52 MB at batch 256."""
        x, pads, filters = cache.x, cache.pads, self.filters
        n, ho, wo, _ = cache.out_shape
        m = ho * wo
        channels, dtype = x.shape[3], x.dtype
        depth = self.kernel.shape[0] * self.kernel.shape[1] * channels
        dz2 = np.ascontiguousarray(dz2)              # (BLAS from Numba reads whole rows)
        trainable = self.trainable
        geo = conv_fast._geometry_args(self.kernel.shape, self.strides, pads,
                                       self.dilation_rate, (ho, wo))
        x3 = x.reshape(n, x.shape[1], x.shape[2] * channels)
        rgb3x3 = conv_fast.rgb3x3_applies(x3, channels, geo)
        groups = threads.bounds(n, threads.parts(n, n * m * depth * filters))
        run = max(1, min(max(b - a for a, b in groups),
                         threads.CHUNK_BYTES // (m * depth * np.dtype(dtype).itemsize)))
        shares = (workspace.array("dw parts", (len(groups), depth, filters), dtype)
                  if trainable else None)
        dx = workspace.array("dx", x.shape, dtype) if need_input_grad else None
        dx3 = None if dx is None else dx.reshape(x3.shape)
        w2 = self.kernel.reshape(-1, filters)
        one_call = depth >= 2 and m >= 2 and filters >= 2 and chunks.usable_products(dtype)
        nothing = np.empty((1, 1), dtype)

        def group(k, start, stop):
            cols = workspace.thread_scratch("conv cols", (run * m, depth), dtype)
            dcols = (workspace.thread_scratch("conv dcols", (run * m, depth), dtype)
                     if need_input_grad else nothing)
            part = workspace.thread_scratch("conv dw part", (depth, filters), dtype)
            share = shares[k] if trainable else nothing
            if stop == start:                # an empty batch: no runs, a share of zeros
                share[...] = 0
                return
            dz_rows = dz2[start * m:stop * m]
            if one_call:                     # the same steps as below, one call (chunks.py)
                chunks.gemm_grads(x3[start:stop], channels, *geo, rgb3x3, dz_rows, w2, run,
                                  cols, part, share, trainable, dcols, need_input_grad,
                                  x3[:1] if dx3 is None else dx3[start:stop])
                return
            for s0 in range(start, stop, run):
                s1 = min(stop, s0 + run)
                run_cols = cols[:(s1 - s0) * m]
                conv_fast.fill_rows_cols(x3[s0:s1], channels, geo, run_cols)
                run_dz = dz2[s0 * m:s1 * m]
                if trainable:
                    if s0 == start:
                        np.matmul(run_cols.T, run_dz, out=share)
                    else:
                        np.matmul(run_cols.T, run_dz, out=part)
                        share += part
                if need_input_grad:
                    run_dcols = dcols[:(s1 - s0) * m]
                    np.matmul(run_dz, w2.T, out=run_dcols)
                    conv_fast.col2im_kernel(run_dcols, channels, *geo, dx3[s0:s1], True)

        threads.run_tasks([functools.partial(group, k, start, stop)
                           for k, (start, stop) in enumerate(groups)])
        if trainable:
            self.add_grad(0, shares.sum(axis=0).reshape(self.kernel.shape))
        return dx

    def _backward_first_pooled(self, dy, cache, pool):
        """dL/dw and dL/db of a first layer (no dL/dx) fused with its max pooling, from the
        pool's dy: per chunk of images (`_dw_by_chunks`), the pool's backward writes the
        chunk's dz and, while it is in cache, its column sums (the bias gradient) and its
        share of dw = cols^T dz are taken. The same chunks, sums and products as the layers'
        separate passes (the pool's backward over the whole batch, then `_backward_fast`),
        so the same bits. Backward of first Conv2D + pooling pairs, batch 32, 2 threads, ms,
        the two ways alternating in one process (medians of 7 x 20 passes), two sessions on
        the shared VM: Coursera's (28x28x1 -> 64) 2.0 -> 0.8 and 0.80 -> 0.64, with 32
        filters 1.2 -> 0.6 and 0.58 -> 0.57, Python-ML's (5x5 -> 32) 1.07 -> 0.51 and
        1.32 -> 0.77; Coursera's at batch 256 7.0 -> 5.3 and 7.9 -> 6.2."""
        n, ho, wo, filters = cache.out_shape
        m = ho * wo
        cols = cache.cols
        depth, dtype = cols.shape[1], cols.dtype
        dz = workspace.array("dz", cache.out_shape, dtype)
        dz2 = dz.reshape(-1, filters)
        dw2 = workspace.array("dw", (depth, filters), dtype)
        db_parts = np.zeros((self._dw_pieces(n, m, depth), filters))       # float64 sums

        def dz_of_chunk(start, stop, k):
            pool_fast.max_pool_backward_images(dy[start:stop], cache.argmax[start:stop],
                                               dz[start:stop], cache.tiles)
            conv_fast.column_sums_kernel(dz2[start * m:stop * m], db_parts[k])

        def one_call(start, stop, k, share):      # dz_of_chunk and the share, one call
            chunks.gemm_pooled_dw(dy[start:stop], cache.argmax[start:stop],
                                  chunks.pool_tiles(cache.tiles), dz[start:stop],
                                  cols.T if transposed else cols, transposed, start * m,
                                  share, db_parts[k])

        transposed = conv_fast.cols_transposed(self.kernel.shape[2])
        fused = depth >= 2 and filters >= 2 and chunks.usable(pool, cache.out_shape, dtype, True)
        self._dw_by_chunks(cols, dz2, dw2, n, m, dz_of_chunk, one_call if fused else None)
        if self.use_bias:
            self.add_grad(1, db_parts.sum(axis=0).astype(dtype))
        self.add_grad(0, dw2.reshape(self.kernel.shape))
        return None

    def _dw_pieces(self, n, m, depth):
        """How many image chunks a first layer's dw = cols^T dz is summed over (and its bias
        gradient, so that the fused and the separate passes give the same bits)."""
        return threads.parts(n, n * m * depth * self.filters)

    def _dw_by_chunks(self, cols, dz2, dw2, n, m, prepare=None, one_call=None):
        """dw2 = cols^T dz2 as a sum over image chunks (`_dw_pieces`), one share per chunk
        (on the threads), added up at the end. `prepare(start, stop, k)`, if given, first
        writes chunk k's rows of dz2 (they are then read while still in cache);
        `one_call(start, stop, k, share)` instead does both in one compiled call."""
        filters, depth = dz2.shape[1], cols.shape[1]
        pieces = self._dw_pieces(n, m, depth)
        extra = workspace.array("dw parts", (pieces - 1, depth, filters), dw2.dtype)
        shares = [dw2] + list(extra)

        def chunk(start, stop, k):
            if one_call is not None:
                one_call(start, stop, k, shares[k])
                return
            if prepare is not None:
                prepare(start, stop, k)
            np.matmul(cols[start * m:stop * m].T, dz2[start * m:stop * m], out=shares[k])

        threads.run_split(chunk, n, pieces=pieces)
        if pieces > 1:
            dw2 += extra.sum(axis=0)

    def _add_direct_grads(self, acc, db_parts, dtype):
        """dL/dw and dL/db from conv1ch_rows_dw_kernel's per-chunk sums (acc: (chunks,
        kh*kw, F), db_parts: (chunks, F), float64), added in chunk order."""
        self.add_grad(0, acc.sum(axis=0).reshape(self.kernel.shape).astype(dtype))
        if self.use_bias:
            self.add_grad(1, db_parts.sum(axis=0).astype(dtype))

    def _backward_direct(self, d, cache, relu):
        """dw and db of a one-channel first layer whose forward ran conv1ch_rows_kernel in
        training: conv1ch_rows_dw_kernel per image chunk, no im2col matrix at all."""
        x, (top, _), (left, _) = cache.x, *cache.pads
        z = cache.z
        n, ho, wo, filters = z.shape
        kh, kw = self.kernel.shape[:2]
        pieces = self._pieces(n, ho * wo, kh * kw, x.dtype, backward=True)
        acc = np.zeros((pieces, kh * kw, filters))
        db_parts = np.zeros((pieces, filters))
        x3, d4 = x.reshape(x.shape[:3]), d.reshape(z.shape)

        def chunk(start, stop, k):
            conv_fast.conv1ch_rows_dw_kernel(x3[start:stop], kh, kw, int(top), int(left),
                                             z[start:stop], d4[start:stop], relu, acc[k],
                                             db_parts[k])

        threads.run_split(chunk, n, pieces=pieces)
        self._add_direct_grads(acc, db_parts, x.dtype)
        return None

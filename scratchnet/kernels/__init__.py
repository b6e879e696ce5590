"""Compute kernels behind the layers, each in two versions side by side.

`<op>_naive`: the math spelled out (loops, plain NumPy), the one to read beside the lecture.
`<op>_fast`: the same sums laid out for speed (Numba, BLAS); the layers use these. Tests
check that the two agree (tests/test_<layer>_naive_vs_fast.py).

conv_naive / conv_fast: 2-D convolution (`scratchnet.layers.conv.Conv2D`).
pool_naive / pool_fast: max and average pooling (`scratchnet.layers.pooling`).
spin: how the helper threads of `scratchnet.threads` wait briefly without sleeping.
"""

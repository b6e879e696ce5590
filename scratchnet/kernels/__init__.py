"""Compute kernels behind the layers, each in two versions side by side.

`<op>_naive`: the math spelled out (loops, plain NumPy), the one to read beside the lecture.
`<op>_fast`: the same sums laid out for speed (Numba, BLAS); the layers use these. Tests
check that the two agree (tests/test_<layer>_naive_vs_fast.py).

conv_naive / conv_fast: 2-D convolution (`scratchnet.layers.conv.Conv2D`).
winograd: 3x3 stride-1 convolution by Winograd's F(2x2, 3x3), its readable NumPy version
    (`forward_numpy`, `backward_numpy`) beside the Numba transforms Conv2D runs.
pool_naive / pool_fast: max and average pooling (`scratchnet.layers.pooling`).
batchnorm_fast: BatchNormalization's sums (its readable version is in the layer file).
spin: how the helper threads of `scratchnet.threads` wait briefly without sleeping.
blas: BLAS's gemm (NumPy's own OpenBLAS) callable from Numba kernels.
chunks: a chunk of a Conv2D + MaxPooling2D pass as one compiled call (its kernels in order,
    the product by `blas.gemm`), so that threads do not wait for the GIL between them.

`implementation_switch` makes the `implementation` property with which a layer or an
optimizer picks between its two versions.
"""


def implementation_switch(choices, doc):
    """A property `implementation`, one of `choices` (checked when set; the first is the
    default the owner sets in __init__)."""
    def get(self):
        return self._implementation

    def set_(self, value):
        if value not in choices:
            owner = type(self).__name__
            name = getattr(self, "name", None)
            raise ValueError(f"{owner}{f' {name!r}' if name else ''}: implementation must be "
                             f"one of {choices}, received {value!r}")
        self._implementation = value

    return property(get, set_, doc=doc)

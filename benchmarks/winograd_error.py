"""How far Winograd's float32 results fall from the exact convolution: F(2x2, 3x3), which
Conv2D runs, and F(4x4, 3x3) and F(2x2, 5x5), which it does not (scratchnet/kernels/
winograd.py).

    python benchmarks/winograd_error.py [--seed 0] [--out DIR]

For 3x3 and 5x5 layers of the lecture networks' sizes (ReLU outputs as inputs, He-scaled
kernels, random dz), the readable versions `winograd.forward_numpy` / `backward_numpy` run in
float32 with each algorithm's matrices; the reference is the float64 direct convolution
(im2col + GEMM, `conv_fast`). The 5x5 layer also shows the float32 direct convolution
(`conv_fast`, what Conv2D runs there) against the same reference. For forward, dL/dx and dL/dw it reports the largest error, the largest
value, and the share of entries outside the float32 parity tolerance of tests/tolerances.py
(|a - b| <= ATOL + RTOL |b|) -- the rule every parity test applies against TensorFlow, whose
own float32 convolution lands next to the exact one. JSON and Markdown go to
benchmarks/results/winograd_error.{json,md}.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
RESULTS_DIR = os.path.join(HERE, "results")

from bench import write_atomically  # noqa: E402
from scratchnet.kernels import conv_fast, winograd  # noqa: E402
from tolerances import tolerance  # noqa: E402

# (name, batch, height, width, channels, filters, padding, kernel size)
LAYERS = [
    ("Coursera CNN, second Conv2D", 8, 13, 13, 64, 64, "valid", 3),
    ("Coursera CNN (32 filters), second Conv2D", 8, 13, 13, 32, 32, "valid", 3),
    ("horse-or-human 150x150, second Conv2D", 2, 74, 74, 16, 32, "valid", 3),
    ("horse-or-human 150x150, third Conv2D", 2, 36, 36, 32, 64, "valid", 3),
    ("a 'same' layer", 4, 16, 16, 32, 32, "same", 3),
    ("Python-ML CNN, second Conv2D", 16, 12, 12, 32, 64, "valid", 5),
]
# per kernel size; None: the float32 direct convolution (im2col + GEMM)
ALGORITHMS = {3: {"F(2x2, 3x3)": winograd.F2x2, "F(4x4, 3x3)": winograd.F4x4},
              5: {"F(2x2, 5x5)": winograd.F2x2_5x5, "direct (im2col + GEMM)": None}}


def exact(x, kernel, dz, pads):
    """Forward, dL/dx and dL/dw of the direct convolution, in float64."""
    x, kernel, dz = (a.astype(np.float64) for a in (x, kernel, dz))
    z, _ = conv_fast.conv2d_forward(x, kernel, None, (1, 1), pads, (1, 1))
    dx, dw, _ = conv_fast.conv2d_backward(x, kernel, dz, (1, 1), pads, (1, 1))
    return z, dx, dw


def compare(actual, expected):
    rtol, atol = tolerance("float32")
    error = np.abs(actual.astype(np.float64) - expected)
    outside = error > atol + rtol * np.abs(expected)
    return {"max_error": float(error.max()), "max_value": float(np.abs(expected).max()),
            "outside_share": float(outside.mean()), "outside": int(outside.sum()),
            "entries": int(outside.size)}


def measure(seed):
    rng = np.random.default_rng(seed)
    rows = []
    for name, n, h, w, c, f, padding, k in LAYERS:
        half = k // 2
        pads = ((half, half), (half, half)) if padding == "same" else ((0, 0), (0, 0))
        ho, wo = (h, w) if padding == "same" else (h - k + 1, w - k + 1)
        x = np.maximum(rng.standard_normal((n, h, w, c)), 0).astype(np.float32)
        kernel = (rng.standard_normal((k, k, c, f)) * np.sqrt(2 / (k * k * c))).astype(
            np.float32)
        dz = (rng.standard_normal((n, ho, wo, f)) * 1e-2).astype(np.float32)
        reference = exact(x, kernel, dz, pads)
        for algorithm, matrices in ALGORITHMS[k].items():
            if matrices is None:
                z, _ = conv_fast.conv2d_forward(x, kernel, None, (1, 1), pads, (1, 1))
                dx, dw, _ = conv_fast.conv2d_backward(x, kernel, dz, (1, 1), pads, (1, 1))
            else:
                z = winograd.forward_numpy(x, kernel, pads, matrices)
                dx, dw = winograd.backward_numpy(x, kernel, dz, pads, matrices)
            for what, actual, expected in zip(("forward", "dL/dx", "dL/dw"), (z, dx, dw),
                                              reference):
                rows.append({"layer": name, "shape": f"{n}x{h}x{w}x{c} -> {f}, {k}x{k}",
                             "algorithm": algorithm, "what": what,
                             **compare(actual, expected)})
    return rows


def markdown(rows, seed):
    rtol, atol = tolerance("float32")
    lines = ["# Winograd in float32: error against the exact convolution", "",
             f"`python benchmarks/winograd_error.py --seed {seed}`: the readable versions in "
             "float32 against the float64 direct convolution; 'outside' = entries with "
             f"|a - b| > {atol:g} + {rtol:g} |b| (tests/tolerances.py, float32).", "",
             "| layer | shape | algorithm | pass | largest error | largest value | outside |",
             "|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['layer']} | {r['shape']} | {r['algorithm']} | {r['what']} | "
                     f"{r['max_error']:.2e} | {r['max_value']:.2e} | {r['outside']:,} of "
                     f"{r['entries']:,} ({100 * r['outside_share']:.3f}%) |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=RESULTS_DIR)
    args = parser.parse_args(argv)
    rows = measure(args.seed)
    os.makedirs(args.out, exist_ok=True)
    write_atomically(os.path.join(args.out, "winograd_error.json"),
                     lambda f: f.write(json.dumps({"seed": args.seed, "rows": rows},
                                                  indent=1).encode()))
    text = markdown(rows, args.seed)
    write_atomically(os.path.join(args.out, "winograd_error.md"),
                     lambda f: f.write(text.encode()))
    print(text)


if __name__ == "__main__":
    main()

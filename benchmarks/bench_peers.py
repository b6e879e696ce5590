"""scratchnet vs another from-scratch library: DeZero (PyPI `dezero`, "Deep Learning from
Scratch 3"; NumPy, define-by-run autograd, im2col convolutions).

    python benchmarks/bench_peers.py [--repeats 3] [--quick] [--out DIR]

The lecture MLP (784 -> 128 relu -> 10, Adam, batch 32) and the Coursera CNN (Conv 64 3x3
relu, 2x2 max pool, Conv 64 3x3 relu, 2x2 max pool, Dense 128 relu, Dense 10; Adam, batch 32)
built in both, trained on the same random images (one epoch over `samples` images, after a
warm-up) and run for inference at batch 256. DeZero is driven by its own idiom: a Python
loop over batches, `loss.backward()`, `optimizer.update()` (NCHW images for its Conv2d);
scratchnet by `fit` / `predict`. Each library uses its own defaults for threads (DeZero:
NumPy's BLAS threads; scratchnet: its own, BLAS at one thread inside fit). Medians of
`--repeats`, alternating which library goes first; JSON and Markdown go to
benchmarks/results/peers.{json,md}.
"""
import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
RESULTS_DIR = os.path.join(HERE, "results")

from bench import write_atomically  # noqa: E402


def scratchnet_side(model_name):
    import scratchnet

    keras = scratchnet.keras
    L = keras.layers
    if model_name == "mlp":
        model = keras.Sequential([keras.Input((28, 28)), L.Flatten(),
                                  L.Dense(128, activation="relu"),
                                  L.Dense(10, activation="softmax")])
    else:
        model = keras.Sequential([
            keras.Input((28, 28, 1)), L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2),
            L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
            L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")

    def train(x, y, batch):
        model.fit(x if model_name == "mlp" else x[..., None], y, batch_size=batch, epochs=1,
                  verbose=0, shuffle=False)

    def predict(x, batch):
        model.predict(x if model_name == "mlp" else x[..., None], batch_size=batch, verbose=0)

    return train, predict


def import_dezero():
    """DeZero 0.0.13 (the latest on PyPI) uses `np.int`, which NumPy 2 removed, at import
    time (in its dataset helpers, unused here): the old alias (the builtin int) is put back
    for it."""
    if not hasattr(np, "int"):
        np.int = int
    import dezero
    return dezero


def dezero_side(model_name):
    dezero = import_dezero()
    import dezero.functions as F
    import dezero.layers as L

    class MLP(dezero.Model):
        def __init__(self):
            super().__init__()
            self.l1, self.l2 = L.Linear(128), L.Linear(10)

        def forward(self, x):
            return self.l2(F.relu(self.l1(x)))

    class CNN(dezero.Model):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = L.Conv2d(64, 3), L.Conv2d(64, 3)
            self.l1, self.l2 = L.Linear(128), L.Linear(10)

        def forward(self, x):
            x = F.pooling(F.relu(self.c1(x)), 2, 2)
            x = F.pooling(F.relu(self.c2(x)), 2, 2)
            x = F.reshape(x, (x.shape[0], -1))
            return self.l2(F.relu(self.l1(x)))

    model = MLP() if model_name == "mlp" else CNN()
    optimizer = dezero.optimizers.Adam().setup(model)

    def shaped(x):
        return x.reshape(len(x), -1) if model_name == "mlp" else x[:, None]

    def train(x, y, batch):
        x = shaped(x)
        for start in range(0, len(x), batch):
            loss = F.softmax_cross_entropy(model(x[start:start + batch]), y[start:start + batch])
            model.cleargrads()
            loss.backward()
            optimizer.update()

    def predict(x, batch):
        x = shaped(x)
        with dezero.test_mode(), dezero.no_grad():
            for start in range(0, len(x), batch):
                model(x[start:start + batch])

    return train, predict


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=RESULTS_DIR)
    args = parser.parse_args(argv)
    dezero = import_dezero()

    rng = np.random.default_rng(0)
    rows = []
    for model_name, samples in (("mlp", 12_800), ("coursera_cnn", 1_280)):
        samples //= 5 if args.quick else 1
        x = rng.random((samples, 28, 28)).astype(np.float32)
        y = rng.integers(0, 10, samples)
        sides = {"scratchnet": scratchnet_side(model_name), "DeZero": dezero_side(model_name)}
        for train, predict in sides.values():                          # warm-up
            train(x[:320], y[:320], 32)
            predict(x[:512], 256)
        rates = {(side, task): [] for side in sides for task in ("train", "predict")}
        for repeat in range(args.repeats):
            order = list(sides) if repeat % 2 == 0 else list(sides)[::-1]
            for side in order:
                train, predict = sides[side]
                start = time.perf_counter()
                train(x, y, 32)
                rates[(side, "train")].append(samples / (time.perf_counter() - start))
                start = time.perf_counter()
                predict(x, 256)
                rates[(side, "predict")].append(samples / (time.perf_counter() - start))
        for task, batch in (("train", 32), ("predict", 256)):
            ours = statistics.median(rates[("scratchnet", task)])
            theirs = statistics.median(rates[("DeZero", task)])
            rows.append({"model": model_name, "task": task, "batch": batch, "samples": samples,
                         "scratchnet img/s": round(ours, 1), "DeZero img/s": round(theirs, 1),
                         "ratio": round(ours / theirs, 2)})
            print(json.dumps(rows[-1]), flush=True)
    report = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "dezero": dezero.__version__,
              "cores": os.cpu_count(), "repeats": args.repeats, "quick": args.quick,
              "rows": rows}
    lines = ["# scratchnet vs DeZero (from-scratch peers)", "",
             f"- Date: {report['date']}; DeZero {report['dezero']}; {report['cores']} cores; "
             f"medians of {args.repeats} alternating runs" + (" (--quick)" if args.quick else ""),
             "", "| model | task | batch | scratchnet img/s | DeZero img/s | ratio |",
             "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['task']} | {r['batch']} | {r['scratchnet img/s']:,.1f} | "
              f"{r['DeZero img/s']:,.1f} | {r['ratio']:.2f}x |" for r in rows]
    os.makedirs(args.out, exist_ok=True)
    write_atomically(os.path.join(args.out, "peers.json"),
                     lambda f: f.write(json.dumps(report, indent=2).encode()))
    write_atomically(os.path.join(args.out, "peers.md"),
                     lambda f: f.write(("\n".join(lines) + "\n").encode()))


if __name__ == "__main__":
    main()

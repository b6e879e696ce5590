"""scratchnet vs TensorFlow on the lecture models: throughput, GFLOP/s, per-layer times.

    python benchmarks/bench.py [--models mlp coursera_cnn ...] [--repeats 3] [--quick]
                               [--data auto|lecture|random] [--threads N] [--no-tf]
                               [--no-layers] [--thread-study] [--out DIR]

Every trainable model of the lecture registry (`scratchnet.lecture_models`, the same one
`scratchnet demo --model NAME` uses) is timed on both sides in the same run, float32: scratchnet
builds it (seed 0, compiled as the lecture compiles it) and `reference.to_keras` makes the
tf.keras twin with the same weights and compile (when to_keras cannot convert a layer, the
registry builder builds the twin with `tf.keras` and the weights are copied). TensorFlow runs
on the GPU when it sees one (reference.device()), else on the CPU. For each model:

* training at batch 32 and 256: `fit(x, y, batch_size=B, epochs=1, verbose=0)` over a fixed
  number of samples (per model, scaled to its cost; a multiple of B so every batch is full),
  after a warm-up fit of 10 batches that compiles everything (Numba kernels, tf.function);
* inference: `predict(x_test, batch_size=256, verbose=0)` after a warm-up predict;
* achieved GFLOP/s of each side: images/s x the model's FLOPs per image, counted
  analytically per layer -- Conv2D 2*Ho*Wo*kh*kw*C*F and Dense 2*in*out per sample forward;
  training is x3 (the forward product, dL/dW and dL/dx) except the first weighted layer, which
  needs no dL/dx (x2). Pooling, activations, bias, loss and optimizer are not counted. These
  are compared with the machine's float32 matmul peak, measured at the start of the run with
  a 1024x1024 NumPy matmul on 1 and on all (up to 2) BLAS threads;
* a per-layer breakdown of scratchnet's batch-32 training step: forward and backward ms per
  layer per step, from timing every layer.forward / layer.backward call over a few dozen
  steps of `fit` ("other" = the rest of the step: loss, optimizer, batching).

Each throughput is measured `--repeats` times; tables show the median (the JSON keeps every
repeat). Results go to benchmarks/results/latest.{json,md,png}, each written atomically (a
temp file, then os.replace). `--quick` is a smoke run (about 1/5 of the samples, 1 repeat).
"""
import argparse
import contextlib
import dataclasses
import functools
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from scratchnet import demo, lecture_models, threads  # noqa: E402

RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
THREAD_ENV = ("SCRATCHNET_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
              "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_CORETYPE", "TF_NUM_INTRAOP_THREADS",
              "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS")


# ---- what to time --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BenchSpec:
    """What to time for one registry model (`model` is a key of lecture_models.MODELS).

    Sample counts are per timed call, chosen so one call takes roughly 2-6 s on the slower side
    of a 2-core machine; --quick divides them by 5.
    """
    model: str
    train_samples: dict            # batch -> samples per timed fit
    predict_samples: int
    layer_steps: int = 40          # batch-32 steps timed for the per-layer breakdown
    train_batches: tuple = (32, 256)
    predict_batch: int = 256
    warmup_batches: int = 10


BENCHMARKS = {
    "mlp": BenchSpec("mlp", {32: 60000, 256: 60000}, 10000, layer_steps=300),
    "coursera_cnn": BenchSpec("coursera_cnn", {32: 6400, 256: 7680}, 10000),
    "coursera_cnn32": BenchSpec("coursera_cnn32", {32: 12800, 256: 15360}, 10000),
    "lenet5": BenchSpec("lenet5", {32: 16000, 256: 15360}, 10000),
    "lenet5_bn": BenchSpec("lenet5_bn", {32: 12800, 256: 12800}, 10000),
    "python_ml_cnn": BenchSpec("python_ml_cnn", {32: 6400, 256: 7680}, 10000),
}
# the conv models written with the Functional API: the same work, timed the same way
for _name in ("coursera_cnn", "coursera_cnn32", "lenet5", "python_ml_cnn"):
    BENCHMARKS[f"{_name}_functional"] = dataclasses.replace(BENCHMARKS[_name],
                                                            model=f"{_name}_functional")


# ---- helpers ------------------------------------------------------------------------------
def write_atomically(path, write):
    """write(file) into a temp file next to `path`, then os.replace it into place."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=os.path.basename(path) + ".",
                               suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_info():
    from threadpoolctl import threadpool_info

    return [{k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info() if p.get("user_api") == "blas"]


def loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure_peak(size=1024, repeats=7):
    """float32 sgemm GFLOP/s of NumPy's BLAS ({threads: best GFLOP/s}) on 1 and all cores."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((size, size), dtype=np.float32) for _ in range(2))
    out = {}
    for count in sorted({1, min(2, os.cpu_count() or 1), os.cpu_count() or 1}):
        with threadpool_limits(limits=count, user_api="blas"):
            a @ b
            best = min(timed(lambda: a @ b) for _ in range(repeats))
        out[count] = 2.0 * size ** 3 / best / 1e9
    return out


# ---- FLOPs --------------------------------------------------------------------------------
def layer_flops(model):
    """[(layer name, type, forward FLOPs per sample, training FLOPs per sample)] for the layers
    that do products (Conv2D, Dense); the first of them needs no dL/dx, hence x2, others x3."""
    rows, first = [], True
    for layer in model.layers:
        out_shape = tuple(layer.output_shape)
        kind = type(layer).__name__
        forward = 0
        if kind in ("Conv2D", "Convolution2D"):
            kh, kw, c, f = layer.kernel.shape
            forward = 2 * out_shape[1] * out_shape[2] * kh * kw * c * f
        elif kind == "Dense":
            n_in, n_out = layer.kernel.shape
            positions = int(np.prod(out_shape[1:-1])) if len(out_shape) > 2 else 1
            forward = 2 * n_in * n_out * positions
        if forward:
            rows.append((layer.name, kind, forward, forward * (2 if first else 3)))
            first = False
    return rows


def model_flops(model):
    rows = layer_flops(model)
    return sum(r[2] for r in rows), sum(r[3] for r in rows), rows


# ---- data and models ----------------------------------------------------------------------
def load_data(spec, choice):
    """((x_train, y_train), (x_test, y_test)) preprocessed for `spec`, and the data's name."""
    data, used = None, "random"
    if choice in ("auto", "lecture") and spec.dataset:
        try:
            data, used = demo.load_dataset(spec.dataset), spec.dataset
        except Exception as error:  # DatasetUnavailableError, or a dataset not cached
            if choice != "auto":
                raise
            print(f"{spec.dataset} unavailable ({type(error).__name__}); using random data")
    if data is None:
        data = (spec.random_data(60000, seed=0), spec.random_data(10000, seed=1))
    (x_train, y_train), (x_test, y_test) = data
    return ((spec.preprocess(x_train), spec.prepare_labels(y_train)),
            (spec.preprocess(x_test), spec.prepare_labels(y_test))), used


def build_pair(spec, with_tf):
    scratch = demo.build_scratch_model(spec, 0, "float32")
    if not with_tf:
        return scratch, None, None
    twin, _, how = demo.tf_twin(scratch, 0, spec)
    return scratch, twin, how


def tf_device_scope(side):
    if side != "tensorflow":
        import contextlib

        return contextlib.nullcontext()
    import tensorflow as tf
    import reference

    return tf.device(reference.device())


# ---- measurements -------------------------------------------------------------------------
def prepare_training(model, x, y, batch, samples, warmup_batches):
    """A warm-up fit, then (samples per timed call, the timed call: one epoch of fit)."""
    n = max(batch, samples // batch * batch)
    n = min(n, len(x) // batch * batch)
    warm = min(warmup_batches * batch, n)
    model.fit(x[:warm], y[:warm], batch_size=batch, epochs=1, verbose=0)
    return n, lambda: model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0)


def prepare_predict(model, x, batch, samples):
    """A warm-up predict, then (samples per timed call, the timed call)."""
    n = min(samples, len(x))
    model.predict(x[:min(4 * batch, n)], batch_size=batch, verbose=0)
    return n, lambda: model.predict(x[:n], batch_size=batch, verbose=0)


def measure_alternating(calls, repeats):
    """{side: [samples/s of each repeat]} for calls = {side: (samples, timed call, context)}:
    the sides take turns (scratchnet, TF, scratchnet, TF, ...), so that a slow stretch of
    this shared machine falls on both sides rather than on one side's every run."""
    rates = {side: [] for side in calls}
    for _ in range(repeats):
        for side, (n, call, context) in calls.items():
            with context():
                rates[side].append(n / timed(call))
    return rates


def layer_breakdown(model, x, y, batch, steps):
    """Forward/backward ms per layer per training step, timed around every layer call."""
    totals = {layer.name: [0.0, 0.0] for layer in model.layers}
    patched = []

    def wrap(layer, method, slot, state):
        original = getattr(layer, method)

        def timed_call(*args, **kwargs):
            if state["depth"]:  # Dense.backward calls backward_from_logits: count it once
                return original(*args, **kwargs)
            state["depth"] += 1
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                totals[layer.name][slot] += time.perf_counter() - start
                state["depth"] -= 1

        setattr(layer, method, timed_call)  # an instance attribute shadows the method
        patched.append((layer, method))

    for layer in model.layers:
        forward_state = {"depth": 0}
        wrap(layer, "forward", 0, forward_state)
        if hasattr(layer, "forward_fused"):      # Conv2D + MaxPooling2D: both, under the conv
            wrap(layer, "forward_fused", 0, forward_state)
        backward_state = {"depth": 0}
        for method in ("backward", "backward_from_logits", "backward_fused"):
            if hasattr(layer, method):
                wrap(layer, method, 1, backward_state)
    n = steps * batch
    try:
        model.fit(x[:batch * 2], y[:batch * 2], batch_size=batch, epochs=1, verbose=0)
        for values in totals.values():
            values[:] = [0.0, 0.0]
        wall = timed(lambda: model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0,
                                       shuffle=False))
    finally:
        for layer, method in patched:
            try:
                delattr(layer, method)
            except AttributeError:
                pass
    rows = [{"layer": layer.name, "type": type(layer).__name__,
             "forward_ms": 1e3 * totals[layer.name][0] / steps,
             "backward_ms": 1e3 * totals[layer.name][1] / steps} for layer in model.layers]
    step_ms = 1e3 * wall / steps
    layers_ms = sum(r["forward_ms"] + r["backward_ms"] for r in rows)
    return {"batch": batch, "steps": steps, "step_ms": step_ms, "layers": rows,
            "other_ms": step_ms - layers_ms}


def run_model(bench, args, with_tf, log):
    spec = lecture_models.get(bench.model)
    ((x_train, y_train), (x_test, _)), data_used = load_data(spec, args.data)
    scale = 5 if args.quick else 1
    forward_flops, train_flops, per_layer = None, None, None
    rows, breakdown, twin_from = [], None, None
    tasks = [("train", b, max(b, bench.train_samples[b] // scale)) for b in bench.train_batches]
    tasks.append(("predict", bench.predict_batch, max(bench.predict_batch,
                                                      bench.predict_samples // scale)))
    for task, batch, samples in tasks:
        scratch, twin, how = build_pair(spec, with_tf)
        twin_from = twin_from or how
        if forward_flops is None:
            forward_flops, train_flops, per_layer = model_flops(scratch)
        row = {"model": bench.model, "task": task, "batch": batch, "data": data_used}
        calls = {}
        for side, model in (("scratchnet", scratch), ("tensorflow", twin)):
            if model is None:
                continue
            log(f"  {bench.model}: {task}, batch {batch}, {side}: warm-up ...")
            with tf_device_scope(side):
                if task == "train":
                    n, call = prepare_training(model, x_train, y_train, batch, samples,
                                               bench.warmup_batches)
                else:
                    n, call = prepare_predict(model, x_test, batch, samples)
            calls[side] = (n, call, functools.partial(tf_device_scope, side))
            row["samples"] = n
        log(f"  {bench.model}: {task}, batch {batch}: {args.repeats} timed runs per side, "
            "alternating ...")
        for side, rates in measure_alternating(calls, args.repeats).items():
            row[side] = rates
            row[side + "_median"] = statistics.median(rates)
            flops = train_flops if task == "train" else forward_flops
            row[side + "_gflops"] = row[side + "_median"] * flops / 1e9
        if "tensorflow" in row:
            row["ratio"] = row["scratchnet_median"] / row["tensorflow_median"]
        rows.append(row)
        if task == "train" and batch == 32 and args.layers:
            log(f"  {bench.model}: per-layer breakdown, batch 32, scratchnet ...")
            steps = max(5, bench.layer_steps // scale)
            breakdown = layer_breakdown(scratch, x_train, y_train, 32, steps)
    info = {"model": bench.model, "description": spec.description, "lecture": spec.lecture,
            "params": int(scratch.count_params()), "forward_flops": forward_flops,
            "train_flops": train_flops,
            "flops_by_layer": [{"layer": n, "type": t, "forward": f, "train": tr}
                               for n, t, f, tr in per_layer],
            "compile": {k: (v if isinstance(v, (str, list)) else type(v).__name__)
                        for k, v in spec.compile_args(lecture_models._NamespaceProbe()).items()},
            "labels": spec.labels, "tf_twin_from": twin_from, "breakdown": breakdown}
    return rows, info


def thread_study(args, log):
    """scratchnet MLP batch-32 training with scratchnet.threads.set_num_threads(1) and (2)."""
    spec = lecture_models.get("mlp")
    ((x_train, y_train), _), _ = load_data(spec, args.data)
    before, out = threads.num_threads(), []
    try:
        for count in (1, 2):
            threads.set_num_threads(count)
            model = demo.build_scratch_model(spec, 0, "float32")
            log(f"  thread study: scratchnet threads = {count} ...")
            n, call = prepare_training(model, x_train, y_train, 32,
                                       12800 if args.quick else 30000, 10)
            rates = measure_alternating({"scratchnet": (n, call, contextlib.nullcontext)},
                                        args.repeats)["scratchnet"]
            out.append({"threads": count, "samples": n, "rates": rates,
                        "median": statistics.median(rates)})
    finally:
        threads.set_num_threads(before)
    return out


# ---- reports ------------------------------------------------------------------------------
def fmt_rate(value):
    return f"{value:,.0f}" if value is not None else "-"


def fmt_gflops(row, side, peak):
    value = row.get(side + "_gflops")
    if value is None:
        return "-"
    return f"{value:.2f} ({100 * value / peak:.0f}%)" if peak else f"{value:.2f}"


HEADER = ("model", "task", "batch", "samples", "scratchnet img/s", "TF img/s", "ratio",
          "scratchnet GFLOP/s (% peak)", "TF GFLOP/s (% peak)")


def peak_for(report, count):
    """The best float32 sgemm GFLOP/s measured with at most `count` BLAS threads."""
    peaks = {int(k): v for k, v in report["peak_gflops"].items()}
    usable = [v for k, v in peaks.items() if k <= (count or 1)]
    return max(usable) if usable else None


def table_rows(report):
    ours_peak = peak_for(report, report["machine"]["scratchnet_threads"])
    tf_peak = peak_for(report, report["machine"]["cores"])
    out = []
    for r in report["rows"]:
        out.append((r["model"], r["task"], str(r["batch"]), f"{r['samples']:,}",
                    fmt_rate(r["scratchnet_median"]),
                    fmt_rate(r.get("tensorflow_median")),
                    f"{r['ratio']:.2f}x" if "ratio" in r else "-",
                    fmt_gflops(r, "scratchnet", ours_peak), fmt_gflops(r, "tensorflow", tf_peak)))
    return out


def text_table(report):
    body = table_rows(report)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEADER)]
    line = "  ".join(h.ljust(w) if i < 3 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(HEADER, widths)))
    lines = [line, "-" * len(line)]
    for b in body:
        lines.append("  ".join(v.ljust(w) if i < 3 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(b, widths))))
    return "\n".join(lines)


def breakdown_markdown(info):
    b = info["breakdown"]
    flops = {r["layer"]: r for r in info["flops_by_layer"]}
    lines = [f"### {info['model']}: scratchnet batch-32 training step, "
             f"{b['step_ms']:.2f} ms per step ({b['steps']} steps timed)", "",
             "| layer | type | forward ms | backward ms | share of step | train MFLOP/step |",
             "|---|---|---:|---:|---:|---:|"]
    for r in b["layers"]:
        share = 100 * (r["forward_ms"] + r["backward_ms"]) / b["step_ms"]
        mflop = flops.get(r["layer"], {}).get("train")
        lines.append(f"| {r['layer']} | {r['type']} | {r['forward_ms']:.3f} | "
                     f"{r['backward_ms']:.3f} | {share:.0f}% | "
                     + (f"{32 * mflop / 1e6:.1f}" if mflop else "-") + " |")
    lines.append(f"| other (loss, optimizer, batching) | | | | "
                 f"{100 * b['other_ms'] / b['step_ms']:.0f}% ({b['other_ms']:.3f} ms) | |")
    if any(r["type"] == "MaxPooling2D" and r["forward_ms"] == 0 for r in b["layers"]):
        lines += ["", "(A MaxPooling2D right after a ReLU Conv2D runs inside that Conv2D's "
                      "forward pass (`Conv2D.forward_fused`): its forward time is in the "
                      "Conv2D's row.)"]
    return lines


def markdown(report):
    m = report["machine"]
    peaks = ", ".join(f"{k} thread{'s' if k != '1' else ''}: {v:.1f}"
                      for k, v in report["peak_gflops"].items())
    lines = [
        "# scratchnet vs TensorFlow: the lecture models",
        "",
        f"- Date: {report['date']}" + (" (--quick smoke run)" if report["quick"] else ""),
        f"- Machine: {m['cores']} cores, {m['cpu_model']}, {m['platform']}",
        f"- Load average (1/5/15 min) at start: {m['loadavg_start']}, at end: {m['loadavg_end']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']}, "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}",
        f"- BLAS (threadpoolctl): {m['blas']}",
        f"- Threads: scratchnet computes with {m['scratchnet_threads']} thread(s) inside "
        f"fit/predict (scratchnet.threads.num_threads(); NumPy's BLAS single-threaded there); "
        f"TensorFlow: {m['tf_threads']}; environment: "
        f"{m['thread_env'] or 'no thread variables set'}",
        f"- TensorFlow device: {report['tf_device']}",
        f"- float32 matmul peak (NumPy 1024x1024 sgemm, best of 7 at the start and 7 at the "
        f"end of the run), GFLOP/s: {peaks}. % peak = of the best sgemm rate measured with "
        f"at most as many threads as the side uses (scratchnet: its thread count; TensorFlow: "
        f"all cores). On a shared, loaded machine the 2-thread rate can come out lower.",
        f"- Data: {report['data']}; float32; repeats: {report['repeats']} per side, "
        "scratchnet and TensorFlow taking turns (median shown)",
        "- Training: `fit(x, y, batch_size=B, epochs=1, verbose=0)` after a 10-batch warm-up "
        "fit; inference: `predict(x, batch_size=256, verbose=0)` after a warm-up predict; "
        "`samples` = images per timed call.",
        "- GFLOP/s = img/s x analytic FLOPs per image (Conv2D and Dense products only; "
        "training x3, first layer x2).",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * 6) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(report)]
    lines += ["", "## Models", "", "| model | params | forward MFLOP/img | train MFLOP/img | "
              "compile | TF twin | lecture |", "|---|---:|---:|---:|---|---|---|"]
    for info in report["models"]:
        lines.append(f"| {info['model']} | {info['params']:,} | {info['forward_flops'] / 1e6:.2f} "
                     f"| {info['train_flops'] / 1e6:.2f} | {info['compile']} | "
                     f"{info['tf_twin_from'] or '-'} | {info['lecture']} |")
    with_breakdown = [i for i in report["models"] if i.get("breakdown")]
    if with_breakdown:
        lines += ["", "## Where scratchnet's training step goes (batch 32)", ""]
        for info in with_breakdown:
            lines += breakdown_markdown(info) + [""]
    if report.get("thread_study"):
        lines += ["## scratchnet threads (scratchnet.threads), MLP training, batch 32", "",
                  "| scratchnet threads | img/s (median) | all repeats |", "|---:|---:|---|"]
        for t in report["thread_study"]:
            lines.append(f"| {t['threads']} | {fmt_rate(t['median'])} | "
                         + ", ".join(fmt_rate(r) for r in t["rates"]) + " |")
    return "\n".join(lines) + "\n"


def chart(report, f):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    labels = [f"{r['model']}\n{r['task']} b{r['batch']}" for r in rows]
    xs = np.arange(len(rows))
    has_tf = all("tensorflow_median" in r for r in rows)
    fig, axes = plt.subplots(2 if has_tf else 1, 1, figsize=(max(8, 1.05 * len(rows)), 8 if
                                                             has_tf else 4.5), squeeze=False)
    ax = axes[0][0]
    ax.bar(xs - 0.2, [r["scratchnet_median"] for r in rows], 0.4, label="scratchnet")
    if has_tf:
        ax.bar(xs + 0.2, [r["tensorflow_median"] for r in rows], 0.4,
               label=f"TensorFlow ({report['tf_device']})")
    ax.set_yscale("log")
    ax.set_xticks(xs, labels, fontsize=7)
    ax.set_ylabel("images / s (median, log)")
    ax.set_title(f"scratchnet vs TensorFlow, lecture models, {report['machine']['cores']} cores, "
                 f"{report['date'][:10]}")
    ax.legend(loc="upper right", fontsize=8)
    if has_tf:
        ax = axes[1][0]
        ratios = [r["ratio"] for r in rows]
        ax.bar(xs, ratios, 0.6, color=["tab:green" if v >= 1 else "tab:red" for v in ratios])
        ax.axhline(1.0, color="black", linewidth=0.8)
        for x, v in zip(xs, ratios):
            ax.annotate(f"{v:.2f}x", (x, v), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(xs, labels, fontsize=7)
        ax.set_ylabel("scratchnet / TensorFlow (img/s)")
        ax.set_ylim(0, max(ratios) * 1.2)
    fig.tight_layout()
    fig.savefig(f, format="png", dpi=100)
    plt.close(fig)


# ---- main ---------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(BENCHMARKS),
                        choices=list(BENCHMARKS))
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed calls per measurement (default: 3; --quick: 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 1/5 of the samples, 1 repeat")
    parser.add_argument("--data", default="auto", choices=("auto", "lecture", "random"),
                        help="auto: each model's lecture dataset when cached, else random "
                             "data of its shape")
    parser.add_argument("--threads", "--blas-threads", dest="threads", type=int, default=None,
                        help="scratchnet.threads.set_num_threads(N) for the scratchnet side "
                             "(default: SCRATCHNET_NUM_THREADS, else scratchnet's default)")
    parser.add_argument("--no-layers", dest="layers", action="store_false",
                        help="skip the per-layer breakdown")
    parser.add_argument("--thread-study", action="store_true",
                        help="also time scratchnet's MLP at 1 and 2 scratchnet threads")
    parser.add_argument("--no-tf", dest="tf", action="store_false",
                        help="scratchnet only (no TensorFlow columns)")
    parser.add_argument("--out", default=RESULTS_DIR, help="where latest.{json,md,png} go")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 3
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.threads is not None:
        if args.threads < 1:
            parser.error("--threads must be >= 1")
        threads.set_num_threads(args.threads)

    def log(message):
        print(message, flush=True)

    started = time.perf_counter()
    load_start = loadavg()
    tf_device, tf_version, keras_version, tf_threads = None, None, None, None
    if args.tf:
        try:
            tf, reference = demo.import_tensorflow()
        except demo.TensorFlowMissingError as error:
            print(f"bench.py: {error} (or run with --no-tf)", file=sys.stderr)
            return 1
        import keras

        tf_device = reference.describe_device()
        tf_version, keras_version = tf.__version__, keras.__version__
        tf_threads = {"intra_op": tf.config.threading.get_intra_op_parallelism_threads(),
                      "inter_op": tf.config.threading.get_inter_op_parallelism_threads(),
                      "note": "0 = TensorFlow's default (all cores)"}
        log(f"TensorFlow runs on: {tf_device}")
    import numba

    peaks = measure_peak()
    log("float32 sgemm peak (1024x1024), GFLOP/s: "
        + ", ".join(f"{k} thread(s): {v:.1f}" for k, v in peaks.items()))
    log(f"scratchnet threads inside fit/predict: {threads.num_threads()}")
    rows, infos, data_used = [], [], set()
    for name in args.models:
        log(f"Benchmarking {name} ...")
        model_rows, info = run_model(BENCHMARKS[name], args, args.tf, log)
        data_used.update(r["data"] for r in model_rows)
        rows += model_rows
        infos.append(info)
    study = thread_study(args, log) if args.thread_study else []
    peaks_end = measure_peak()
    log("float32 sgemm peak at the end, GFLOP/s: "
        + ", ".join(f"{k} thread(s): {v:.1f}" for k, v in peaks_end.items()))
    peaks_start, peaks = peaks, {k: max(peaks[k], peaks_end[k]) for k in peaks}

    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "tf_device": tf_device or "not run (--no-tf)",
        "data": ", ".join(sorted(data_used)),
        "repeats": args.repeats,
        "quick": args.quick,
        "peak_gflops": {str(k): v for k, v in peaks.items()},
        "peak_gflops_start": {str(k): v for k, v in peaks_start.items()},
        "peak_gflops_end": {str(k): v for k, v in peaks_end.items()},
        "machine": {
            "cores": os.cpu_count(),
            "cpu_model": cpu_model(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "numba": numba.__version__,
            "tensorflow": tf_version,
            "keras": keras_version,
            "blas": blas_info(),
            "scratchnet_threads": threads.num_threads(),
            "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
            "tf_threads": tf_threads,
            "loadavg_start": load_start,
            "loadavg_end": loadavg(),
        },
        "rows": rows,
        "models": infos,
        "thread_study": study,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }

    print()
    print(text_table(report))
    print(f"(TensorFlow ran on: {report['tf_device']}; data: {report['data']}; median of "
          f"{args.repeats} repeat(s); predict at batch 256; % of the best float32 sgemm rate "
          f"with the side's thread count: scratchnet {threads.num_threads()}, TF all cores)")
    for info in infos:
        b = info.get("breakdown")
        if b:
            parts = ", ".join(f"{r['layer']} {r['forward_ms']:.2f}/{r['backward_ms']:.2f}"
                              for r in b["layers"] if r["forward_ms"] + r["backward_ms"] > 0.005)
            print(f"{info['model']}: batch-32 step {b['step_ms']:.2f} ms; fwd/bwd ms: {parts}; "
                  f"other {b['other_ms']:.2f}")
    for t in study:
        print(f"thread study: scratchnet threads={t['threads']}: MLP train batch 32: "
              f"{fmt_rate(t['median'])} img/s")
    print(f"wall time: {report['wall_seconds']} s")

    out = args.out
    write_atomically(os.path.join(out, "latest.json"),
                     lambda f: f.write(json.dumps(report, indent=2).encode()))
    write_atomically(os.path.join(out, "latest.md"), lambda f: f.write(markdown(report).encode()))
    try:
        write_atomically(os.path.join(out, "latest.png"), lambda f: chart(report, f))
    except ImportError:
        print("matplotlib not installed: no chart (pip install 'scratchnet[bench]')")
    print(f"wrote {os.path.join(out, 'latest.json')}, latest.md, latest.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

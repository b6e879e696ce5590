"""scratchnet vs TensorFlow: training and inference throughput, in one run.

    python benchmarks/bench.py [--models mlp] [--repeats 3] [--quick] [--data auto|fashion_mnist|random]
                               [--blas-threads N] [--no-thread-study] [--no-tf]

For every model of the registry below (each entry names a model of `scratchnet.demo.MODELS`,
the lecture models, and says what to time), both sides get the same float32 model: scratchnet
builds it (seed 0) and `reference.to_keras` makes the tf.keras twin with the same weights and
the same compile (Adam, sparse categorical crossentropy, accuracy). Then:

* training: `model.fit(x, y, batch_size=B, epochs=1, verbose=0)` (shuffle on, as users run
  it) over a fixed number of samples (a multiple of B, so every batch is full), after a
  warm-up fit of 20 batches that compiles everything (Numba kernels; Keras's tf.function);
* inference: `model.predict(x_test, batch_size=256, verbose=0)` on the 10,000 test images,
  after a warm-up predict.

Each measurement is repeated `--repeats` times; the table shows the median images/s (the
JSON keeps every repeat). Results go to benchmarks/results/latest.{json,md,png}, each written
atomically (a temp file, then os.replace).

Thread study: batch-32 training of the first model on the scratchnet side only, in fresh
child processes started with OPENBLAS_NUM_THREADS=OMP_NUM_THREADS=1 and =2 (set before NumPy
is imported, TensorFlow never imported), to show what the BLAS thread count does on this
machine. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE, when set, are passed on unchanged.
"""
import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from scratchnet import demo  # noqa: E402

RESULTS_DIR = os.path.join(ROOT, "benchmarks", "results")
THREAD_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS",
              "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TF_NUM_INTRAOP_THREADS",
              "TF_NUM_INTEROP_THREADS", "TF_ENABLE_ONEDNN_OPTS")


# ---- the registry ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BenchSpec:
    """What to time for one model. `model` is a key of scratchnet.demo.MODELS."""
    model: str
    dataset: str = "fashion_mnist"
    train_batches: tuple = (32, 256)
    train_samples: int = 60000          # per timed fit (rounded down to a multiple of the batch)
    quick_train_samples: int = 12800
    predict_batch: int = 256
    predict_samples: int = 10000
    warmup_batches: int = 20


# Add a CNN: register its builder in scratchnet.demo.MODELS, then add an entry here (smaller
# train_samples if it is slow), e.g. "cnn": BenchSpec("cnn", train_samples=12800).
BENCHMARKS = {
    "mlp": BenchSpec("mlp"),
}


# ---- helpers -----------------------------------------------------------------------------
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
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return {k: config.get(k) for k in ("name", "version", "openblas configuration")
                if config.get(k)}
    except Exception:  # older NumPy: no dict mode
        return {"name": "unknown"}


def loadavg():
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def load_data(spec, choice):
    """(x_train, y_train), (x_test, y_test) as uint8 / int, and the name of what was used."""
    if choice in ("auto", spec.dataset):
        try:
            return demo.load_dataset(spec.dataset), spec.dataset
        except Exception as error:  # DatasetUnavailableError, or a dataset not yet cached
            if choice != "auto":
                raise
            print(f"{spec.dataset} unavailable ({type(error).__name__}); using random data")
    rng = np.random.default_rng(0)
    shape = (28, 28)
    return ((rng.integers(0, 256, (60000,) + shape, dtype=np.uint8),
             rng.integers(0, 10, 60000).astype(np.uint8)),
            (rng.integers(0, 256, (10000,) + shape, dtype=np.uint8),
             rng.integers(0, 10, 10000).astype(np.uint8))), "random"


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def build_pair(spec, with_tf):
    model_spec = demo.get_model_spec(spec.model)
    scratch = demo.build_scratch_model(model_spec, 0, "float32")
    twin = demo.tf_twin(scratch, 0)[0] if with_tf else None
    return scratch, twin


# ---- measurements ------------------------------------------------------------------------
def measure_training(model, x, y, batch, samples, warmup_batches, repeats):
    n = max(batch, samples // batch * batch)
    n = min(n, len(x) // batch * batch)
    warm = min(warmup_batches * batch, n)
    model.fit(x[:warm], y[:warm], batch_size=batch, epochs=1, verbose=0)
    times = [timed(lambda: model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0))
             for _ in range(repeats)]
    return n, [n / t for t in times]


def measure_predict(model, x, batch, samples, repeats):
    n = min(samples, len(x))
    model.predict(x[:min(4 * batch, n)], batch_size=batch, verbose=0)
    times = [timed(lambda: model.predict(x[:n], batch_size=batch, verbose=0))
             for _ in range(repeats)]
    return n, [n / t for t in times]


def run_model(spec, args, with_tf, log):
    ((x_train, y_train), (x_test, _)), data_used = load_data(spec, args.data)
    model_spec = demo.get_model_spec(spec.model)
    x_train, x_test = (model_spec.preprocess(x_train, "float32"),
                       model_spec.preprocess(x_test, "float32"))
    y_train = np.asarray(y_train)
    samples = spec.quick_train_samples if args.quick else spec.train_samples
    rows = []
    for batch in spec.train_batches:
        scratch, twin = build_pair(spec, with_tf)
        row = {"model": spec.model, "task": "train", "batch": batch, "data": data_used}
        for side, model in (("scratchnet", scratch), ("tensorflow", twin)):
            if model is None:
                continue
            log(f"  {spec.model}: train, batch {batch}, {side} ...")
            row["samples"], rates = measure_training(model, x_train, y_train, batch, samples,
                                                     spec.warmup_batches, args.repeats)
            row[side] = rates
        rows.append(row)
    scratch, twin = build_pair(spec, with_tf)
    row = {"model": spec.model, "task": "predict", "batch": spec.predict_batch, "data": data_used}
    for side, model in (("scratchnet", scratch), ("tensorflow", twin)):
        if model is None:
            continue
        log(f"  {spec.model}: predict, batch {spec.predict_batch}, {side} ...")
        row["samples"], rates = measure_predict(model, x_test, spec.predict_batch,
                                                spec.predict_samples, args.repeats)
        row[side] = rates
    rows.append(row)
    for row in rows:
        for side in ("scratchnet", "tensorflow"):
            if side in row:
                row[side + "_median"] = statistics.median(row[side])
        if "tensorflow" in row:
            row["ratio"] = row["scratchnet_median"] / row["tensorflow_median"]
    return rows


# ---- thread study (child processes) ------------------------------------------------------
def probe(args):
    """Child: scratchnet-only batch-32 training throughput; prints one JSON line."""
    spec = BENCHMARKS[args.models[0]]
    ((x_train, y_train), _), data_used = load_data(spec, args.data)
    model_spec = demo.get_model_spec(spec.model)
    x_train = model_spec.preprocess(x_train, "float32")
    scratch, _ = build_pair(spec, with_tf=False)
    samples = spec.quick_train_samples if args.quick else spec.train_samples
    n, rates = measure_training(scratch, x_train, np.asarray(y_train), 32, samples,
                                spec.warmup_batches, args.repeats)
    print(json.dumps({"blas_threads": demo.blas_threads(), "samples": n, "rates": rates,
                      "data": data_used, "tf_imported": "tensorflow" in sys.modules}))
    return 0


def thread_study(args, log):
    results = []
    for threads in (1, 2):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads))
        command = [sys.executable, os.path.abspath(__file__), "--probe", "--models",
                   args.models[0], "--repeats", str(args.repeats), "--data", args.data]
        if args.quick:
            command.append("--quick")
        log(f"  thread study: OPENBLAS_NUM_THREADS={threads} (child process) ...")
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            log(f"  thread study failed for {threads} threads:\n{done.stderr[-2000:]}")
            continue
        child = json.loads(done.stdout.strip().splitlines()[-1])
        results.append({"env_threads": threads, **child,
                        "median": statistics.median(child["rates"])})
    return results


# ---- reports -----------------------------------------------------------------------------
def fmt_rate(value):
    return f"{value:,.0f}" if value is not None else "-"


def table_rows(rows):
    out = []
    for r in rows:
        tf_rate = r.get("tensorflow_median")
        out.append((r["model"], r["task"], str(r["batch"]), fmt_rate(r["scratchnet_median"]),
                    fmt_rate(tf_rate), f"{r['ratio']:.2f}x" if "ratio" in r else "-"))
    return out


HEADER = ("model", "task", "batch", "scratchnet img/s", "TF img/s", "ratio")


def text_table(rows):
    body = table_rows(rows)
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(HEADER)]
    line = "  ".join(h.ljust(w) if i < 3 else h.rjust(w) for i, (h, w) in enumerate(zip(HEADER, widths)))
    lines = [line, "-" * len(line)]
    for b in body:
        lines.append("  ".join(v.ljust(w) if i < 3 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(b, widths))))
    return "\n".join(lines)


def markdown(report):
    m = report["machine"]
    lines = [
        "# scratchnet vs TensorFlow: throughput",
        "",
        f"- Date: {report['date']}",
        f"- Machine: {m['cores']} cores, {m['cpu_model']}, {m['platform']}",
        f"- Load average (1/5/15 min) at start: {m['loadavg_start']}, at end: {m['loadavg_end']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, Numba {m['numba']}, "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}",
        f"- BLAS: {m['blas']}",
        f"- NumPy/OpenBLAS threads during the runs: {m['blas_threads']}; "
        f"environment: {m['thread_env'] or 'none of ' + ', '.join(THREAD_ENV[:4])}",
        f"- TensorFlow device: {report['tf_device']}; TF threads: {m['tf_threads']}",
        f"- Data: {report['data']}; float32; repeats: {report['repeats']} (median shown)",
        f"- Training: `fit(x, y, batch_size=B, epochs=1, verbose=0)` over "
        f"{report['train_samples_note']} after a 20-batch warm-up fit; "
        f"inference: `predict(x_test, batch_size=256, verbose=0)` on 10,000 images after a "
        f"warm-up predict.",
        "",
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join(["---"] * 3 + ["---:"] * 3) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in table_rows(report["rows"])]
    if report.get("thread_study"):
        lines += ["", "## BLAS threads, scratchnet MLP training, batch 32 (child processes, "
                      "TensorFlow not imported)", "",
                  "| OPENBLAS_NUM_THREADS | img/s (median) | all repeats |", "|---:|---:|---|"]
        for t in report["thread_study"]:
            lines.append(f"| {t['env_threads']} | {fmt_rate(t['median'])} | "
                         + ", ".join(fmt_rate(r) for r in t["rates"]) + " |")
    if report.get("target"):
        lines += ["", report["target"]]
    return "\n".join(lines) + "\n"


def chart(report, f):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["rows"]
    labels = [f"{r['model']}\n{r['task']} b{r['batch']}" for r in rows]
    xs = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(rows)), 4.5))
    ours = [r["scratchnet_median"] for r in rows]
    ax.bar(xs - 0.2, ours, 0.4, label="scratchnet")
    if all("tensorflow_median" in r for r in rows):
        theirs = [r["tensorflow_median"] for r in rows]
        ax.bar(xs + 0.2, theirs, 0.4, label=f"TensorFlow ({report['tf_device']})")
        for x, r in zip(xs, rows):
            ax.annotate(f"{r['ratio']:.2f}x", (x, max(r["scratchnet_median"],
                                                     r["tensorflow_median"])),
                        ha="center", va="bottom", fontsize=9)
    ax.set_yscale("log")
    top = max(max(r.get("scratchnet_median", 0), r.get("tensorflow_median", 0)) for r in rows)
    ax.set_ylim(top=top * 2.5)
    ax.set_xticks(xs, labels)
    ax.set_ylabel("images / s (median, log scale)")
    ax.set_title(f"scratchnet vs TensorFlow, {report['machine']['cores']} cores, "
                 f"{report['date'][:10]}")
    ax.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    fig.savefig(f, format="png", dpi=110)
    plt.close(fig)


# ---- main --------------------------------------------------------------------------------
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=["mlp"], choices=sorted(BENCHMARKS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="fewer training samples per timed fit (12,800 instead of 60,000)")
    parser.add_argument("--data", default="auto", choices=("auto", "fashion_mnist", "random"),
                        help="auto: Fashion-MNIST when available, else random data of its shape")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="set NumPy's OpenBLAS threads for the main table (default: leave)")
    parser.add_argument("--no-thread-study", dest="thread_study", action="store_false")
    parser.add_argument("--no-tf", dest="tf", action="store_false",
                        help="scratchnet only (no TensorFlow columns)")
    parser.add_argument("--out", default=RESULTS_DIR, help="where latest.{json,md,png} go")
    parser.add_argument("--probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    if args.probe:
        return probe(args)

    def log(message):
        print(message, flush=True)

    load_start = loadavg()
    if args.blas_threads is not None and not demo.set_blas_threads(args.blas_threads):
        parser.error("--blas-threads: NumPy's OpenBLAS not found; use OPENBLAS_NUM_THREADS")
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

    log(f"NumPy/OpenBLAS threads for the scratchnet side: {demo.blas_threads()}")
    rows, data_used = [], set()
    for name in args.models:
        spec = BENCHMARKS[name]
        log(f"Benchmarking {name} ...")
        model_rows = run_model(spec, args, args.tf, log)
        data_used.update(r["data"] for r in model_rows)
        rows += model_rows
    study = []
    if args.thread_study:
        study = thread_study(args, log)

    n_train = sorted({r["samples"] for r in rows if r["task"] == "train"})
    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "tf_device": tf_device or "not run (--no-tf)",
        "data": ", ".join(sorted(data_used)) + (" (Fashion-MNIST, 60,000 train / 10,000 test)"
                                                 if data_used == {"fashion_mnist"} else ""),
        "repeats": args.repeats,
        "quick": args.quick,
        "train_samples_note": " / ".join(f"{n:,}" for n in n_train) + " samples",
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
            "blas_threads": demo.blas_threads(),
            "thread_env": {k: os.environ[k] for k in THREAD_ENV if k in os.environ},
            "tf_threads": tf_threads,
            "loadavg_start": load_start,
            "loadavg_end": loadavg(),
        },
        "rows": rows,
        "thread_study": study,
    }
    train32 = [r for r in rows if r["task"] == "train" and r["batch"] == 32 and "ratio" in r]
    if train32:
        ratio = train32[0]["ratio"]
        report["target"] = (f"Target: scratchnet MLP training >= 2x TensorFlow-CPU at batch 32; "
                            f"measured {ratio:.2f}x ({'met' if ratio >= 2 else 'NOT met'}).")

    print()
    print(text_table(rows))
    print(f"(TensorFlow ran on: {report['tf_device']}; data: {report['data']}; "
          f"median of {args.repeats} repeats; predict at batch 256)")
    for t in study:
        print(f"thread study: OPENBLAS_NUM_THREADS={t['env_threads']}: scratchnet MLP train "
              f"batch 32: {fmt_rate(t['median'])} img/s (repeats: "
              + ", ".join(fmt_rate(r) for r in t["rates"]) + ")")
    if report.get("target"):
        print(report["target"])

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

"""scratchnet vs tf.keras: how long saving and loading a model takes (issue 9, "Speed").

    python benchmarks/bench_saving.py [--models python_ml_cnn lenet5_bn] [--repeats 7]
                                      [--quick] [--dir TMPDIR] [--out DIR] [--no-tf]

Two lecture models of `scratchnet.lecture_models`: the Python-ML CNN (1.1 M parameters, most
of them in one 1024x1024-ish Dense kernel) and LeNet-5 with BatchNormalization (non-trainable
moving statistics in the files as well). Each is built twice from one `build(K)` -- once with
`scratchnet.keras`, once with `keras` -- under `reference.convert.floatx_scope('float32')`, the
scratchnet weights are copied into the Keras twin, and both are compiled with Adam and trained
one step on the same batch, so each has an optimizer state to write (Adam's iteration count,
moments and velocities: the .keras and .h5 files hold about 3x the weights).

Operations timed (each side calls its own library's public API unless noted):

    save .keras          model.save('m.keras')                   Keras 3's zip
    load .keras          keras.models.load_model('m.keras')      compiled, optimizer restored
    save_weights .weights.h5 / load_weights .weights.h5          Keras 3's HDF5 weights layout
    save .h5             model.save('m.h5')                      tf.keras 2's whole-model file
    load .h5             keras.models.load_model('m.h5')
    save_weights .h5 / load_weights .h5                          tf.keras 2's weights layout
        (Keras 3's save_weights refuses a plain '.h5' name, so its side calls Keras's own
        legacy writer, `legacy_h5_format.save_weights_to_hdf5_group`, on an h5py file --
        what tf.keras 2's save_weights('x.h5') did; its load_weights('x.h5') is public API.)

Each side loads its own files. Every repeat runs all operations, scratchnet and Keras
alternating (which goes first flips every repeat), so a burst of load on a shared machine hits
both; the tables show the median of `--repeats` (default 7), the JSON keeps every repeat. One
untimed warm-up round comes first (imports, first h5py calls). After the last round each
side's loaded models are checked against the weights they were saved from, so a timing can
never be of a load that silently did nothing.

What the two sides do differently, beyond speed: scratchnet writes every file atomically
(a temp file in the same directory, flush, fsync, os.replace, then a directory fsync) and
stores every HDF5 array with a Fletcher-32 checksum, which it verifies on load; Keras writes
in place, without fsync or checksums. The cost of fsync depends on the filesystem of `--dir`
(the system temp directory by default; the JSON records which one).

Results: benchmarks/results/saving.{json,md}, written atomically.
"""
import argparse
import datetime
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
if BENCH_DIR not in sys.path:
    sys.path.insert(0, BENCH_DIR)

import numpy as np  # noqa: E402

from bench import RESULTS_DIR, blas_info, cpu_model, loadavg, write_atomically  # noqa: E402
from scratchnet import demo, lecture_models  # noqa: E402

MODELS = ("python_ml_cnn", "lenet5_bn")

# (operation, file name), in the order each round runs them. Two phases, each with its own
# warm-up and rounds: Keras 3's legacy model.save('m.h5') deletes "optimizer" from the model's
# own compile config (legacy/saving/saving_utils.py pops it from model._compile_config.config,
# Keras 3.15), so every later model.save('m.keras') of that model stores no optimizer and
# load_model gives back an RMSprop with no state -- less work, and the wrong model. The legacy
# whole-model file therefore goes last, after every .keras round.
PHASES = (
    (("save .keras", "m.keras"),
     ("load .keras", "m.keras"),
     ("save_weights .weights.h5", "w.weights.h5"),
     ("load_weights .weights.h5", "w.weights.h5"),
     ("save_weights .h5", "w.h5"),
     ("load_weights .h5", "w.h5")),
    (("save .h5", "m.h5"),
     ("load .h5", "m.h5")),
)
OPERATIONS = tuple(op for phase in PHASES for op in phase)


# ---- the models ---------------------------------------------------------------------------
def compile_args(spec, K):
    """Adam (for an optimizer state) and the lecture's loss, metrics=['accuracy'].

    Named functions only: Keras 3 cannot load its own legacy .h5 file when a metric is
    spelled with a loss's short name ('mse'), and 'accuracy' it reads back on both sides."""
    return dict(optimizer=K.optimizers.Adam(learning_rate=1e-3),
                loss=spec.compile_args(K)["loss"], metrics=["accuracy"])


def build_pair(name, keras):
    """(scratchnet model, Keras twin, x, y): one builder, the same weights, each trained one
    Adam step on the same 32 samples (so both have moments to save)."""
    import scratchnet as sn
    from reference.convert import floatx_scope

    spec = lecture_models.get(name)
    x_raw, y_raw = spec.random_data(32, seed=0)
    x, y = spec.preprocess(x_raw), spec.prepare_labels(y_raw)
    with floatx_scope("float32"):
        sn.backend.set_random_seed(0)
        ours = spec.builder(sn.keras)
        ours.compile(**compile_args(spec, sn.keras))
        ours.build((None,) + tuple(spec.input_shape))
        twin = None
        if keras is not None:
            keras.utils.set_random_seed(0)
            twin = spec.builder(keras)
            twin.build((None,) + tuple(spec.input_shape))
            twin.set_weights(ours.get_weights())
            twin.compile(**compile_args(spec, keras))
        for model in (ours, twin):
            if model is not None:
                model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    return ours, twin, x, y


# ---- the operations on each side ----------------------------------------------------------
def scratchnet_ops(model):
    import scratchnet as sn

    loaded = {}
    return {
        "save .keras": lambda path: model.save(path),
        "load .keras": lambda path: loaded.__setitem__("keras", sn.keras.models.load_model(path)),
        "save_weights .weights.h5": lambda path: model.save_weights(path),
        "load_weights .weights.h5": lambda path: model.load_weights(path),
        "save .h5": lambda path: model.save(path),
        "load .h5": lambda path: loaded.__setitem__("h5", sn.keras.models.load_model(path)),
        "save_weights .h5": lambda path: model.save_weights(path),
        "load_weights .h5": lambda path: model.load_weights(path),
    }, loaded


def keras_ops(model, keras):
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    def legacy_save_weights(path):
        with h5py.File(path, "w") as f:
            legacy_h5_format.save_weights_to_hdf5_group(f, model)

    loaded = {}
    return {
        "save .keras": lambda path: model.save(path),
        "load .keras": lambda path: loaded.__setitem__("keras", keras.models.load_model(path)),
        "save_weights .weights.h5": lambda path: model.save_weights(path),
        "load_weights .weights.h5": lambda path: model.load_weights(path),
        "save .h5": lambda path: model.save(path),
        "load .h5": lambda path: loaded.__setitem__("h5", keras.models.load_model(path)),
        "save_weights .h5": legacy_save_weights,
        "load_weights .h5": lambda path: model.load_weights(path),
    }, loaded


def check_loaded(side, model, loaded):
    """The loaded models hold the weights they were saved from; returns how many optimizer
    variables each restored ({format: count}; Keras 3's legacy .h5 loader restores none of
    the saved Adam state, only `iterations` and the learning rate of a fresh optimizer)."""
    expected = [np.asarray(w) for w in model.get_weights()]
    counts = {}
    for fmt, other in loaded.items():
        got = [np.asarray(w) for w in other.get_weights()]
        if len(got) != len(expected) or any(not np.array_equal(a, b)
                                            for a, b in zip(expected, got)):
            raise AssertionError(f"{side}: load_model({fmt}) gave different weights")
        if type(other.optimizer).__name__ != type(model.optimizer).__name__:
            raise AssertionError(f"{side}: load_model({fmt}) gave a "
                                 f"{type(other.optimizer).__name__}, not the saved "
                                 f"{type(model.optimizer).__name__}")
        counts[fmt] = len(other.optimizer.variables)
    return counts


def timed(fn, path):
    gc.collect()
    start = time.perf_counter()
    fn(path)
    return time.perf_counter() - start


def run_model(name, args, keras, log):
    ours, twin, _, _ = build_pair(name, keras)
    sides = [("scratchnet", ours, *scratchnet_ops(ours))]
    if twin is not None:
        sides.append(("tensorflow", twin, *keras_ops(twin, keras)))
    times = {op: {side[0]: [] for side in sides} for op, _ in OPERATIONS}
    sizes = {op: {} for op, _ in OPERATIONS}
    restored = {side[0]: {} for side in sides}
    workdir = tempfile.mkdtemp(prefix="bench_saving.", dir=args.dir)
    try:
        for number, phase in enumerate(PHASES, 1):
            for round_ in range(args.repeats + 1):         # round 0: warm-up, not kept
                order = sides if round_ % 2 == 0 else sides[::-1]
                for op, filename in phase:
                    for side, _, ops, _ in order:
                        path = os.path.join(workdir, f"{side}.{filename}")
                        seconds = timed(ops[op], path)
                        if round_:
                            times[op][side].append(seconds)
                        if op.startswith("save"):
                            sizes[op][side] = os.path.getsize(path)
            log(f"  {name}: phase {number}/{len(PHASES)}: {args.repeats} rounds done")
            for side, model, _, loaded in sides:
                restored[side].update(check_loaded(side, model, loaded))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = []
    for op, _ in OPERATIONS:
        row = {"model": name, "op": op}
        for side, *_ in sides:
            row[side + "_ms"] = [1e3 * t for t in times[op][side]]
            row[side + "_median_ms"] = statistics.median(row[side + "_ms"])
            if op.startswith("save"):
                row[side + "_bytes"] = sizes[op][side]
        if "tensorflow_median_ms" in row:
            # > 1: scratchnet faster
            row["ratio"] = row["tensorflow_median_ms"] / row["scratchnet_median_ms"]
        rows.append(row)
    info = {"model": name, "params": int(ours.count_params()),
            "weights": len(ours.get_weights()),
            "optimizer_variables": len(ours.optimizer.variables),
            "optimizer_variables_after_load_model": restored}
    return rows, info


# ---- reports ------------------------------------------------------------------------------
def fmt_size(n):
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def markdown(report):
    m = report["machine"]
    lines = [
        "# Saving and loading: scratchnet vs tf.keras", "",
        f"- Date: {report['date']}; wall time {report['wall_seconds']} s",
        f"- Machine: {m['cores']} cores, {m['cpu_model']}; {m['platform']}",
        f"- Python {m['python']}, NumPy {m['numpy']}, h5py {m['h5py']}, TensorFlow "
        f"{m['tensorflow']}, Keras {m['keras']}",
        f"- Load average at start / end: {m['loadavg_start']} / {m['loadavg_end']}",
        f"- Files written in: {report['dir']} (filesystem: {report['dir_fs']})",
        f"- Median of {report['repeats']} repeats (after one warm-up round), scratchnet and "
        "Keras alternating; ratio = Keras ms / scratchnet ms (> 1: scratchnet faster)",
        "- Models: built from one builder on both sides, same weights, Adam, trained one step "
        "(optimizer state saved with the model); each side loads its own files",
        "- scratchnet writes atomically with fsync and Fletcher-32 checksums on every HDF5 "
        "array; Keras writes in place, no fsync, no checksums. Keras's `save_weights .h5` is "
        "its legacy writer `save_weights_to_hdf5_group` (Keras 3's save_weights refuses '.h5')",
        "",
    ]
    for info in report["models"]:
        lines += [f"## {info['model']} ({info['params']:,} parameters, {info['weights']} "
                  f"weight arrays, {info['optimizer_variables']} optimizer variables)", "",
                  "| operation | scratchnet ms | Keras ms | ratio (Keras / scratchnet) | "
                  "file size scratchnet / Keras |", "|---|---:|---:|---:|---|"]
        for r in report["rows"]:
            if r["model"] != info["model"]:
                continue
            tf_ms = r.get("tensorflow_median_ms")
            size = ""
            if "scratchnet_bytes" in r:
                size = fmt_size(r["scratchnet_bytes"])
                if "tensorflow_bytes" in r:
                    size += " / " + fmt_size(r["tensorflow_bytes"])
            lines.append(f"| {r['op']} | {r['scratchnet_median_ms']:.1f} | "
                         + (f"{tf_ms:.1f}" if tf_ms is not None else "-") + " | "
                         + (f"{r['ratio']:.2f}x" if "ratio" in r else "-") + f" | {size} |")
        restored = "; ".join(
            f"{'Keras' if side == 'tensorflow' else side}: "
            + ", ".join(f".{fmt} {n}" for fmt, n in sorted(counts.items()))
            for side, counts in info["optimizer_variables_after_load_model"].items())
        lines += ["", f"Optimizer variables after load_model (saved: "
                  f"{info['optimizer_variables']}): {restored}", ""]
    return "\n".join(lines)


def filesystem_of(path):
    """The filesystem type of `path` from /proc/mounts (longest matching mount point)."""
    path, best = os.path.realpath(path), ("", "unknown")
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and (path == parts[1] or path.startswith(
                        parts[1].rstrip("/") + "/")) and len(parts[1]) > len(best[0]):
                    best = (parts[1], parts[2])
    except OSError:
        pass
    return best[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed rounds (default 7; --quick: 2)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 rounds")
    parser.add_argument("--dir", default=None,
                        help="where the files are written (default: the system temp dir)")
    parser.add_argument("--no-tf", dest="tf", action="store_false",
                        help="scratchnet only (no Keras columns)")
    parser.add_argument("--out", default=RESULTS_DIR, help="where saving.{json,md} go")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 2 if args.quick else 7
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    args.dir = args.dir or tempfile.gettempdir()
    # Keras's per-call warnings (NumPy's __array__ copy deprecation, input_shape advice) would
    # bury the log; filtering them changes no measured work
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)

    def log(message):
        print(message, flush=True)

    started, load_start = time.perf_counter(), loadavg()
    keras, tf_version, keras_version = None, None, None
    if args.tf:
        try:
            tf, _ = demo.import_tensorflow()
        except demo.TensorFlowMissingError as error:
            print(f"bench_saving.py: {error} (or run with --no-tf)", file=sys.stderr)
            return 1
        import keras

        tf_version, keras_version = tf.__version__, keras.__version__
    import h5py

    rows, infos = [], []
    for name in args.models:
        log(f"Benchmarking save/load of {name} ...")
        model_rows, info = run_model(name, args, keras, log)
        rows += model_rows
        infos.append(info)
    report = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "repeats": args.repeats,
        "quick": args.quick,
        "dir": args.dir,
        "dir_fs": filesystem_of(args.dir),
        "machine": {
            "cores": os.cpu_count(), "cpu_model": cpu_model(),
            "platform": platform.platform(), "python": platform.python_version(),
            "numpy": np.__version__, "h5py": h5py.__version__, "tensorflow": tf_version,
            "keras": keras_version, "blas": blas_info(),
            "loadavg_start": load_start, "loadavg_end": loadavg(),
        },
        "rows": rows,
        "models": infos,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    text = markdown(report)
    print()
    print(text)
    write_atomically(os.path.join(args.out, "saving.json"),
                     lambda f: f.write(json.dumps(report, indent=2).encode()))
    write_atomically(os.path.join(args.out, "saving.md"), lambda f: f.write(text.encode()))
    print(f"wrote {os.path.join(args.out, 'saving.json')}, saving.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())

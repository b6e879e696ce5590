"""scratchnet vs tf.keras on the horse-or-human networks and their image pipeline (issue 11).

    python benchmarks/bench_images.py [--sizes 150 300] [--batches 32 128] [--repeats 3]
                                      [--quick] [--out DIR] [--no-tf]

Three measurements, each side with its own library, alternating which goes first:

1. **The network** (`lecture_models`: horse_or_human at 300x300x3, horse_or_human_150): fit
   and predict images/s on random pixels already in memory (so only the model is timed),
   for each size and batch size; both sides start from the same weights.
2. **The generator**: images/s of `ImageDataGenerator(...).flow_from_directory(...)` -- decode,
   resize to the size, the lab's augmentation (rescale, rotation 40, shifts 0.2, shear 0.2,
   zoom 0.2, horizontal flips) -- scratchnet's against Keras's legacy one, over the
   horse-or-human folders of `scratchnet data fetch`.
3. **Waiting for data**: one epoch of `fit` on that generator (scratchnet), the share of the
   step time spent waiting for the next batch (the loader thread computes ahead).

Medians of `--repeats`; JSON and Markdown go to benchmarks/results/images.{json,md}. The
numbers depend on the machine and on what else runs on it: quote ratios from one run.
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
from scratchnet import lecture_models  # noqa: E402

MODELS = {150: "horse_or_human_150", 300: "horse_or_human"}
AUGMENT = dict(rescale=1. / 255, rotation_range=40, width_shift_range=0.2,
               height_shift_range=0.2, shear_range=0.2, zoom_range=0.2, horizontal_flip=True,
               fill_mode="nearest")


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def network_rows(sizes, batches, repeats, quick, with_tf, log):
    import scratchnet

    tf = None
    if with_tf:
        import tensorflow as tf
    rows = []
    for size in sizes:
        spec = lecture_models.get(MODELS[size])
        for batch in batches:
            steps = 2 if quick else 4
            rng = np.random.default_rng(0)
            x = rng.random((batch * steps,) + spec.input_shape, dtype=np.float32)
            y = rng.integers(0, 2, batch * steps).astype(np.float32)
            scratchnet.backend.set_random_seed(0)
            ours = spec.build(scratchnet.keras)
            ours.build((None,) + spec.input_shape)
            sides = {"scratchnet": ours}
            if tf is not None:
                theirs = spec.build(tf.keras)
                theirs.build((None,) + spec.input_shape)
                theirs.set_weights(ours.get_weights())
                sides["TensorFlow"] = theirs
            times = {name: {"fit": [], "predict": []} for name in sides}
            for model in sides.values():             # warm-up: compilation, first calls
                model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)
                model.predict(x[:batch], batch_size=batch, verbose=0)
            for r in range(repeats):
                order = list(sides) if r % 2 == 0 else list(sides)[::-1]
                for name in order:
                    model = sides[name]
                    times[name]["fit"].append(timed(lambda: model.fit(
                        x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)))
                    times[name]["predict"].append(timed(lambda: model.predict(
                        x, batch_size=batch, verbose=0)))
            row = {"model": spec.name, "size": size, "batch": batch, "images": len(x)}
            for name in sides:
                for what in ("fit", "predict"):
                    row[f"{name} {what} img/s"] = len(x) / statistics.median(times[name][what])
            rows.append(row)
            log(json.dumps({k: (round(v, 1) if isinstance(v, float) else v)
                            for k, v in row.items()}))
    return rows


def generator_rows(directory, sizes, repeats, with_tf, log):
    from scratchnet.preprocessing.image import ImageDataGenerator

    generators = {"scratchnet": ImageDataGenerator}
    if with_tf:
        import tensorflow as tf
        generators["Keras"] = tf.keras.preprocessing.image.ImageDataGenerator
    rows = []
    for size in sizes:
        times = {name: [] for name in generators}
        count = None
        for r in range(repeats):
            order = list(generators) if r % 2 == 0 else list(generators)[::-1]
            for name in order:
                flow = generators[name](**AUGMENT).flow_from_directory(
                    directory, target_size=(size, size), batch_size=128, class_mode="binary",
                    seed=r)
                count = flow.samples
                times[name].append(timed(lambda: [flow[i] for i in range(len(flow))]))
        row = {"size": size, "images": count}
        for name in generators:
            row[f"{name} generator img/s"] = count / statistics.median(times[name])
        rows.append(row)
        log(json.dumps({k: (round(v, 1) if isinstance(v, float) else v)
                        for k, v in row.items()}))
    return rows


def waiting_rows(directory, sizes, log):
    """fit one epoch from the augmenting generator; time spent blocked on the next batch."""
    import scratchnet
    from scratchnet.models import batches
    from scratchnet.preprocessing.image import ImageDataGenerator

    waited = []
    original = batches.IterableBatches.iterate

    def timing_iterate(self):
        iterator = original(self)

        def watch():
            while True:
                start = time.perf_counter()
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                waited.append(time.perf_counter() - start)
                yield item
        return watch()

    rows = []
    for size in sizes:
        spec = lecture_models.get(MODELS[size])
        model = spec.build(scratchnet.keras)
        flow = ImageDataGenerator(**AUGMENT).flow_from_directory(
            directory, target_size=(size, size), batch_size=32, class_mode="binary", seed=0)
        model.fit(flow, steps_per_epoch=1, epochs=1, verbose=0)       # warm-up
        batches.IterableBatches.iterate = timing_iterate
        try:
            waited.clear()
            total = timed(lambda: model.fit(flow, epochs=1, shuffle=False, verbose=0))
        finally:
            batches.IterableBatches.iterate = original
        rows.append({"size": size, "batch": 32, "images": flow.samples,
                     "epoch seconds": total, "waiting seconds": sum(waited),
                     "waiting share": sum(waited) / total})
        log(json.dumps({k: (round(v, 3) if isinstance(v, float) else v)
                        for k, v in rows[-1].items()}))
    return rows


def markdown(result):
    lines = ["# horse-or-human: scratchnet vs TensorFlow (CPU)", "",
             f"Machine: {result['machine']}. Medians of {result['repeats']} alternating runs.",
             "", "## The network (random pixels in memory)", "",
             "| model | batch | fit img/s scratchnet | TF | ratio | predict img/s scratchnet "
             "| TF | ratio |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["network"]:
        tf_fit, tf_pred = r.get("TensorFlow fit img/s"), r.get("TensorFlow predict img/s")
        ours_fit, ours_pred = r["scratchnet fit img/s"], r["scratchnet predict img/s"]
        lines.append(
            f"| {r['model']} ({r['size']}x{r['size']}x3) | {r['batch']} | {ours_fit:.1f} | "
            + (f"{tf_fit:.1f} | {ours_fit / tf_fit:.2f}x" if tf_fit else "- | -")
            + f" | {ours_pred:.1f} | "
            + (f"{tf_pred:.1f} | {ours_pred / tf_pred:.2f}x |" if tf_pred else "- | - |"))
    lines += ["", "## The generator (decode + resize + the lab's augmentation, batch 128)", "",
              "| size | scratchnet img/s | Keras img/s | ratio |", "|---:|---:|---:|---:|"]
    for r in result["generator"]:
        keras = r.get("Keras generator img/s")
        ours = r["scratchnet generator img/s"]
        lines.append(f"| {r['size']} | {ours:.1f} | "
                     + (f"{keras:.1f} | {ours / keras:.2f}x |" if keras else "- | - |"))
    lines += ["", "## Waiting for data in fit (scratchnet, batch 32, augmenting generator)", "",
              "| size | epoch s | waiting s | share |", "|---:|---:|---:|---:|"]
    for r in result["waiting"]:
        lines.append(f"| {r['size']} | {r['epoch seconds']:.2f} | {r['waiting seconds']:.2f} | "
                     f"{100 * r['waiting share']:.1f}% |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[150, 300], choices=[150, 300])
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-tf", dest="tf", action="store_false")
    parser.add_argument("--out", default=RESULTS_DIR)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from scratchnet.datasets import image_folders

    folders = image_folders.prepare("horse-or-human", verbose=False)
    import platform

    result = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} cores", "repeats": args.repeats,
              "folders": f"{folders.kind}: {folders.train}"}
    result["network"] = network_rows(args.sizes, args.batches, args.repeats, args.quick,
                                     args.tf, print)
    result["generator"] = generator_rows(folders.train, args.sizes, args.repeats, args.tf,
                                         print)
    result["waiting"] = waiting_rows(folders.train, args.sizes, print)
    write_atomically(os.path.join(args.out, "images.json"),
                     lambda f: f.write(json.dumps(result, indent=1).encode()))
    write_atomically(os.path.join(args.out, "images.md"),
                     lambda f: f.write(markdown(result).encode()))
    print(markdown(result))


if __name__ == "__main__":
    main()

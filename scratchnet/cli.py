"""The `scratchnet` command.

    scratchnet data fetch            cache MNIST and Fashion-MNIST (offline sources first),
                                     then the horse-or-human and rps image folders
    scratchnet demo [options]        train a lecture model with scratchnet and with tf.keras,
                                     on identical batches, and compare numbers and speed
    scratchnet compare optimizers|regularization [options]
                                     Hands-On CV ch. 3: LeNet-5 on MNIST once per optimizer
                                     or per regularization; figure + table into --out

TensorFlow is imported only by `demo` without --no-tf and by `compare --tf`; everything else
works without it.
"""
import argparse
import sys


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, received {text!r}")
    return value


def _non_negative_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, received {text!r}")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, received {text!r}")
    return value


def build_parser():
    from scratchnet import __version__
    from scratchnet.demo import DATASETS, DEFAULT_SEED, MODELS

    parser = argparse.ArgumentParser(
        prog="scratchnet",
        description="scratchnet: tf.keras rebuilt from scratch in NumPy + Numba, "
                    "checked against TensorFlow.",
    )
    parser.add_argument("--version", action="version", version=f"scratchnet {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    data = commands.add_parser("data", help="manage the datasets",
                               description="Manage the MNIST / Fashion-MNIST datasets.")
    data_commands = data.add_subparsers(dest="data_command", metavar="ACTION")
    fetch = data_commands.add_parser(
        "fetch", help="cache MNIST, Fashion-MNIST and the image folders; print where",
        description="Make sure MNIST and Fashion-MNIST are cached (trying local copies "
                    "before the network), then the lectures' image-folder datasets "
                    "horse-or-human and rps (the official archives, checksum-verified, "
                    "when online; else a clearly labelled stand-in rebuilt from Debian's "
                    "openclipart-png drawings), and print where they are.")
    fetch.add_argument("--no-images", dest="images", action="store_false",
                       help="skip the image folders (horse-or-human, rps): MNIST and "
                            "Fashion-MNIST only")

    models = "; ".join(f"{name}: {spec.description}" for name, spec in MODELS.items())
    demo = commands.add_parser(
        "demo", help="train a lecture model with scratchnet and TensorFlow, side by side",
        description="Train a lecture model with scratchnet and with its tf.keras twin "
                    "(same initial weights, identical batches), then compare loss, accuracy, "
                    "speed and final weights in one table. Summary-only models "
                    "(horse_or_human) print their summary instead.")
    demo.add_argument("--model", default="mlp", choices=list(MODELS),
                      help=f"which lecture model (default: mlp). Models: {models}")
    demo.add_argument("--dataset", default=None, choices=DATASETS,
                      help="default: the model's lecture dataset (mlp, coursera_cnn: "
                           "fashion_mnist; the others: mnist)")
    demo.add_argument("--epochs", type=_positive_int, default=5, help="default: 5")
    demo.add_argument("--batch-size", type=_positive_int, default=None,
                      help="default: the lecture's (32; python_ml_cnn: 64)")
    demo.add_argument("--seed", type=_non_negative_int, default=DEFAULT_SEED,
                      help="seeds the initial weights and the batch order "
                           f"(default: {DEFAULT_SEED})")
    demo.add_argument("--dtype", default="float32", choices=("float32", "float64"),
                      help="default: float32 (Keras's default)")
    demo.add_argument("--no-tf", dest="tf", action="store_false",
                      help="run the scratchnet side only (TensorFlow not needed)")
    demo.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                      help="use only the first N training and N test images (quick runs)")
    demo.add_argument("--threads", "--blas-threads", dest="threads", type=_positive_int,
                      default=None, metavar="N",
                      help="threads scratchnet computes with inside fit/evaluate "
                           "(scratchnet.threads.set_num_threads(N); default: "
                           "SCRATCHNET_NUM_THREADS, else scratchnet's default)")
    demo.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                      help="fit's verbosity on both sides (default: 1, progress bars)")
    _add_compare_parser(commands)
    return parser


def _add_compare_parser(commands):
    from scratchnet import experiments

    compare = commands.add_parser(
        "compare", help="Hands-On CV ch. 3: compare optimizers or regularizations on LeNet-5",
        description="Train LeNet-5 on MNIST once per optimizer (sgd, momentum, nag, adagrad, "
                    "adadelta, rmsprop, adam) or once per regularization (none, l1, l2, "
                    "dropout, bn, early_stopping), as in Hands-On Computer Vision with "
                    "TensorFlow 2, ch. 3, and write the book's figure (loss / val-loss / "
                    "accuracy / val-accuracy per epoch) and a table (Markdown and JSON) into "
                    "--out. Default: a short run (optimizers: 6,000 train / 1,000 validation "
                    "images, 10 epochs; regularization: the book's 200 train images, 1,000 "
                    "validation images, 100 epochs); --full: the book's setting. Exit status 3: "
                    "some variant could not be built (a missing piece is named; the others "
                    "are still trained and written).")
    compare.add_argument("experiment", choices=list(experiments.EXPERIMENTS),
                         help="which comparison")
    compare.add_argument("--tf", action="store_true",
                         help="run it in tf.keras instead (the same builder called with "
                              "tensorflow.keras; needs TensorFlow)")
    compare.add_argument("--full", action="store_true",
                         help="the book's setting (optimizers: 60,000 / 10,000 images, 20 "
                              "epochs; regularization: 200 / 10,000 images, 300 epochs)")
    compare.add_argument("--samples", type=_positive_int, default=None, metavar="N",
                         help="train on the first N training images")
    compare.add_argument("--val-samples", type=_positive_int, default=None, metavar="M",
                         help="validate on the first M test images")
    compare.add_argument("--epochs", type=_positive_int, default=None, metavar="E")
    compare.add_argument("--batch-size", type=_positive_int, default=None, metavar="B",
                         help="default: the book's 32")
    compare.add_argument("--seed", type=_non_negative_int, default=experiments.DEFAULT_SEED,
                         help="reset before each model (default: the book's "
                              f"{experiments.DEFAULT_SEED})")
    compare.add_argument("--variants", default=None, metavar="A,B,...",
                         help="only these variants (comma-separated). optimizers: "
                              f"{', '.join(v.name for v in experiments.OPTIMIZERS.variants)}; "
                              "regularization: "
                              f"{', '.join(v.name for v in experiments.REGULARIZATION.variants)}")
    compare.add_argument("--out", default=experiments.DEFAULT_OUT, metavar="DIR",
                         help=f"where to write the figure and tables (default: "
                              f"{experiments.DEFAULT_OUT}/)")
    compare.add_argument("--verbose", type=int, default=0, choices=(0, 2),
                         help="each fit's verbosity: 0 (one line per run, default) or 2 (one "
                              "line per epoch)")


def _data_fetch(args):
    from scratchnet import datasets

    status = 0
    try:
        paths = datasets.prepare_all(verbose=True)
        print(f"Datasets ready ({', '.join(paths)}) in {datasets.data_dir()}")
    except datasets.DatasetUnavailableError as error:
        print(f"scratchnet data fetch: {error}", file=sys.stderr)
        status = 1
    if args.images:
        try:
            folders = datasets.prepare_image_folders(verbose=True)
        except datasets.DatasetUnavailableError as error:
            print(f"scratchnet data fetch: {error}", file=sys.stderr)
            return 1
        for name, f in folders.items():
            what = ("official" if f.kind == "official" else
                    "REBUILT stand-in from clip art, not the official images; see README.txt")
            print(f"{name} ({what}):\n  train:      {f.train}\n  validation: {f.validation}")
    return status


def _demo(args):
    from scratchnet import demo, threads
    from scratchnet.datasets import DatasetUnavailableError

    spec = demo.get_model_spec(args.model)
    if spec.image_folder is not None:
        print(demo.summary_text(spec, args.dtype))      # (the lecture prints it too)
    elif not spec.trainable:
        print(demo.summary_text(spec, args.dtype))
        print()
        print(f"scratchnet demo: {demo.summary_only_message(spec)}")
        return 0
    if args.threads is not None:
        threads.set_num_threads(args.threads)
    try:
        result = demo.run_demo(model=args.model, dataset=args.dataset, epochs=args.epochs,
                               batch_size=args.batch_size, seed=args.seed, dtype=args.dtype,
                               tf=args.tf, limit=args.limit, verbose=args.verbose)
    except demo.TensorFlowMissingError as error:
        print(f"scratchnet demo: {error}\n(or run the scratchnet side alone: "
              "scratchnet demo --no-tf)", file=sys.stderr)
        return 1
    except DatasetUnavailableError as error:
        print(f"scratchnet demo: {error}", file=sys.stderr)
        return 1
    print()
    print(demo.format_table(result))
    return 0


def _compare(args, parser, argv):
    from scratchnet import experiments
    from scratchnet.datasets import DatasetUnavailableError

    variants = None
    if args.variants is not None:
        variants = [v.strip() for v in args.variants.split(",") if v.strip()]
        known = [v.name for v in experiments.get_experiment(args.experiment).variants]
        unknown = [v for v in variants if v not in known]
        if unknown or not variants:
            parser.error(f"compare {args.experiment}: --variants: unknown variant(s) "
                         f"{', '.join(map(repr, unknown)) or '(none given)'}; choose from "
                         f"{', '.join(known)}")
    try:
        experiments.require_matplotlib()
        result = experiments.run_experiment(
            args.experiment, tf=args.tf, full=args.full, samples=args.samples,
            val_samples=args.val_samples, epochs=args.epochs, batch_size=args.batch_size,
            seed=args.seed, variants=variants, verbose=args.verbose,
            log=lambda line: print(line, flush=True))
    except (experiments.TensorFlowMissingError, experiments.PlottingUnavailableError,
            experiments.SetupError, DatasetUnavailableError) as error:
        print(f"scratchnet compare: {error}", file=sys.stderr)
        return 1
    result.command = experiments.command_line(argv)
    paths = experiments.write_outputs(result, args.out)
    print()
    print(experiments.format_markdown(result), end="")
    print()
    print("Wrote " + ", ".join(paths.values()))
    if result.not_built:
        names = ", ".join(v.name for v in result.not_built)
        print(f"scratchnet compare: not built in {result.framework}: {names} (see above)",
              file=sys.stderr)
        return experiments.EXIT_SOME_VARIANTS_MISSING
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "data":
        if args.data_command == "fetch":
            return _data_fetch(args)
        parser.error("data: choose an action: scratchnet data fetch")
    elif args.command == "demo":
        return _demo(args)
    elif args.command == "compare":
        return _compare(args, parser, argv)
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())

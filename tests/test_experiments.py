"""`scratchnet compare`: the Hands-On CV ch. 3 optimizer and regularization experiments.

Tiny runs on the real MNIST (skipped when it is not cached, failed under
SCRATCHNET_REQUIRE_DATA=1, as in test_datasets.py): the figure and the tables are written,
their numbers are those of an independent `fit` of the same builder with the same seed, a
missing piece is reported instead of faked, and the `--tf` path runs the same builders in
tf.keras once.
"""
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from scratchnet import cli, experiments
from scratchnet import keras as sn

pytest.importorskip("matplotlib")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = dict(samples=256, val_samples=128, epochs=2, batch_size=32)


@pytest.fixture(scope="module")
def mnist_data():
    from scratchnet import datasets
    from scratchnet.datasets import mnist

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCRATCHNET_OFFLINE", "1")
        try:
            (x_train, y_train), (x_test, y_test) = mnist.load_data()
        except datasets.DatasetUnavailableError as e:
            if os.environ.get("SCRATCHNET_REQUIRE_DATA") == "1":
                pytest.fail(f"SCRATCHNET_REQUIRE_DATA=1 but MNIST is missing:\n{e}")
            pytest.skip("MNIST not available offline; run `scratchnet data fetch`")
    return (x_train[:1000], y_train[:1000]), (x_test[:500], y_test[:500])


def _quiet(*_):
    pass


def _refit(K, experiment, variant, data, setting, seed=experiments.DEFAULT_SEED):
    """The variant trained again by hand from the builder: its History.history."""
    (x, y), (xv, yv) = experiments.load_mnist(setting, data)
    v = experiment.variant(variant)
    K.utils.set_random_seed(seed)
    options = v.model_options(K) if v.model_options else {}
    model = experiment.builder(K, name=f"lenet_{variant}", **options)
    model.compile(optimizer=v.optimizer(K), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    callbacks = v.callbacks(K) if v.callbacks else []
    return model.fit(x, y, batch_size=setting.batch_size, epochs=setting.epochs,
                     validation_data=(xv, yv), callbacks=callbacks, verbose=0).history


def _check_written(result, paths):
    with open(paths["png"], "rb") as f:
        assert f.read(8) == PNG_MAGIC
    with open(paths["json"]) as f:
        table = json.load(f)
    with open(paths["md"]) as f:
        markdown = f.read()
    assert table["experiment"] == result.experiment
    assert table["setting"] == {"samples": result.setting.samples,
                                "val_samples": result.setting.val_samples,
                                "epochs": result.setting.epochs,
                                "batch_size": result.setting.batch_size}
    assert [v["name"] for v in table["variants"]] == [v.name for v in result.variants]
    assert not [n for n in os.listdir(os.path.dirname(paths["png"])) if n.endswith(".tmp")]
    umask = os.umask(0)
    os.umask(umask)
    assert {os.stat(p).st_mode & 0o777 for p in paths.values()} == {0o666 & ~umask}
    return table, markdown


def _assert_row_is_history(row, history, markdown):
    """The table's numbers are the History's: last values, max val accuracy, epochs run."""
    assert row["built"] and row["history"] == history
    assert row["epochs_run"] == len(history["loss"])
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert row[f"final_{key}"] == history[key][-1]
    assert row["best_val_accuracy"] == max(history["val_accuracy"])
    assert row["best_epoch"] == history["val_accuracy"].index(max(history["val_accuracy"])) + 1
    assert row["seconds"] > 0 and row["seconds_per_epoch"] == row["seconds"] / row["epochs_run"]
    assert (f"| {row['name']} |" in markdown
            and f"{row['final_val_accuracy']:.4f} | {row['best_val_accuracy']:.4f} "
                f"({row['best_epoch']}) |" in markdown)


# ---- the two experiments in scratchnet --------------------------------------------------------
def test_optimizers_tiny_run_writes_the_figure_and_the_history_numbers(mnist_data, tmp_path):
    result = experiments.run_experiment("optimizers", variants=["sgd", "adam"], **TINY,
                                        data=mnist_data, log=_quiet)
    assert result.framework == "scratchnet" and result.setting_name == "custom"
    assert [v.name for v in result.variants] == ["sgd", "adam"] and not result.not_built
    paths = experiments.write_outputs(result, str(tmp_path / "out"))
    assert paths == {ext: str(tmp_path / "out" / f"optimizers_scratchnet.{ext}")
                     for ext in ("png", "md", "json")}
    table, markdown = _check_written(result, paths)
    for row in table["variants"]:
        again = _refit(sn, experiments.OPTIMIZERS, row["name"], mnist_data, result.setting)
        _assert_row_is_history(row, {k: [float(x) for x in v] for k, v in again.items()},
                               markdown)
    sgd, adam = table["variants"]
    assert sgd["history"]["loss"][0] != adam["history"]["loss"][0]


def test_regularization_tiny_run_builds_every_variant_in_scratchnet(mnist_data, tmp_path):
    result = experiments.run_experiment("regularization", **TINY, data=mnist_data, log=_quiet)
    assert [v.name for v in result.variants] == ["none", "l1", "l2", "dropout", "bn",
                                                 "early_stopping"]
    assert not result.not_built, [(v.name, v.reason) for v in result.not_built]
    table, markdown = _check_written(result, experiments.write_outputs(result, str(tmp_path)))
    rows = {row["name"]: row for row in table["variants"]}
    for name in ("none", "l2"):
        again = _refit(sn, experiments.REGULARIZATION, name, mnist_data, result.setting)
        _assert_row_is_history(rows[name], {k: [float(x) for x in v] for k, v in again.items()},
                               markdown)
    none = rows["none"]["history"]
    # Same seed, same model, no stop within 2 epochs: early_stopping retraces 'none' exactly.
    assert rows["early_stopping"]["history"] == none
    # The penalties are in the loss: 0.01 * sum|w| over ~60k kernel weights is far above 1.
    assert rows["l1"]["history"]["loss"][0] > none["loss"][0] + 1.0
    assert rows["l2"]["history"]["loss"][0] > none["loss"][0] + 0.1
    for name in ("dropout", "bn"):
        assert rows[name]["history"]["loss"] != none["loss"]


def test_runs_are_seeded(mnist_data):
    kwargs = dict(variants=["momentum"], samples=64, val_samples=32, epochs=1, data=mnist_data,
                  log=_quiet)
    first = experiments.run_experiment("optimizers", seed=3, **kwargs).variants[0].history
    again = experiments.run_experiment("optimizers", seed=3, **kwargs).variants[0].history
    other = experiments.run_experiment("optimizers", seed=4, **kwargs).variants[0].history
    assert first == again and first != other


# ---- missing pieces are named, not faked ------------------------------------------------------
def _namespace(**layer_overrides):
    """scratchnet.keras with some layers replaced (None: removed)."""
    layers = types.SimpleNamespace(**{n: getattr(sn.layers, n) for n in sn.layers.__all__})
    for name, value in layer_overrides.items():
        if value is None:
            delattr(layers, name)
        else:
            setattr(layers, name, value)
    return types.SimpleNamespace(layers=layers, Sequential=sn.Sequential, utils=sn.utils,
                                 optimizers=sn.optimizers, callbacks=sn.callbacks,
                                 regularizers=getattr(sn, "regularizers", None))


def test_a_missing_layer_is_reported_and_the_rest_still_runs(mnist_data, monkeypatch, capsys,
                                                               tmp_path):
    K = _namespace(Dropout=None)
    monkeypatch.setattr(experiments, "keras_namespace", lambda tf=False: (K, "scratchnet", "x"))
    load = experiments.load_mnist
    monkeypatch.setattr(experiments, "load_mnist",
                        lambda setting, data=None: load(setting, mnist_data))
    code = cli.main(["compare", "regularization", "--variants", "none,dropout", "--samples", "64",
                     "--val-samples", "32", "--epochs", "1", "--out", str(tmp_path)])
    assert code == experiments.EXIT_SOME_VARIANTS_MISSING
    captured = capsys.readouterr()
    assert "dropout: NOT BUILT in scratchnet: missing layers.Dropout" in captured.out
    assert "not built in scratchnet: dropout" in captured.err
    table = json.loads((tmp_path / "regularization_scratchnet.json").read_text())
    none, dropout = table["variants"]
    assert none["built"] and len(none["history"]["loss"]) == 1
    assert dropout == {"name": "dropout", "description": dropout["description"], "built": False,
                       "reason": "missing layers.Dropout"}
    assert "| dropout |" in (tmp_path / "regularization_scratchnet.md").read_text()


def test_a_regularizer_that_never_reaches_the_loss_is_not_passed_off_as_l1(mnist_data):
    class Dense(sn.layers.Dense):
        def __init__(self, *args, kernel_regularizer=None, **kwargs):
            super().__init__(*args, **kwargs)   # accepts the argument, then drops it

    class Conv2D(sn.layers.Conv2D):
        def __init__(self, *args, kernel_regularizer=None, **kwargs):
            super().__init__(*args, **kwargs)

    K = _namespace(Dense=Dense, Conv2D=Conv2D)
    variant = experiments.REGULARIZATION.variant("l1")
    assert experiments.missing_pieces(K, variant) == []
    model, _ = experiments._build(K, experiments.REGULARIZATION, variant, 0)
    (x, y), _ = experiments.load_mnist(experiments.Setting(64, 8, 1), mnist_data)
    with pytest.raises(experiments._NotBuilt, match="model.losses is empty"):
        experiments._check_penalty_in_loss(model, x, y)
    real, _ = experiments._build(sn, experiments.REGULARIZATION, variant, 0)
    experiments._check_penalty_in_loss(real, x, y)  # scratchnet's own passes


# ---- the CLI ----------------------------------------------------------------------------------
def test_compare_parses_its_options():
    args = cli.build_parser().parse_args(
        ["compare", "optimizers", "--tf", "--full", "--samples", "100", "--val-samples", "50",
         "--epochs", "3", "--batch-size", "16", "--seed", "7", "--variants", "sgd,nag",
         "--out", "somewhere", "--verbose", "2"])
    assert (args.command, args.experiment, args.tf, args.full, args.samples, args.val_samples,
            args.epochs, args.batch_size, args.seed, args.variants, args.out, args.verbose) == \
        ("compare", "optimizers", True, True, 100, 50, 3, 16, 7, "sgd,nag", "somewhere", 2)
    defaults = cli.build_parser().parse_args(["compare", "regularization"])
    assert (defaults.tf, defaults.full, defaults.samples, defaults.seed, defaults.out,
            defaults.verbose) == (False, False, None, 42, "compare_results", 0)


@pytest.mark.parametrize("argv, words", [
    (["compare"], ["experiment"]),
    (["compare", "dropout"], ["optimizers", "regularization"]),
    (["compare", "optimizers", "--epochs", "0"], ["--epochs"]),
    (["compare", "optimizers", "--verbose", "1"], ["--verbose"]),
    (["compare", "optimizers", "--variants", "sgd,lbfgs"], ["lbfgs", "adadelta"]),
])
def test_bad_compare_options_are_rejected(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err


def test_compare_help_and_top_level_help_mention_it(capsys):
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    out = capsys.readouterr().out
    for option in ("--tf", "--full", "--samples", "--epochs", "--out", "--batch-size", "--seed"):
        assert option in out
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert "compare" in capsys.readouterr().out


def test_more_samples_than_mnist_is_a_clear_error(capsys):
    assert cli.main(["compare", "optimizers", "--samples", "70000"]) == 1
    assert "samples=70000 is more than the 60000 images available" in capsys.readouterr().err


def test_settings_short_full_and_overrides():
    opt, reg = experiments.OPTIMIZERS, experiments.REGULARIZATION
    assert experiments.resolve_setting(opt, full=True) == experiments.Setting(60000, 10000, 20, 32)
    assert experiments.resolve_setting(reg, full=True) == experiments.Setting(200, 10000, 300, 32)
    assert experiments.resolve_setting(reg, epochs=5, batch_size=8) == experiments.Setting(
        reg.short.samples, reg.short.val_samples, 5, 8)
    with pytest.raises(experiments.SetupError, match="epochs"):
        experiments.resolve_setting(opt, epochs=0)


def test_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "table.md"
    experiments._write_atomic(str(path), "old\n")

    def broken(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(experiments.os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        experiments._write_atomic(str(path), "new\n")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["table.md"]


def test_importing_the_command_imports_neither_tensorflow_nor_matplotlib():
    code = ("import sys, scratchnet.experiments, scratchnet.cli; "
            "scratchnet.cli.build_parser(); "
            "print(sorted(m for m in ('tensorflow', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


# ---- the --tf path, once ----------------------------------------------------------------------
def test_tf_path_runs_the_same_builders_in_tf_keras(mnist_data, tmp_path):
    from tf_support import import_tf

    import_tf()
    opt = experiments.run_experiment("optimizers", tf=True, variants=["nag"], samples=128,
                                     val_samples=64, epochs=1, data=mnist_data, log=_quiet)
    reg = experiments.run_experiment("regularization", tf=True, variants=["l1"],
                                     samples=128, val_samples=64, epochs=1, data=mnist_data,
                                     log=_quiet)
    assert opt.framework == reg.framework == "tf"
    assert opt.framework_description.startswith("TensorFlow ")
    assert not opt.not_built and not reg.not_built  # the penalty check passes on real Keras
    for result in (opt, reg):
        paths = experiments.write_outputs(result, str(tmp_path))
        assert paths["png"].endswith(f"{result.experiment}_tf.png")
        table, _ = _check_written(result, paths)
        for row in table["variants"]:
            assert row["epochs_run"] == 1
            assert all(np.isfinite(row["history"][k][0])
                       for k in ("loss", "accuracy", "val_loss", "val_accuracy"))
    # Keras's loss holds L1's penalty too: cross-entropy alone is ~2.3 after one epoch.
    assert reg.variants[0].final("loss") > 10.0

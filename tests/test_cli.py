"""The `scratchnet` command: argument wiring, errors, and a tiny scratchnet-only demo.

Fast tests only: no TensorFlow, no full datasets (the demo runs on a small synthetic set).
"""
import subprocess
import sys

import numpy as np
import pytest

from scratchnet import cli, demo


def _tiny_data(n_train=96, n_test=40, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_train).astype(np.uint8)),
            (rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
             rng.integers(0, 10, n_test).astype(np.uint8)))


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "data" in out and "demo" in out


def test_demo_help(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for option in ("--model", "--dataset", "--epochs", "--batch-size", "--seed", "--dtype",
                   "--no-tf", "--limit"):
        assert option in out


def test_no_command_prints_help_and_fails(capsys):
    assert cli.main([]) == 2
    assert "usage" in capsys.readouterr().out


def test_unknown_model_is_a_clear_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["demo", "--model", "resnet50"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "--model" in err and "resnet50" in err and "mlp" in err


@pytest.mark.parametrize("argv", [["demo", "--epochs", "0"], ["demo", "--batch-size", "-3"],
                                  ["demo", "--dtype", "float16"], ["demo", "--dataset", "cifar"]])
def test_bad_demo_options_are_rejected(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_get_model_spec_names_the_choices():
    with pytest.raises(ValueError, match="unknown model 'nope'.*mlp"):
        demo.get_model_spec("nope")


def test_data_fetch_calls_prepare_all(monkeypatch, capsys):
    import scratchnet.datasets as datasets

    calls = []

    def fake_prepare_all(verbose=True):
        calls.append(verbose)
        return {"mnist": "/cache/mnist.npz", "fashion_mnist": "/cache/fashion.npz"}

    monkeypatch.setattr(datasets, "prepare_all", fake_prepare_all)
    monkeypatch.setattr(datasets, "data_dir", lambda: "/cache")
    monkeypatch.setattr(datasets, "prepare_image_folders", lambda verbose=True: {})
    assert cli.main(["data", "fetch"]) == 0
    assert calls == [True]
    out = capsys.readouterr().out
    assert "/cache" in out and "mnist" in out and "fashion_mnist" in out


def test_data_fetch_failure_is_reported(monkeypatch, capsys):
    import scratchnet.datasets as datasets

    def failing(verbose=True):
        raise datasets.DatasetUnavailableError("no source: run apt-get install ...")

    monkeypatch.setattr(datasets, "prepare_all", failing)
    monkeypatch.setattr(datasets, "prepare_image_folders", lambda verbose=True: {})
    assert cli.main(["data", "fetch"]) == 1
    assert "no source" in capsys.readouterr().err


def test_data_without_action_fails(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["data"])
    assert exit_info.value.code == 2


def test_demo_no_tf_on_a_tiny_subset(monkeypatch, capsys):
    monkeypatch.setattr(demo, "load_dataset", lambda name: _tiny_data())
    monkeypatch.setattr(demo, "import_tensorflow", _no_tensorflow)
    assert cli.main(["demo", "--no-tf", "--epochs", "1", "--limit", "64", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "test accuracy" in out and "scratchnet" in out and "--no-tf" in out


def _no_tensorflow():
    raise AssertionError("--no-tf must not import TensorFlow")


def test_demo_without_tensorflow_says_how_to_install(monkeypatch, capsys):
    def missing():
        raise demo.TensorFlowMissingError(demo.TF_MISSING)

    monkeypatch.setattr(demo, "import_tensorflow", missing)
    monkeypatch.setattr(demo, "load_dataset", lambda name: pytest.fail("data loaded first"))
    assert cli.main(["demo", "--epochs", "1", "--limit", "64"]) == 1
    err = capsys.readouterr().err
    assert "pip install 'scratchnet[tf]'" in err and "--no-tf" in err


def test_run_demo_scratch_side_is_seeded_and_counts_images():
    kwargs = dict(epochs=2, batch_size=16, seed=3, tf=False, verbose=0, data=_tiny_data(),
                  log=lambda *a: None)
    first, second = demo.run_demo(**kwargs), demo.run_demo(**kwargs)
    ours = first.side("scratchnet")
    assert ours.images == 2 * 96 and ours.train_seconds > 0
    assert 0.0 <= ours.test_accuracy <= 1.0
    assert ours.train_loss == second.side("scratchnet").train_loss
    assert first.tf_device is None and first.max_weight_diff is None
    table = demo.format_table(first)
    assert "images/s" in table and "skipped" in table


def test_run_demo_float64_and_limit():
    result = demo.run_demo(epochs=1, batch_size=8, dtype="float64", tf=False, verbose=0,
                           limit=24, data=_tiny_data(), log=lambda *a: None)
    assert result.n_train == 24 and result.n_test == 24 and result.dtype == "float64"
    from scratchnet import backend

    assert backend.floatx() == "float32"  # the demo restores the global floatx


def test_model_registry_is_extensible():
    from scratchnet import lecture_models

    def build(keras):
        return keras.Sequential([keras.layers.Flatten(input_shape=(28, 28)),
                                 keras.layers.Dense(10, activation="softmax")])

    lecture_models.register(lecture_models.LectureModel(
        "tiny_test_model", "a test entry", "no lecture", build,
        lambda keras: dict(optimizer="sgd", loss="sparse_categorical_crossentropy",
                           metrics=["accuracy"]),
        (28, 28), dataset="fashion_mnist"))
    try:
        assert "tiny_test_model" in cli.build_parser().parse_args(
            ["demo", "--model", "tiny_test_model"]).model
        result = demo.run_demo(model="tiny_test_model", epochs=1, tf=False, verbose=0,
                               data=_tiny_data(), log=lambda *a: None)
        assert result.side("scratchnet").images == 96
    finally:
        lecture_models.MODELS.pop("tiny_test_model")


def test_model_choices_are_the_registry():
    from scratchnet import lecture_models

    assert demo.MODELS is lecture_models.MODELS
    for name in lecture_models.MODELS:
        assert cli.build_parser().parse_args(["demo", "--model", name]).model == name
    args = cli.build_parser().parse_args(["demo"])
    assert args.model == "mlp" and args.dataset is None and args.batch_size is None


@pytest.mark.parametrize("model,dataset,batch,accuracy_key", [
    ("coursera_cnn", "fashion_mnist", 32, "accuracy"),
    ("lenet5", "mnist", 32, "accuracy"),
    ("python_ml_cnn", "mnist", 64, "acc"),  # one-hot labels, metrics=['acc']
])
def test_demo_trains_the_cnns_on_a_tiny_subset(model, dataset, batch, accuracy_key,
                                               monkeypatch, capsys):
    loaded = []
    monkeypatch.setattr(demo, "load_dataset", lambda name: loaded.append(name) or _tiny_data())
    monkeypatch.setattr(demo, "import_tensorflow", _no_tensorflow)
    assert cli.main(["demo", "--model", model, "--no-tf", "--epochs", "1", "--limit", "64",
                     "--verbose", "0"]) == 0
    assert loaded == [dataset]  # the lecture's dataset by default
    out = capsys.readouterr().out
    assert f"Model {model!r} on {dataset}" in out and f"batch {batch}," in out
    row = next(line for line in out.splitlines() if line.startswith("test accuracy"))
    accuracy = float(row.split("|")[1])
    assert 0.0 <= accuracy <= 1.0  # read under the lecture's metric name ({accuracy_key})


def test_horse_or_human_demo_prints_the_summary_then_trains_from_folders(monkeypatch,
                                                                           capsys):
    monkeypatch.setattr(demo, "summary_text", lambda spec, dtype="float32": f"SUMMARY {spec.name}")
    monkeypatch.setattr(demo, "load_dataset", lambda name: pytest.fail("no arrays: folders"))
    calls = []

    def fake_run(**kw):      # (the folder demo itself: test_horse_or_human_demo_trains_...)
        calls.append(kw)
        return demo.DemoResult("horse_or_human", "horse-or-human (test)", 1, 128, "float32",
                               4, 2, [demo.SideResult("scratchnet", 0.5, 0.5, 0.5, 0.5, 1.0,
                                                      4)])

    monkeypatch.setattr(demo, "run_demo", fake_run)
    assert cli.main(["demo", "--model", "horse_or_human", "--no-tf", "--epochs", "1"]) == 0
    out = capsys.readouterr().out
    assert out.index("SUMMARY horse_or_human") < out.index("training images/s")
    assert calls and calls[0]["model"] == "horse_or_human" and calls[0]["tf"] is False


def test_horse_or_human_demo_trains_both_sides_alike(tmp_path):
    """The folder demo on a small tree of real image files: both sides read the same batch
    (flow_from_directory with one seed) from the same weights, so the loss of their one step
    agrees; the table reads. (Longer runs of this 9.5-million-weight RMSprop model drift
    apart fast: RMSprop turns the rounding noise of near-zero gradients into full steps.)"""
    from test_lecture_images import image_tree

    class Folders:
        kind = "test tree"
        train, validation = str(tmp_path / "train"), str(tmp_path / "validation")

    image_tree(tmp_path / "train", 4)
    image_tree(tmp_path / "validation", 2, seed=1)
    result = demo.run_demo(model="horse_or_human_150", epochs=1, batch_size=8, tf=True,
                           verbose=0, data=Folders(), log=lambda *a: None)
    assert result.n_train == 8 and result.n_test == 4
    ours, theirs = result.side("scratchnet"), result.side("TensorFlow")
    assert ours.images == theirs.images == 8
    assert ours.train_loss == pytest.approx(theirs.train_loss, rel=1e-4)
    assert ours.train_accuracy == theirs.train_accuracy
    assert result.max_weight_diff < 0.01
    table = demo.format_table(result)
    assert "speed ratio" in table and result.dataset == "horse-or-human (test tree)"


def test_import_scratchnet_and_cli_do_not_import_tensorflow():
    code = ("import sys, scratchnet, scratchnet.cli, scratchnet.demo, scratchnet.lecture_models; "
            "scratchnet.cli.build_parser(); print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("option", ["--threads", "--blas-threads"])
def test_threads_option_sets_scratchnets_thread_count(option, monkeypatch, capsys):
    from scratchnet import threads

    calls = []
    monkeypatch.setattr(threads, "set_num_threads", calls.append)
    monkeypatch.setattr(demo, "load_dataset", lambda name: _tiny_data())
    assert cli.main(["demo", "--no-tf", "--epochs", "1", "--limit", "32", "--verbose", "0",
                     option, "2"]) == 0
    assert calls == [2]
    assert "threads inside fit/evaluate" in capsys.readouterr().out


def test_scratchnet_threads_reports_the_setting(monkeypatch):
    from scratchnet import threads

    monkeypatch.setattr(threads, "_num_threads", 3)
    assert demo.scratchnet_threads() == 3
    result = demo.run_demo(epochs=1, tf=False, verbose=0, limit=16, data=_tiny_data(),
                           log=lambda *a: None)
    assert result.threads == 3 and "inside fit/evaluate: 3" in demo.format_table(result)

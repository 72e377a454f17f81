"""The ``continual`` command: quick runs, resume, and one-line errors for bad data and options."""

from __future__ import annotations

import argparse
import gzip

import numpy as np
import pytest

from spikesub.continual import cli
from spikesub.runs import load_npz, read_json

QUICK = ["--quick", "--n-tasks", "2", "--max-train", "100", "--epochs", "1", "--quiet"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("spikesub continual: error: ")
    return lines[0]


def test_register_adds_the_subcommand():
    parser = argparse.ArgumentParser(prog="spikesub")
    sub = parser.add_subparsers(dest="command")
    cli.register(sub)
    args = parser.parse_args(
        ["continual", "--method", "gpm", "--hidden", "32,16", "--option", "samples=50"]
    )
    assert args.method == "gpm" and args.hidden == (32, 16)
    assert args.strategy_options == [("samples", 50)]
    assert args.handler is cli.run_cli
    with pytest.raises(SystemExit):
        parser.parse_args(["continual", "--method", "sgd"])


def test_quick_digits_run_writes_folder_and_figures(tmp_path, capsys):
    out = tmp_path / "run"
    status = cli.main(["--method", "gpm", "--out", str(out), *QUICK[:-1]])
    assert status == 0
    printed = capsys.readouterr().out
    assert "gpm on digits (2/2 tasks, bptt): ACC" in printed
    for name in ("config.json", "metrics.json", "accuracy.npz", "accuracy_matrix.png"):
        assert (out / name).is_file()
    config = read_json(out / "config.json")
    assert config["experiment"] == "continual" and config["quick"] is True
    assert config["max_train"] == 100 and config["gpm_threshold"] == pytest.approx(0.97)


def test_stop_and_resume_with_the_saved_options(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["--method", "ewc", "--ewc-lambda", "50", "--out", str(out), *QUICK, "--no-plots"]
    assert cli.main([*args, "--stop-after", "1"]) == 0
    assert read_json(out / "metrics.json")["tasks_done"] == 1
    # no options: the saved ones are used
    assert cli.main(["--resume", "--out", str(out), "--quiet", "--no-plots"]) == 0
    metrics = read_json(out / "metrics.json")
    assert metrics["finished"] and metrics["tasks_done"] == 2
    assert np.isfinite(load_npz(out / "accuracy.npz")["R"]).all()
    # a differing option is refused, naming it
    status = cli.main(["--resume", "--out", str(out), "--ewc-lambda", "7", "--quiet"])
    assert status == 2
    assert (
        "resume: the settings differ (given != saved): ewc_lambda: 7.0 != 50.0"
        in one_line_error(capsys)
    )


def test_option_of_another_method_is_refused(tmp_path, capsys):
    status = cli.main(["--method", "hlop", "--gpm-threshold", "0.9", "--out", str(tmp_path)])
    assert status == 2
    assert "gpm_threshold is an option of method gpm, not of hlop" in one_line_error(capsys)


def test_pmnist_from_tiny_idx_files(write_tiny_mnist, tmp_path, capsys):
    write_tiny_mnist(tmp_path / "mnist")
    out = tmp_path / "run"
    status = cli.main(
        ["--benchmark", "pmnist", "--data-dir", str(tmp_path / "mnist"), "--out", str(out)]
        + ["--method", "finetune", "--no-plots", *QUICK]
    )
    assert status == 0, capsys.readouterr().err
    R = load_npz(out / "accuracy.npz")["R"]
    assert R.shape == (2, 2) and np.isfinite(R).all()


def test_missing_data_dir_and_files_are_named(write_tiny_mnist, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["--benchmark", "pmnist", "--quiet"]) == 2
    assert "needs the MNIST files: give data_dir (--data-dir DIR)" in one_line_error(capsys)
    status = cli.main(["--benchmark", "splitmnist", "--data-dir", str(tmp_path / "none")])
    assert status == 2
    assert "does not exist" in one_line_error(capsys)
    write_tiny_mnist(tmp_path / "mnist")
    (tmp_path / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    status = cli.main(["--benchmark", "pmnist", "--data-dir", str(tmp_path / "mnist")])
    assert status == 2
    line = one_line_error(capsys)
    assert "MNIST files missing" in line and "train-images-idx3-ubyte" in line
    assert "--download" in line


@pytest.mark.parametrize("damage", ["magic", "truncated"])
def test_corrupt_idx_gives_exit_2_and_one_line(
    write_tiny_mnist, tmp_path, capsys, monkeypatch, damage
):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "mnist"
    write_tiny_mnist(folder)
    path = folder / "t10k-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    broken = b"\x08\x08" + raw[2:] if damage == "magic" else raw[: len(raw) // 2]
    path.write_bytes(gzip.compress(broken))
    status = cli.main(["--benchmark", "pmnist", "--data-dir", str(folder), "--quiet"])
    assert status == 2
    line = one_line_error(capsys)
    assert "t10k-images-idx3-ubyte.gz" in line
    assert ("bad IDX magic" if damage == "magic" else "IDX file truncated") in line
    assert not (tmp_path / "runs").exists()


def test_split_cifar100_from_tiny_files_with_a_100_way_readout(tmp_path, capsys):
    from vision_files import write_cifar  # tests/continual/vision_files.py

    from spikesub.continual.run import load_checkpoint

    write_cifar(tmp_path / "cifar", classes=100, n=200)
    out = tmp_path / "run"
    status = cli.main(
        ["--benchmark", "splitcifar100", "--data-dir", str(tmp_path / "cifar"), "--out", str(out)]
        + ["--method", "hlop", "--architecture", "convnet", "--no-plots", *QUICK]
    )
    assert status == 0, capsys.readouterr().err
    R = load_npz(out / "accuracy.npz")["R"]
    assert R.shape == (2, 2) and np.isfinite(R).all()
    assert load_checkpoint(out)["model"]["readout.weight"].shape[0] == 100


@pytest.mark.parametrize(
    ("benchmark", "named"),
    [
        ("splitcifar100", "cifar-100-python.tar.gz from https://"),
        ("fivedatasets", "5-Datasets files missing"),
        ("miniimagenet", "train.pkl"),
    ],
)
def test_missing_image_files_give_exit_2_naming_them(
    tmp_path, capsys, monkeypatch, benchmark, named
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    assert cli.main(["--benchmark", benchmark, "--data-dir", "empty", "--quiet"]) == 2
    assert named in one_line_error(capsys)
    assert cli.main(["--benchmark", benchmark, "--quiet"]) == 2
    assert "give data_dir (--data-dir DIR)" in one_line_error(capsys)
    assert not (tmp_path / "runs").exists()


def test_five_datasets_without_notmnist_and_a_corrupt_cifar(tmp_path, capsys, monkeypatch):
    from vision_files import write_five_datasets  # tests/continual/vision_files.py

    monkeypatch.chdir(tmp_path)
    write_five_datasets(tmp_path / "five")
    (tmp_path / "five" / "notmnist" / "notmnist.zip").unlink()
    assert cli.main(["--benchmark", "fivedatasets", "--data-dir", "five", "--quiet"]) == 2
    assert "notmnist/notmnist.zip; pass download=True" in one_line_error(capsys)
    write_five_datasets(tmp_path / "five")
    (tmp_path / "five" / "cifar10" / "cifar-10-python.tar.gz").write_bytes(b"broken")
    assert cli.main(["--benchmark", "fivedatasets", "--data-dir", "five", "--quiet"]) == 2
    assert "cifar-10-python.tar.gz is corrupt" in one_line_error(capsys)


def test_paper_counts_need_the_papers_network(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--benchmark", "splitcifar100", "--data-dir", "x", "--hlop-counts", "paper"]
    assert cli.main([*args, "--architecture", "convnet", "--quiet"]) == 2
    assert "defined for the paper's networks only" in one_line_error(capsys)
    assert cli.main([*args, "--hlop-k", "3", "--quiet"]) == 2
    assert "not both" in one_line_error(capsys)

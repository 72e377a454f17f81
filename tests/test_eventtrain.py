"""spikesub eventtrain on the synthetic files written in each dataset's own format."""

from __future__ import annotations

import pytest

pytest.importorskip("tonic")

from spikesub.cli import main  # noqa: E402
from spikesub.runs import read_json  # noqa: E402


@pytest.mark.parametrize(("dataset", "model"), [("shd", "rlif"), ("nmnist", "conv")])
def test_quick_run_writes_a_run_folder(tmp_path, dataset, model):
    out = tmp_path / dataset
    assert main(["eventtrain", "--dataset", dataset, "--quick", "--quiet", "--out", str(out)]) == 0
    for name in ("config.json", "metrics.json", "history.npz", "model.pt", "curves.png"):
        assert (out / name).is_file(), name
    assert not (out / "checkpoint.pt").exists()
    config = read_json(out / "config.json")
    assert config["layout"] == "(T, B, ...)" and config["steps"] == 10
    assert config["model_kind"] == model and "synthetic" in config["data"]
    metrics = read_json(out / "metrics.json")
    assert metrics["status"] == "complete" and metrics["epochs"] == 4
    assert metrics["best_test_acc"] > metrics["chance"]
    # a finished run resumes to nothing
    assert main(["eventtrain", "--dataset", dataset, "--quick", "--quiet", "--out", str(out),
                 "--resume"]) == 0  # fmt: skip


def test_missing_dataset_is_one_line_and_exit_2(tmp_path, capsys):
    status = main(["eventtrain", "--dataset", "shd", "--data-dir", str(tmp_path / "none"),
                   "--out", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1
    assert "SHD not found" in err and "--download" in err
    assert not (tmp_path / "run").exists()  # no empty run folder left behind
    assert main(["eventtrain", "--dataset", "shd", "--out", str(tmp_path / "r2")]) == 2
    assert "data_dir must be set" in capsys.readouterr().err


def test_foreign_event_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "data" / "SHD" / "shd_train.h5"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not hdf5")
    status = main(["eventtrain", "--dataset", "shd", "--data-dir", str(tmp_path / "data"),
                   "--out", str(tmp_path / "run")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "shd_train.h5" in err
    assert not (tmp_path / "run").exists()

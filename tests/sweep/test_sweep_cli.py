"""``spikesub sweep`` from the command line: the repository's quick sweep on a local Ray that
the command starts and stops, and a cluster that cannot be reached."""

from __future__ import annotations

import socket
import time

import pytest
from sweep_files import QUICK

from spikesub.cli import main
from spikesub.runs import read_json

ray = pytest.importorskip("ray")


def test_the_quick_sweep_runs_on_a_local_ray_of_two_cpus(tmp_path, capsys):
    out = tmp_path / "quick"
    assert not ray.is_initialized()
    assert main(["sweep", str(QUICK), "--out", str(out), "--cpus", "2"]) == 0
    assert not ray.is_initialized()  # the command stopped the Ray it started

    printed = capsys.readouterr().out
    assert "| method | seeds | ACC (%) | BWT (%) | cost vs plain training |" in printed
    summary = read_json(out / "summary.json")
    assert summary["counts"] == {"done": 4, "failed": 0, "pending": 0}
    assert [g["settings"] for g in summary["groups"]] == [
        {"method": "hlop"},
        {"method": "finetune"},
    ]
    for group in summary["groups"]:
        assert group["seeds"] == [0, 1]
        acc = group["metrics"]["ACC"]
        assert acc["n"] == 2 and 0.2 < acc["mean"] <= 1.0
        assert acc["std"] == pytest.approx(abs(acc["values"][0] - acc["values"][1]) / 2**0.5)
    for name in summary["trials"]:
        record = read_json(out / "trials" / name / "trial.json")
        assert record["status"] == "done" and record["threads"] == 1
        assert read_json(out / "trials" / name / "metrics.json")["finished"] is True
    assert (out / "summary.md").read_text().count("\n| ") == 3  # header and two groups
    assert (out / "summary.png").exists()

    # run again: everything is finished, so nothing runs and no Ray starts
    assert main(["sweep", str(QUICK), "--out", str(out), "--quiet"]) == 0
    assert not ray.is_initialized()
    assert main(["plot", str(out)]) == 0
    assert str(out / "summary.png") in capsys.readouterr().out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["ray://", ""])
def test_an_unreachable_cluster_is_one_line_and_exit_2(tmp_path, capsys, scheme):
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    out = tmp_path / "out"
    start = time.perf_counter()
    assert main(["sweep", str(QUICK), "--out", str(out), "--address", address]) == 2
    assert time.perf_counter() - start < 10
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"spikesub sweep: error: cannot reach the Ray cluster at {address}")
    assert "\n" not in err
    assert not any((out / "trials").iterdir())  # no trial started


def test_ray_address_from_the_environment(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{_closed_port()}")
    assert main(["sweep", str(QUICK), "--out", str(tmp_path / "out")]) == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:" in capsys.readouterr().err


def test_cpus_with_a_cluster_address_is_refused(tmp_path, capsys):
    args = ["sweep", str(QUICK), "--out", str(tmp_path / "o"), "--cpus", "2"]
    assert main([*args, "--address", f"127.0.0.1:{_closed_port()}"]) == 2
    assert "--cpus sets the CPUs of a local Ray" in capsys.readouterr().err

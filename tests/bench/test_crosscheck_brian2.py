"""The Brian2 cross-check (job ``crosscheck_brian2``): its configuration, and a few
milliseconds of one seed through the registry and the script."""

from __future__ import annotations

import json

import pytest

from spikesub.bench.crosscheck_brian2.config import CrosscheckBrian2Config
from spikesub.jobs import figures_of, run_job


def test_config_defaults_and_refusals():
    config = CrosscheckBrian2Config()
    assert config.seeds == (1, 2, 3) and config.duration_ms == 1000.0
    for bad, name in (
        ({"seeds": (-1,)}, "seeds"),
        ({"seeds": (1, 1)}, "seeds"),
        ({"duration_ms": 10.5}, "duration_ms"),
        ({"duration_ms": 0.0}, "duration_ms"),
    ):
        with pytest.raises(ValueError, match=name):
            CrosscheckBrian2Config(**bad)


@pytest.mark.slow
def test_registry_and_script(tmp_path, experiment_script, capsys):
    pytest.importorskip("brian2")
    out = run_job("crosscheck_brian2", {"seeds": (4,), "duration_ms": 20.0}, out=tmp_path / "r")
    rows = json.loads((out / "metrics.json").read_text())["rows"]
    assert [(r["seed"], r["dtype"]) for r in rows] == [(4, "float64"), (4, "float32")]
    assert rows[0]["spikes_brian2"] > 0
    assert "seed 4 float64: spikes" in capsys.readouterr().out
    assert figures_of("crosscheck_brian2")(out)[0].name == "counts.png"
    script = experiment_script("crosscheck_brian2")
    argv = ["--seeds", "4", "--duration-ms", "20", "--quiet", "--out", str(tmp_path / "s")]
    assert script.main(argv) == 0
    assert (tmp_path / "s" / "counts.png").is_file() and capsys.readouterr().out == ""

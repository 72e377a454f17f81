"""The catalogue of bad inputs of ``experiments/bad_inputs.py``: every case is handled."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "experiments" / "bad_inputs.py"


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("bad_inputs", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script, script.run_catalogue(tmp_path_factory.mktemp("bad-inputs"))


def test_every_bad_input_is_handled(outcomes):
    _, rows = outcomes
    mishandled = [f"{r['area']}: {r['case']} -> {r['message']}" for r in rows if not r["handled"]]
    assert mishandled == []


def test_the_catalogue_covers_every_command_and_api_area(outcomes):
    script, rows = outcomes
    areas = {row["area"] for row in rows}
    commands = {f"spikesub {c}" for c in ("simulate", "whatwhen", "continual", "plot", "data")}
    assert commands <= areas
    assert {"reservoir", "readouts", "continual", "layers", "data and run folders"} <= areas
    cli_cases = [argv for cases in script.CLI_CASES.values() for argv in cases]
    # under the CUDA simulator --backend cuda is no bad input: those cases are left out
    expected = sum(not script._needs_no_gpu(argv) for argv in cli_cases) + len(script.API_CASES)
    assert len(rows) == expected
    assert "| **all** |" in script.table(rows)

"""One rank of the data-parallel tests (``tests/continual/test_continual_distributed.py``).

Started by ``python -m torch.distributed.run --nproc_per_node N distributed_worker.py PLAN``, it
carries out, one after the other, the steps listed in the JSON file ``PLAN``:

* ``{"name", "config", "out", "resume", "stop_after"}``: a continual run; this rank's final
  weights and strategy state go to ``<PLAN's folder>/ranks/<name>-rank<r>.pt``, so that the
  test can check that every rank ends with the same network;
* the same with ``"expect_error": true``: the run must fail; the error's type and message go
  to ``<name>-rank<r>.json``;
* ``{"name", "cli": [arguments]}``: ``spikesub continual`` with these arguments (it leaves
  the process group, so it comes last); its exit status goes to ``<name>-rank<r>.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from spikesub.continual import cli, distributed, strategies
from spikesub.continual import run as runner
from spikesub.continual.config import ContinualConfig


def _capture(made: dict) -> None:
    """Keep the model and the strategy each run builds in ``made``."""
    build_model, make_strategy = runner.build_model, strategies.make_strategy

    def build(*args, **kwargs):
        made["model"] = build_model(*args, **kwargs)
        return made["model"]

    def strategy(*args, **kwargs):
        made["strategy"] = make_strategy(*args, **kwargs)
        return made["strategy"]

    runner.build_model = build
    strategies.make_strategy = strategy


def _run(item: dict, made: dict, saved: Path) -> None:
    config = ContinualConfig.from_dict(item["config"])
    try:
        runner.run(
            config,
            item["out"],
            resume=item.get("resume", False),
            progress=False,
            stop_after=item.get("stop_after"),
        )
    except Exception as error:
        if not item.get("expect_error"):
            raise
        report = {"type": type(error).__name__, "message": str(error)}
        saved.with_suffix(".json").write_text(json.dumps(report))
        return
    state = {"model": made["model"].state_dict(), "strategy": made["strategy"].state_dict()}
    torch.save(state, saved.with_suffix(".pt"))


def main(plan_path: str) -> None:
    torch.set_num_threads(1)
    plan_file = Path(plan_path)
    rank = int(os.environ["RANK"])
    folder = plan_file.parent / "ranks"
    folder.mkdir(exist_ok=True)
    made: dict = {}
    _capture(made)
    for item in json.loads(plan_file.read_text()):
        saved = folder / f"{item['name']}-rank{rank}"
        if "cli" in item:
            status = cli.main(item["cli"])
            saved.with_suffix(".json").write_text(json.dumps({"status": status}))
        else:
            _run(item, made, saved)
    distributed.shutdown()


if __name__ == "__main__":
    main(sys.argv[1])

"""``experiments/reservoir_continual.py``: the table and the figures copied for the docs."""

from __future__ import annotations


def test_quick_script_writes_the_table_and_the_docs_figures(experiment_script, tmp_path):
    script = experiment_script("reservoir_continual")
    out, docs = tmp_path / "exp", tmp_path / "docs"
    assert script.main(["--quick", "--out", str(out), "--docs", str(docs), "--quiet"]) == 0
    table = (out / "table.md").read_text()
    assert "| three-factor + HLOP lateral circuit |" in table
    assert "HLOP BWT / unprotected BWT" in table
    assert sorted(p.name for p in docs.iterdir()) == [
        "reservoir-continual-accuracy-matrices.png",
        "reservoir-continual-subspace-angles.png",
        "reservoir-continual-subspace-dims.png",
    ]

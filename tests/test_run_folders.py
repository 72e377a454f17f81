"""Run folders that protect themselves: fingerprints, refusals, orphaned temporary files."""

from __future__ import annotations

import numpy as np
import pytest

from spikesub.models.errors import RunFolderError
from spikesub.runs import (
    atomic_write_bytes,
    check_checkpoint_fingerprint,
    config_differences,
    config_fingerprint,
    prepare_run_dir,
    read_json,
    remove_orphaned_temp_files,
    run_config_document,
    saved_settings,
    write_json,
)

SETTINGS = {"n_exc": 800, "seed": 0, "dt_ms": 0.1}


def _make_run(folder, job="simulate", settings=SETTINGS):
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "config.json", run_config_document(job, settings))
    return folder


def test_fingerprint_is_stable_and_sensitive():
    assert config_fingerprint("simulate", SETTINGS) == config_fingerprint(
        "simulate", dict(reversed(list(SETTINGS.items())))
    )
    assert config_fingerprint("simulate", {**SETTINGS, "seed": np.int64(0)}) == config_fingerprint(
        "simulate", SETTINGS
    )
    assert config_fingerprint("simulate", {**SETTINGS, "seed": 1}) != config_fingerprint(
        "simulate", SETTINGS
    )
    assert config_fingerprint("whatwhen", SETTINGS) != config_fingerprint("simulate", SETTINGS)
    assert len(config_fingerprint("simulate", SETTINGS)) == 16


def test_differences_name_each_setting():
    given = {**SETTINGS, "seed": 3, "extra": True}
    assert config_differences(given, SETTINGS) == ["extra: True != '(unset)'", "seed: 3 != 0"]


@pytest.mark.parametrize("out", ["", "   "])
def test_an_empty_out_is_refused(out):
    with pytest.raises(RunFolderError, match="--out is empty"):
        prepare_run_dir(out, job="simulate", config=SETTINGS)


def test_another_jobs_folder_is_refused_and_left_alone(tmp_path):
    folder = _make_run(tmp_path / "run", job="continual")
    before = (folder / "config.json").read_bytes()
    with pytest.raises(RunFolderError, match="holds a continual run, not a simulate run"):
        prepare_run_dir(folder, job="simulate", config=SETTINGS)
    assert (folder / "config.json").read_bytes() == before


def test_other_settings_are_refused_naming_them(tmp_path):
    folder = _make_run(tmp_path / "run")
    with pytest.raises(RunFolderError, match=r"other settings \(given != saved: seed: 5 != 0\)"):
        prepare_run_dir(folder, job="simulate", config={**SETTINGS, "seed": 5})
    with pytest.raises(RunFolderError, match=r"resume: the settings differ .*seed: 5 != 0"):
        prepare_run_dir(folder, job="simulate", config={**SETTINGS, "seed": 5}, resume=True)


def test_the_same_run_may_be_written_again_or_resumed(tmp_path):
    folder = _make_run(tmp_path / "run")
    assert prepare_run_dir(folder, job="simulate", config=SETTINGS) == folder
    assert prepare_run_dir(folder, job="simulate", config=SETTINGS, resume=True) == folder
    with pytest.raises(RunFolderError, match="already holds this simulate run; pass --resume"):
        prepare_run_dir(folder, job="simulate", config=SETTINGS, allow_rerun=False)


def test_resume_needs_a_run_to_resume(tmp_path):
    with pytest.raises(RunFolderError, match="nothing to resume"):
        prepare_run_dir(tmp_path / "new", job="simulate", config=SETTINGS, resume=True)
    with pytest.raises(RunFolderError, match="--resume needs --out"):
        prepare_run_dir(None, job="simulate", config=SETTINGS, resume=True)


def test_a_folder_of_other_files_is_not_taken(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match=r"holds files \(notes.txt\) but no config.json"):
        prepare_run_dir(tmp_path, job="simulate", config=SETTINGS)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_unreadable_config_is_refused(tmp_path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="not a readable run configuration"):
        prepare_run_dir(tmp_path, job="simulate", config=SETTINGS)


def test_a_flat_continual_config_is_read_as_settings(tmp_path):
    flat = {"experiment": "continual", "job": "continual", "fingerprint": "x", "seed": 1}
    assert saved_settings(flat) == {"seed": 1}
    # older folders have no fingerprint: equal settings are enough
    write_json(tmp_path / "config.json", {"experiment": "continual", "seed": 1})
    prepare_run_dir(tmp_path, job="continual", config={"seed": 1}, resume=True)


def test_orphaned_temporary_files_are_removed(tmp_path):
    folder = _make_run(tmp_path / "run")
    orphan = folder / ".metrics.json.k2j3h4.tmp"
    orphan.write_text("half")
    keep = folder / ".hidden-but-mine"
    keep.write_text("x")
    prepare_run_dir(folder, job="simulate", config=SETTINGS)
    assert not orphan.exists() and keep.exists()
    atomic_write_bytes(folder / "a.bin", b"123")  # leaves none of its own
    assert remove_orphaned_temp_files(folder) == []


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    check_checkpoint_fingerprint(tmp_path / "c.npz", "abc", "abc")
    with pytest.raises(RunFolderError, match="belongs to another run"):
        check_checkpoint_fingerprint(tmp_path / "c.npz", "abc", "def")
    with pytest.raises(RunFolderError, match=r"fingerprint none"):
        check_checkpoint_fingerprint(tmp_path / "c.npz", None, "def")


def test_config_document_carries_job_and_fingerprint():
    doc = run_config_document("simulate", SETTINGS, network={"n": 1})
    assert doc["job"] == "simulate" and doc["config"] == SETTINGS and doc["network"] == {"n": 1}
    assert doc["fingerprint"] == config_fingerprint("simulate", SETTINGS)


def test_written_document_round_trips(tmp_path):
    folder = _make_run(tmp_path / "run")
    saved = read_json(folder / "config.json")
    assert saved_settings(saved) == SETTINGS

"""``spikesub data verify|download`` and :func:`verify_data_dir`: one status per file, the exit
status, downloads from local mirrors (never the network)."""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib

import pytest
from test_datasets import write_mnist_folder

from spikesub import data_cli, datasets
from spikesub.datasets import MNIST_FILES, MNIST_SHA256, verify_data_dir
from spikesub.models.memory import memory_budget

STEMS = list(MNIST_FILES.values())


def sha256_of_folder(folder) -> dict[str, str]:
    """The SHA-256 of each gzipped file in ``folder``, as a checksum table."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in folder.glob("*.gz")
    }


def statuses(checks) -> dict[str, str]:
    return {check.name: check.status for check in checks}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="spikesub")
    data_cli.register(root.add_subparsers(dest="command"))
    return root


def run(argv) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


@pytest.fixture
def trusted(monkeypatch):
    """``trusted(folder)``: the command treats the files now in ``folder`` as the published ones
    (their digests replace the real MNIST table)."""

    def trust(folder):
        table = sha256_of_folder(folder)
        verify = functools.partial(datasets.verify_data_dir, checksums=table)
        download = functools.partial(datasets.download_mnist, checksums=table)
        monkeypatch.setattr(datasets, "verify_data_dir", verify)
        monkeypatch.setattr(datasets, "download_mnist", download)
        return table

    return trust


# ---------------------------------------------------------------------------------------------
# verify_data_dir


def test_published_files_are_ok(tmp_path):
    write_mnist_folder(tmp_path, n_train=12, n_test=5)
    checks = verify_data_dir(tmp_path, checksums=sha256_of_folder(tmp_path))
    assert [c.name for c in checks] == STEMS
    assert statuses(checks) == dict.fromkeys(STEMS, "ok")
    assert [c.path for c in checks] == [tmp_path / f"{stem}.gz" for stem in STEMS]
    assert "12 images" in checks[0].detail and "SHA-256 matches" in checks[0].detail


def test_md5_tables_are_still_understood(tmp_path):
    write_mnist_folder(tmp_path)
    table = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in tmp_path.glob("*.gz")}
    checks = verify_data_dir(tmp_path, checksums=table)
    assert statuses(checks) == dict.fromkeys(STEMS, "ok")
    assert "MD5 matches" in checks[1].detail


def test_missing_corrupt_and_unknown_files(tmp_path):
    write_mnist_folder(tmp_path, n_train=12, n_test=5)
    table = sha256_of_folder(tmp_path)
    (tmp_path / f"{STEMS[0]}.gz").unlink()
    labels = tmp_path / f"{STEMS[1]}.gz"
    labels.write_bytes(labels.read_bytes()[:-9])  # a cut gzip stream
    raw = tmp_path / f"{STEMS[3]}.gz"
    (tmp_path / STEMS[3]).write_bytes(gzip.decompress(raw.read_bytes()))
    raw.unlink()  # an uncompressed copy: parses, but no digest to compare
    checks = verify_data_dir(tmp_path, checksums=table)
    assert statuses(checks) == {
        STEMS[0]: "missing",
        STEMS[1]: "corrupt",
        STEMS[2]: "ok",
        STEMS[3]: "unknown",
    }
    assert checks[0].path is None
    assert "gzip" in checks[1].detail
    assert "5 labels" in checks[3].detail and "no published digest" in checks[3].detail


def test_other_digits_in_the_same_format_are_unknown(tmp_path):
    write_mnist_folder(tmp_path, seed=0)
    table = sha256_of_folder(tmp_path)
    write_mnist_folder(tmp_path, seed=1)  # other content, same names
    checks = verify_data_dir(tmp_path, checksums=table)
    assert statuses(checks) == dict.fromkeys(STEMS, "unknown")
    assert "not the published file" in checks[0].detail


def test_the_published_size_with_another_digest_is_corrupt(tmp_path, monkeypatch):
    write_mnist_folder(tmp_path)
    table = sha256_of_folder(tmp_path)
    name = f"{STEMS[2]}.gz"
    monkeypatch.setitem(datasets.MNIST_GZ_BYTES, name, (tmp_path / name).stat().st_size)
    table[name] = "0" * 64
    checks = verify_data_dir(tmp_path, checksums=table)
    assert statuses(checks)[STEMS[2]] == "corrupt"
    assert "at its size" in checks[2].detail


def test_files_that_do_not_parse_as_mnist_are_corrupt(tmp_path):
    write_mnist_folder(tmp_path)
    images = tmp_path / f"{STEMS[2]}.gz"
    images.write_bytes(gzip.compress(bytes((0, 0, 8, 1)) + (3).to_bytes(4, "big") + b"abc"))
    labels = tmp_path / f"{STEMS[3]}.gz"
    labels.write_bytes(gzip.compress(bytes((0, 0, 8, 1)) + (2).to_bytes(4, "big") + b"\x01\x0c"))
    checks = verify_data_dir(tmp_path)
    assert statuses(checks)[STEMS[2]] == "corrupt" and "(n, 28, 28)" in checks[2].detail
    assert statuses(checks)[STEMS[3]] == "corrupt" and "0..9" in checks[3].detail


def test_a_file_over_the_budget_is_not_read(tmp_path):
    write_mnist_folder(tmp_path, n_train=40)
    with memory_budget(10_000):
        checks = verify_data_dir(tmp_path)
    assert statuses(checks)[STEMS[0]] == "unknown"
    assert "not read" in checks[0].detail and "memory budget" in checks[0].detail


def test_the_default_table_is_the_published_sha256(tmp_path):
    write_mnist_folder(tmp_path)
    checks = verify_data_dir(tmp_path)  # random digits: parse, but are not MNIST
    assert statuses(checks) == dict.fromkeys(STEMS, "unknown")
    assert all(len(digest) == 64 for digest in MNIST_SHA256.values())
    assert set(MNIST_SHA256) == {f"{stem}.gz" for stem in STEMS}


# ---------------------------------------------------------------------------------------------
# the command


def test_verify_prints_one_line_per_file_and_exits_0(tmp_path, trusted, capsys):
    write_mnist_folder(tmp_path)
    trusted(tmp_path)
    assert run(["data", "verify", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    for line, stem in zip(lines, STEMS, strict=True):
        assert line.startswith("ok ") and f"{stem}.gz" in line


def test_verify_exits_1_when_files_are_missing_or_corrupt(tmp_path, trusted, capsys):
    write_mnist_folder(tmp_path)
    trusted(tmp_path)
    (tmp_path / f"{STEMS[1]}.gz").unlink()
    assert run(["data", "verify", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert [line.split()[0] for line in captured.out.splitlines()] == [
        "ok",
        "missing",
        "ok",
        "ok",
    ]
    assert "1 of 4 files missing or corrupt" in captured.err
    assert "spikesub data download" in captured.err


def test_unknown_files_fail_only_with_strict(tmp_path, capsys):
    write_mnist_folder(tmp_path)  # random digits: unknown to the published table
    assert run(["data", "verify", str(tmp_path)]) == 0
    assert run(["data", "verify", "--strict", str(tmp_path)]) == 1
    assert "missing, corrupt or unknown" in capsys.readouterr().err


def test_verify_of_a_missing_folder_is_a_usage_error(tmp_path, capsys):
    assert run(["data", "verify", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err
        == f"spikesub data verify: error: {tmp_path / 'nowhere'} does not exist: no data to verify"
    )


def test_verify_of_an_empty_folder_reports_every_file_missing(tmp_path, capsys):
    assert run(["data", "verify", str(tmp_path)]) == 1
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["missing"] * 4


def test_verify_of_a_file_is_a_usage_error(tmp_path, capsys):
    path = tmp_path / "file"
    path.write_text("x")
    assert run(["data", "verify", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"spikesub data verify: error: {path} is not a folder"


def test_download_then_verify(tmp_path, trusted, capsys):
    write_mnist_folder(tmp_path / "mirror", seed=3)
    trusted(tmp_path / "mirror")
    target = tmp_path / "data"
    argv = ["data", "download", str(target), "--mirror", (tmp_path / "mirror").as_uri(), "--quiet"]
    assert run(argv) == 0
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{s}.gz" for s in STEMS)
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == ["ok"] * 4


def test_a_failed_download_is_one_line_and_exit_2(tmp_path, capsys):
    write_mnist_folder(tmp_path / "mirror")  # not the published files: digests differ
    target = tmp_path / "data"
    argv = ["data", "download", str(target), "--mirror", (tmp_path / "mirror").as_uri(), "--quiet"]
    assert run(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("spikesub data download: error: could not download")
    assert "SHA-256" in lines[0]
    assert list(target.iterdir()) == []


def test_data_needs_an_action(capsys):
    with pytest.raises(SystemExit) as info:
        parser().parse_args(["data"])
    assert info.value.code == 2
    assert "ACTION" in capsys.readouterr().err

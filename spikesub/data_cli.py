"""``spikesub data``: check, and fetch, the MNIST files of a data folder.

``spikesub data verify DIR`` reads each of the four standard files present in ``DIR`` (header,
declared size, content) and compares its SHA-256 with the published one; one line per file.
``spikesub data download DIR`` fetches the missing files (checked the same way before they are
renamed into place), then verifies the folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DESCRIPTION = """\
Check or fetch the four MNIST files of a data folder:

  spikesub data verify DIR      one line per file: ok, missing, corrupt or unknown
  spikesub data download DIR    fetch the missing files, then verify the folder"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2

_STATUS_HELP = """\
Each file is reported as one of:
  ok        parses as MNIST and has the published SHA-256
  missing   neither NAME.gz nor NAME is in the folder
  corrupt   does not parse as MNIST (bad or truncated gzip, bad header, more or fewer bytes
            than the header declares, wrong shape, labels outside 0..9), or has the published
            size but another digest
  unknown   parses as MNIST but no published digest vouches for it (an uncompressed copy, or
            other digits in the same format), or was not read (over the memory budget)

Exit status: 0 when no file is missing or corrupt (unknown files allowed, unless --strict),
1 when some are, 2 on a usage error (DIR is a file, a download failed)."""


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``data`` sub-command (``verify``, ``download``) to a ``spikesub`` sub-parser
    set; returns its parser, whose ``handler`` default is :func:`run_cli`."""
    parser = subparsers.add_parser(
        "data",
        help="check (verify) or fetch (download) the MNIST files of a data folder",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    verify = actions.add_parser(
        "verify",
        help="check the MNIST files present in DIR, one line per file",
        description="Check the four MNIST files in DIR: header, declared size, content and "
        "SHA-256.\n\n" + _STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verify.add_argument("data_dir", metavar="DIR", help="folder of the MNIST files")
    verify.add_argument(
        "--strict", action="store_true", help="exit 1 on unknown files too (not the published)"
    )
    download = actions.add_parser(
        "download",
        help="fetch the missing MNIST files into DIR, then verify it",
        description="Download the missing MNIST files into DIR (each checked against its "
        "SHA-256 and parsed before it is renamed into place), then verify the folder.\n\n"
        + _STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    download.add_argument("data_dir", metavar="DIR", help="folder for the MNIST files")
    download.add_argument(
        "--mirror",
        action="append",
        default=None,
        metavar="URL",
        help="base URL to download from (repeat for several; default: the known mirrors)",
    )
    download.add_argument(
        "--strict", action="store_true", help="exit 1 on unknown files too (not the published)"
    )
    download.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.set_defaults(handler=run_cli)
    return parser


def _print_checks(checks: list, strict: bool) -> int:
    """One line per file on stdout; the exit status the checks call for."""
    for check in checks:
        shown = check.path.name if check.path is not None else check.name
        print(f"{check.status:<8} {shown}: {check.detail}")
    failing = {"missing", "corrupt"} | ({"unknown"} if strict else set())
    bad = [c for c in checks if c.status in failing]
    if bad:
        print(
            f"spikesub data: {len(bad)} of {len(checks)} files "
            + ("missing, corrupt or unknown" if strict else "missing or corrupt")
            + "; get the published files with 'spikesub data download DIR'",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def run_cli(args: argparse.Namespace) -> int:
    """Run ``spikesub data verify|download`` for parsed options; returns the exit status
    (0 all ok, 1 some file missing or corrupt, 2 with one line on stderr for a usage error)."""
    from spikesub.datasets import DEFAULT_MIRRORS, DownloadError, download_mnist, verify_data_dir
    from spikesub.models.errors import SpikesubError

    folder = Path(args.data_dir)
    action = args.data_command
    try:
        if folder.exists() and not folder.is_dir():
            raise ValueError(f"{folder} is not a folder")
        if action == "verify" and not folder.exists():
            raise FileNotFoundError(f"{folder} does not exist: no data to verify")
        if action == "download":
            download_mnist(
                folder,
                mirrors=args.mirror or DEFAULT_MIRRORS,
                progress=False if args.quiet else None,
            )
        checks = verify_data_dir(folder)
    except (DownloadError, ValueError, SpikesubError, OSError) as error:
        print(f"spikesub data {action}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    return _print_checks(checks, args.strict)

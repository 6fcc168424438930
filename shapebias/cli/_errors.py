"""The command line's error discipline, shared by every sub-command.

A usage error (an argument that cannot work: a missing file, ``--size 0``, ``--eps 8``)
prints one line on stderr and exits with status 2; a failure while the command runs
prints one line and exits with status 1; ``--debug`` adds the traceback. A command gets
this by raising :class:`UsageError` from its checks, which it runs before it loads a
model or touches data, and by letting any other exception propagate to :func:`guarded`.
The ``check_*`` helpers below are the usual argument checks, worded alike for every
command.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

__all__ = [
    "USAGE",
    "ArgumentParser",
    "UsageError",
    "check_count",
    "check_existing",
    "check_finite",
    "check_output_folder",
    "guarded",
]

USAGE, FAILURE, INTERRUPTED = 2, 1, 130


class UsageError(Exception):
    """An argument that cannot work, found before the command does any work (exit status 2).

    The message names the option and says what would work; ``prog`` (set by
    :class:`ArgumentParser`) is the parser that found it, e.g. ``"shapebias evaluate"``.
    """

    def __init__(self, message: str, prog: str | None = None) -> None:
        super().__init__(message)
        self.prog = prog


class ArgumentParser(argparse.ArgumentParser):
    """An :class:`argparse.ArgumentParser` whose errors become :class:`UsageError`.

    argparse prints the whole usage block and exits; here the one-line message reaches
    :func:`guarded`, which prints it the same way as every other error. Sub-command
    parsers made by ``add_subparsers`` are of this class too.
    """

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)", prog=self.prog)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    if isinstance(error, UsageError):
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def guarded(run: Callable[[], int], prog: Callable[[], str], debug: bool) -> int:
    """Run a command; turn its errors into one line on stderr and an exit status.

    Args:
        run: the command (parsing included), returning its exit status.
        prog: the program name to print, e.g. ``"shapebias evaluate"`` once the
            sub-command is known.
        debug: print the traceback before the line.

    Returns:
        ``run()``'s status; 2 after a :class:`UsageError`, 1 after any other
        exception, 130 after Ctrl-C.
    """
    caught: BaseException
    found_by: str | None = None
    try:
        return run()
    except KeyboardInterrupt as error:
        caught, status, line = error, INTERRUPTED, "interrupted"
    except UsageError as error:
        caught, status, line = error, USAGE, f"error: {_one_line(error)}"
        found_by = error.prog  # the parser that found it, when argparse did
    except Exception as error:  # every runtime failure: one line, not a traceback
        hint = "" if debug else " (run with --debug for the traceback)"
        caught, status, line = error, FAILURE, f"error: {_one_line(error)}{hint}"
    if debug:
        traceback.print_exception(caught)
    print(f"{found_by or prog()}: {line}", file=sys.stderr)
    return status


def check_count(value: Any, option: str, low: int) -> None:
    """An integer option (``--size``, ``--batch-size``) must be at least ``low``."""
    if value is not None and value < low:
        raise UsageError(f"{option} must be >= {low}, got {value}.")


def check_existing(value: Any, option: str, kind: str, advice: str = "") -> Path | None:
    """A path option must name an existing file (``kind="file"``) or folder (``"folder"``)."""
    if value is None:
        return None
    path = Path(value).expanduser()
    exists = path.is_file() if kind == "file" else path.is_dir()
    if not exists:
        what = "does not exist" if not path.exists() else f"is not a {kind}"
        raise UsageError(f"{option} {os.fspath(path)} {what}; give an existing {kind}.{advice}")
    return path


def check_output_folder(value: Any, option: str = "--out") -> Path:
    """An output folder must be a folder, or creatable, and writable: checked before any work.

    Nothing is created here, so a command refused later leaves no empty folder behind.
    """
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"{option} {os.fspath(path)} is a file, not a folder; give a folder (it is "
            "created if missing)."
        )
    existing = path
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{option} {os.fspath(path)} cannot be created: {existing} is a file.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(
            f"{option} {os.fspath(path)} is not writable (no permission on {existing})."
        )
    return path


def check_finite(values: Sequence[float] | None, option: str) -> None:
    """Numbers given to an option must be finite."""
    if values is not None and not all(math.isfinite(v) for v in values):
        raise UsageError(f"{option} must hold finite numbers, got {','.join(map(str, values))}.")

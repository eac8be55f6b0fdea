"""The ``nnfast`` command line (also ``python -m nnfast``): one module per command.

``main`` parses the arguments and runs the command; problems with the user's input
come out as one line on standard error and exit status 1. The readers of data and
settings files live in :mod:`.readers` and :mod:`.settings`, shared by the commands.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from typing import List, Optional, TextIO

from .. import __version__
from . import export, lr_range, predict, report, rescore, train, tune
from .common import CommandError
from .readers import DATASETS, Table, read_data, read_table
from .settings import (BASE_HYPERPARAMETERS, DEFAULT_SPACE, SPACE_KINDS, TUNE_BASE, read_hyperparameters,
                       read_space, space_from_data)

__all__ = ["main", "build_parser", "CommandError", "read_data", "read_table", "Table", "DATASETS",
           "read_hyperparameters", "read_space", "space_from_data", "DEFAULT_SPACE", "SPACE_KINDS",
           "BASE_HYPERPARAMETERS", "TUNE_BASE"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnfast", description="A fast neural-network engine for CPUs.")
    parser.add_argument("--version", action="version", version=f"nnfast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in (train, predict, tune, report, rescore, lr_range, export):
        command.add_parser(sub)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    def one_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
        # a warning to the user, not to a programmer: no source path, no line of code
        print(f"nnfast {args.command}: warning: {message}", file=sys.stderr if file is None else file)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line
            args.run(args)
    except BrokenPipeError:  # the reader of our output went away (`nnfast report x.db | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CommandError, ValueError, TypeError, OSError) as exc:
        print(f"nnfast {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nnfast {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

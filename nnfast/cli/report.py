"""``nnfast report``: the summary of a stored study and its HTML report."""

from __future__ import annotations

import argparse
import os
import re
from typing import TYPE_CHECKING, List, Optional

from .common import CommandError, check_output, first_line, require_tune

if TYPE_CHECKING:
    from ..tune.study import Study


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="summarise a stored study and write its HTML report",
                       description="Print the summary of a study kept with nnfast tune --storage and write its "
                                   "self-contained HTML report (plots embedded, no external files).")
    p.add_argument("storage", metavar="STUDY.db", help="the study's SQLite file (or a database URL)")
    p.add_argument("--study-name", metavar="NAME", help="which study, when the file holds several")
    p.add_argument("--out", metavar="REPORT.html", help="(default: STUDY-report.html next to the study file)")
    p.add_argument("--top", type=int, default=10, metavar="K", help="trials in the printed summary (default: 10)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    require_tune()
    from ..tune.report import summary_table, write_report

    if args.top < 0:
        raise CommandError(f"--top must be at least 0, got {args.top}")
    study = load_stored_study(args.storage, args.study_name)
    path = args.out or default_report_path(args.storage, study.name)
    check_output(path, "--out" if args.out else "the report")
    print(summary_table(study, top=args.top))
    write_report(study, path)
    print(f"report: {path}")


def default_report_path(storage: Optional[str], study_name: Optional[str] = None) -> str:
    """Next to the storage file (``study.db`` -> ``study-report.html``; a study not named
    nnfast adds its name, ``study-other-report.html``), else nnfast-report.html."""
    suffix = "" if study_name in (None, "nnfast") else "-" + re.sub(r"[^\w.-]+", "_", study_name)
    if storage and "://" not in storage:
        return os.path.splitext(storage)[0] + suffix + "-report.html"
    return f"nnfast{suffix}-report.html"


def study_names(storage: str) -> List[str]:
    """The studies a storage file or URL holds; a one-line error when it is not a study storage."""
    import optuna

    from ..tune.storage import open_storage, storage_url
    if "://" not in storage and os.path.isdir(storage):
        raise CommandError(f"study storage {storage} is a directory; give a file name, e.g. "
                           f"{os.path.join(storage, 'study.db')}")
    try:
        url = storage_url(storage)
        assert url is not None  # storage_url gives None for None only
        return optuna.get_all_study_names(open_storage(url))
    except Exception as exc:  # SQLAlchemy and driver errors: a file that is not a study database, ...
        raise CommandError(f"cannot open study storage {storage}: {first_line(exc)}") from None


def load_stored_study(storage: str, name: Optional[str]) -> Study:
    """The study ``name`` (or the only one) of a storage file or URL; CommandError (one line) when
    the file is not a study storage, holds no study, several without ``name``, or not that one."""
    require_tune()
    from .. import tune
    from ..tune.study import check_study_file

    try:
        check_study_file(storage)
    except FileNotFoundError as exc:
        raise CommandError(exc.strerror) from None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    names = study_names(storage)
    if not names:
        raise CommandError(f"{storage} holds no study")
    if name is None:
        try:  # the one study, not counting the re-runs Study.rerun adds beside it
            return tune.load_study(storage)
        except ValueError:
            raise CommandError(f"{storage} holds studies {', '.join(names)}: choose one with --study-name") from None
    if name not in names:
        raise CommandError(f"{storage} has no study {name!r}; it has {', '.join(names)}")
    return tune.load_study(storage, name)

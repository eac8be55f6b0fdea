"""``nnfast rescore``: score the best configurations of a stored study again on fresh folds."""

from __future__ import annotations

import argparse
import math

from ..data import train_test_split
from .common import CommandError, require_tune
from .readers import add_data_arguments, read_data
from .report import load_stored_study


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("rescore", help="score the best configurations of a stored study again on fresh folds",
                       description="When the validation data cannot tell a study's best configurations apart "
                                   "(the summary says so), score the top K again by cross-validation on fresh "
                                   "folds of the data the study searched on, and record the result in the study "
                                   "(study.rescore in Python). A study started by nnfast tune rereads its own data "
                                   "and holds out the same test part, which is never rescored on; a study made in "
                                   "Python needs --data (its training + validation rows).")
    p.add_argument("storage", metavar="STUDY.db", help="the study's SQLite file (or a database URL)")
    p.add_argument("--study-name", metavar="NAME", help="which study, when the file holds several")
    p.add_argument("--top", type=int, metavar="K",
                   help="how many of the best trials (default: the contenders within one standard error of the "
                        "best, at least 2)")
    p.add_argument("--cv", type=int, default=5, metavar="K", help="folds, at least 2 (default: 5)")
    p.add_argument("--seed", type=int, help="seeds the folds (default: the study's seed + 1 + earlier rescores, "
                                            "so the folds are fresh)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="folds at once (default: 1)")
    add_data_arguments(p, default=None)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    require_tune()
    from .. import tune
    from ..tune.search import check_same_data, describe_data
    from ..tune.storage import DriverLease, data_fingerprint
    from .tune import data_location

    if args.top is not None and args.top < 1:
        raise CommandError(f"--top must be at least 1, got {args.top}")
    if args.cv < 2:
        raise CommandError(f"--cv must be at least 2 folds, got {args.cv}")
    if args.jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {args.jobs}")
    study = load_stored_study(args.storage, args.study_name)
    recorded = (study.attrs.get("metadata") or {}).get("cli")
    if args.data is not None:
        data = data_location(args.data)
    elif recorded is not None:
        data = recorded["data"]
    else:
        raise CommandError(f"study {study.name!r} was not started by nnfast tune, so it did not record its data: "
                           f"give --data (the training + validation rows it searched on)")
    target = args.target if args.target is not None else (recorded or {}).get("target", "last")
    header = args.header if args.header is not None else (recorded or {}).get("header", "auto")
    table = read_data(data, target, header=header)
    X, y = table.X, table.y
    held_out = ""
    if recorded is not None and not recorded.get("no_test", False):
        # the study's test part stays out, as nnfast tune cut it: only from the very data it cut it from
        if data_fingerprint(X, y) != recorded.get("fingerprint"):
            raise CommandError(f"study {study.name!r} was made by nnfast tune on {recorded['data']} with a test part "
                               f"held out, and {data} holds other data, which may hold those test rows: leave "
                               f"--data out (the study rereads its data), or give that same data")
        X, _, y, _ = train_test_split(X, y, test_size=recorded.get("test_size", 0.2), seed=recorded.get("seed", 0))
        held_out = ", its test part held out as nnfast tune cut it"
    try:
        check_same_data(study.attrs.get("described"), describe_data(study.base, X, y), "rescore", study.name)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    print(f"rescoring study {study.name!r} on {len(X)} rows of {data}{held_out}: {args.cv} fresh folds")
    lease = DriverLease(study.optuna)
    try:
        lease.acquire()
    except tune.StudyBusyError as exc:
        raise CommandError(str(exc)) from None
    try:
        results = study.rescore(X, y, k=args.top, cv=args.cv, seed=args.seed, n_jobs=args.jobs)
    finally:
        lease.release()
    entry = study.rescores()[-1]
    print(f"{'trial':>5}  {'searched':>10}  {'rescored':>10}  {'± se':>8}  folds ({entry['folds']}, seed "
          f"{entry['seed']})")
    for r in results:
        folds = ", ".join("nan" if math.isnan(v) else f"{v:.4f}" for v in r.folds)
        print(f"{r.trial.number:>5}  {r.trial.score:>10.4f}  {r.score:>10.4f}  {r.score_se:>8.4f}  {folds}")
    best = study.best()
    first = results[0]
    if first.trial.number != best.number:
        print(f"trial {first.trial.number} rescored best; the search's best() stays trial {best.number}. Refit it "
              f"with study.refit(X, y, trial=...) in Python.")
    else:
        print(f"trial {best.number}, the search's best, rescored best too")
    print(f"recorded in {study.storage_text()}")

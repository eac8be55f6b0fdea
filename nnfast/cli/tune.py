"""``nnfast tune``: search hyperparameters, refit the best, look at the test set once, report."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from ..callbacks import STOP_REASONS
from ..data import train_test_split
from ..hyperparams import Hyperparameters
from .common import (CommandError, check_fraction, check_output, describe_task, save_model, scores_text,
                     require_tune)
from .readers import DATASETS, add_data_arguments, read_data
from .report import default_report_path, study_names
from .settings import (DEFAULT_SPACE, add_hyperparameter_arguments, command_hyperparameters, read_hyperparameters,
                       read_space, space_from_data)

if TYPE_CHECKING:
    from ..model import Sequential
    from ..tune.space import Space
    from ..tune.study import Study, TrialRecord


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("tune", help="search hyperparameters, refit the best, look at the test set once, report",
                       description="Search hyperparameters: split off a test part first (seeded, stratified for "
                                   "labels), search on the rest (each trial validated on --val-size of it), print "
                                   "the best trials, refit the best configuration on all the non-test rows, "
                                   "evaluate it on the test part once (the look is recorded in the study), and "
                                   "write an HTML report. With no --space, searches a built-in space over lr, "
                                   "hidden layers, batch size, optimizer (with momentum for sgd), l2 and dropout. "
                                   "With --resume, settings not given are the stored study's.")
    p.add_argument("--space", help="the search space as a JSON or TOML file, e.g. "
                                   '{"lr": {"loguniform": [1e-4, 0.3]}, "batch_size": [16, 32, 64]} '
                                   "(default: the built-in space)")
    add_data_arguments(p)
    add_hyperparameter_arguments(p, "--set epochs=30")
    p.add_argument("--strategy", choices=["grid", "random", "bayes"], help="(default: bayes)")
    p.add_argument("--trials", type=int, metavar="N", help="trial budget (default: 20, or the whole grid)")
    p.add_argument("--jobs", type=int, default=None, metavar="N",
                   help="trials at once (default: 1; on --resume, the study's own)")
    p.add_argument("--storage", metavar="STUDY.db", help="keep the study in this SQLite file (or a database URL), "
                                                         "to resume and report it later (default: in memory)")
    p.add_argument("--study-name", default="nnfast", metavar="NAME", help="(default: nnfast)")
    p.add_argument("--resume", action="store_true",
                   help="continue the stored study with the settings it was started with (options given again must "
                        "agree; --trials may extend it): trials already run are kept and never drawn again, trials "
                        "lost with a killed run run again, and a test set already looked at is not looked at again")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="start no new trial after this long")
    p.add_argument("--trial-timeout", type=float, metavar="SECONDS",
                   help="each trial's time budget: a trial past it stops after its current epoch and is scored "
                        "on the epochs it had (stop reason timed_out); with --cv shared equally between the folds; "
                        "kept by a resume (default: none)")
    p.add_argument("--objective", help="the per-epoch value optimised: auto (default: validation accuracy for "
                                       "classes, R^2 for real values) or e.g. val_loss")
    p.add_argument("--test-size", type=float, help="fraction held out as the test part (default: 0.2)")
    p.add_argument("--val-size", type=float,
                   help="fraction of the non-test rows each trial validates on (default: 0.2)")
    p.add_argument("--cv", type=int, metavar="K",
                   help="cross-validate each trial on K folds of the non-test rows (stratified for labels, seeded) "
                        "instead of one validation part; not with --val-size (default: one validation part)")
    p.add_argument("--seed", type=int, help="seeds the splits and the strategy (default: the hyperparameters' seed)")
    p.add_argument("--report", metavar="REPORT.html",
                   help="where to write the HTML report (default: STUDY-report.html next to --storage, "
                        "else nnfast-report.html)")
    p.add_argument("--no-test", action="store_true",
                   help="hold out no test part and look at none: search on all the rows")
    p.add_argument("--out", metavar="MODEL.nnf", help="save the refit best model to this file")
    p.add_argument("--refit-epochs", type=int, metavar="N",
                   help="train the final refit for exactly N epochs, without early stopping (default: the best "
                        "trial's own procedure, with its early stopping, on all the non-test rows)")
    p.set_defaults(run=run)


def data_location(data: str) -> str:
    """A data option as a study records it: a file by its absolute path (so a resume from
    another directory finds it), a bundled dataset by its name."""
    return os.path.abspath(data) if os.path.exists(data) else data


def _brief(value: Any) -> str:
    """A stored setting in a message: compact JSON, cut short."""
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


def _contradiction(study: str, name: str, given: Any, stored: Any, stored_name: Optional[str] = None) -> None:
    """Refuse an option given on a resume that contradicts the study's own setting
    ``stored_name`` (by default the same option)."""
    def option(key: str) -> str:
        return "--" + key.replace("_", "-")

    def show(key: str, value: Any) -> str:
        return option(key) if value is True else f"{option(key)} {value}"

    stored_name = stored_name or name
    absent = stored is None or stored is False  # not `in (False, None)`: a stored 0 equals False
    kept = "no " + option(stored_name) if absent else show(stored_name, stored)
    raise CommandError(f"{show(name, given)} contradicts study {study!r}, which runs with {kept}; "
                       f"leave it out to continue the study as it was started")


def _check_resumable(stored: Study, space: Space, hp: Hyperparameters, strategy: str, objective: str,
                     split: Dict[str, Any], given_data: Optional[str] = None) -> None:
    """The one-line reason a stored study cannot be continued with these settings, if any
    (``given_data``: where --data read the data now, when that is another place)."""
    attrs = stored.attrs

    def fail(reason: str) -> None:
        raise CommandError(f"cannot resume study {stored.name!r}: {reason}")

    if attrs.get("strategy") != strategy:
        fail(f"it is a {attrs.get('strategy')} search; resume it with --strategy {attrs.get('strategy')}")
    before, now = attrs.get("base", {}), json.loads(json.dumps(hp.to_dict()))
    changed = [k for k in now if before.get(k) != now[k]]
    if changed:
        fail("its base hyperparameters differ (" + ", ".join(
            f"{k} {json.dumps(before.get(k))} then, {json.dumps(now[k])} now" for k in changed[:3])
            + "): give the same --hp and --set")
    before, now = attrs.get("space", {}), json.loads(json.dumps(space.to_dict()))
    changed = [k for k in {**before, **now} if before.get(k) != now.get(k)]
    if changed:
        fail(f"its search space differs in {', '.join(changed)} ({changed[0]} "
             f"{_brief(before.get(changed[0]))} then, {_brief(now.get(changed[0]))} now): give the same --space")
    if attrs.get("objective") != objective:
        fail(f"it optimises {attrs.get('objective')}, not {objective}: give the same --objective")
    recorded = (attrs.get("metadata") or {}).get("cli")
    if recorded is not None:  # studies started before --header read with auto, before --cv had none
        recorded = {"header": "auto", "cv": None, **recorded}
    if recorded is not None and recorded != split:
        moved = f"--data {given_data} holds other data than {recorded.get('data')}, which it was tuned on; " if (
            given_data is not None and given_data != recorded.get("data")) else ""
        fail(f"its data or its split differ ({moved}data fingerprint {recorded.get('fingerprint')} then, "
             f"{split['fingerprint']} now): give the same --data, --target, --header, --test-size, --val-size, "
             f"--cv, --no-test and --seed, and the same data file")


def run(args: argparse.Namespace) -> None:
    require_tune()
    from .. import tune
    from ..tune.report import summary_table, write_report
    from ..tune.storage import DriverLease
    from ..tune.study import check_study_file, data_fingerprint
    from ..tune.trial import objective_key

    if args.trials is not None and args.trials < 1:
        raise CommandError(f"--trials must be at least 1, got {args.trials}")
    if args.jobs is not None and args.jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {args.jobs}")
    if args.refit_epochs is not None and args.refit_epochs < 1:
        raise CommandError(f"--refit-epochs must be at least 1, got {args.refit_epochs}")
    if args.cv is not None and args.cv < 2:
        raise CommandError(f"--cv must be at least 2 folds, got {args.cv}")
    if args.timeout is not None and not args.timeout > 0:
        raise CommandError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    if args.trial_timeout is not None and not 0 < args.trial_timeout < math.inf:
        raise CommandError(f"--trial-timeout must be a positive finite number of seconds, got {args.trial_timeout}")

    # the study to continue, whose settings are the defaults of a resume
    if args.resume and not args.storage:
        raise CommandError("--resume needs --storage: an in-memory study ends with its process")
    stored: Optional[Study] = None
    kept: Dict[str, Any] = {}  # the resumed study's settings, as it recorded them
    resumed = ""  # its name
    if args.storage:
        if args.resume:  # before opening it, which would make a database of a missing or empty file
            try:
                check_study_file(args.storage)
            except FileNotFoundError as exc:
                raise CommandError(f"nothing to resume: there is no file {exc.filename}") from None
            except ValueError as exc:
                raise CommandError(f"nothing to resume: {exc}") from None
        if "://" not in args.storage:
            check_output(args.storage, "--storage", replaced=False)
        names = study_names(args.storage)
        if args.study_name in names and not args.resume:
            raise CommandError(f"study {args.study_name!r} already exists in {args.storage}: add --resume to "
                               f"continue it, or choose another --study-name")
        if args.resume and args.study_name not in names:
            held = f" (it holds {', '.join(names)})" if names else ""
            raise CommandError(f"nothing to resume: {args.storage} has no study {args.study_name!r}{held}")
        if args.resume:
            stored = tune.load_study(args.storage, args.study_name)
            resumed = stored.name
            if stored.attrs.get("strategy") not in tune.STRATEGIES:
                raise CommandError(f"study {args.study_name!r} is not a search ({stored.attrs.get('strategy')}): "
                                   f"it cannot be resumed")
            kept = {"strategy": stored.attrs["strategy"], "seed": stored.attrs.get("seed"),
                    "trials": stored.attrs.get("n_trials"), "objective": stored.attrs.get("objective"),
                    "trial_timeout": stored.attrs.get("trial_timeout"), "jobs": stored.attrs.get("n_jobs", 1),
                    **(stored.attrs.get("metadata") or {}).get("cli", {})}
            if args.no_test and not kept.get("no_test", False):
                _contradiction(resumed, "no_test", True, False)

    def setting(name: str, default: Any) -> Any:  # an option's value: of the option's type
        """The option as given, else the resumed study's, else the default. On a resume,
        an option that would change what the study is (all but the budget, jobs, timeout
        and outputs) must agree with the stored one."""
        given = getattr(args, name)
        if name == "data" and given is not None:
            given = data_location(given)
        # the data may have moved: another path is no contradiction, its content is checked (_check_resumable)
        if given is not None and name in kept and name not in ("trials", "objective", "jobs", "data") \
                and given != kept[name]:
            _contradiction(resumed, name, given, kept[name])
        return given if given is not None else kept.get(name, default)

    strategy, trials, objective = setting("strategy", "bayes"), setting("trials", None), setting("objective", "auto")
    data, target, header = setting("data", "digits"), setting("target", "last"), setting("header", "auto")
    if stored is not None and args.data is None and not os.path.exists(data) and data not in DATASETS:
        raise CommandError(f"study {resumed!r} was tuned on {data}, which is not there now (moved?): give --data "
                           f"with the same data (its content is checked, not its path)")
    cv, trial_timeout, jobs = setting("cv", None), setting("trial_timeout", None), setting("jobs", 1)
    if cv is not None and args.val_size is not None:
        if args.cv is None:  # the resumed study's --cv, not the user's
            _contradiction(resumed, "val_size", args.val_size, cv, "cv")
        raise CommandError(f"--cv {cv} and --val-size {args.val_size} exclude each other: with --cv the folds of the "
                           f"non-test rows validate every trial")
    if kept.get("no_test") and args.test_size is not None:  # a study without a test part has no size for it
        _contradiction(resumed, "test_size", args.test_size, True, "no_test")
    if args.no_test and args.test_size is not None:  # it was silently ignored
        raise CommandError(f"--no-test and --test-size {args.test_size} exclude each other: without a test part "
                           f"there is no size for it")
    test_size, val_size = setting("test_size", 0.2), setting("val_size", None if cv is not None else 0.2)
    no_test = args.no_test or kept.get("no_test", False)

    if stored is not None and not args.hp:  # a resume: --set changes the stored base, not the defaults
        try:
            hp = read_hyperparameters(None, args.set, base=stored.base.to_dict())
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from None
    else:
        hp = command_hyperparameters(args)
    seed = setting("seed", hp.seed)
    if args.space:
        source, space = args.space, read_space(args.space)
    elif stored is not None:
        source = f"the space of study {stored.name!r}"
        try:
            space = tune.Space.from_dict(stored.attrs["space"], hp).entries
        except (KeyError, ValueError, TypeError) as exc:
            raise CommandError(f"{source}: {exc}") from None
    else:
        source = "the built-in space"
        space = space_from_data(DEFAULT_SPACE, source)
    try:  # names, conditions and grid points, before any data is read
        searched = tune.Space(space, hp)
        tune.STRATEGIES[strategy](seed=seed).queued(searched)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{source}: {exc}") from None
    if val_size is not None:
        check_fraction(val_size, "--val-size")
    if not no_test:
        check_fraction(test_size, "--test-size")
    report = args.report or default_report_path(args.storage, args.study_name)
    check_output(report, "--report" if args.report else "the report")
    check_output(args.out, "--out")

    table = read_data(data, target, header=header)
    X, y = table.X, table.y
    if no_test:
        X_rest, y_rest, X_test, y_test = X, y, None, None
        held_out = "no test part (--no-test)"
    else:
        X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, seed=seed)
        held_out = f"{len(X_test)} test rows held out for one look at the end"
    # the study keeps the path it was started with: a moved file, the same content, is the same data
    split = {"data": kept.get("data", data), "target": target, "header": header, "test_size": test_size,
             "val_size": val_size,
             "no_test": no_test, "seed": seed, "fingerprint": data_fingerprint(X, y), "cv": cv}
    if stored is not None:
        _check_resumable(stored, searched, hp, strategy, objective_key(hp, y_rest, objective)[0], split,
                         data if args.data is not None else None)
    print(f"task: {describe_task(hp, y)} from {table.target}", file=sys.stderr)
    budget = f"{trials} trials" if trials is not None else "the default budget"
    validated = f"{cv}-fold cross-validation" if cv is not None else f"{val_size:g} of them for validation"
    if trial_timeout is not None:
        budget += f", at most {trial_timeout:g} s each"
    print(f"{'resuming' if args.resume else 'tuning'} {', '.join(space)} with {strategy} search ({budget}, "
          f"{jobs} at a time) on {len(X_rest)} rows of {data} ({validated}); "
          f"{held_out}", file=sys.stderr)
    try:
        study = tune.search(hp, space, train=(X_rest, y_rest), validation_size=val_size or 0.2, cv=cv,
                            strategy=strategy,
                            n_trials=trials, timeout=args.timeout, storage=args.storage, study_name=args.study_name,
                            resume=args.resume, n_jobs=jobs, objective=objective, seed=seed, progress="auto",
                            trial_timeout=trial_timeout,
                            metadata={"cli": split})  # recorded when the study starts: --resume alone reuses it
    except tune.StudyBusyError as exc:
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        if args.storage:
            again = ["nnfast tune --storage", args.storage, "--resume"]
            again += ["--study-name", args.study_name] if args.study_name != "nnfast" else []
            print(f"finished trials are kept in {args.storage}; continue with: {' '.join(again)}", file=sys.stderr)
        raise
    print(summary_table(study))
    print()

    try:
        best = study.best()
    except ValueError:
        best = None
    test_scores, test_note, spent = None, "", ""
    lease = None
    if best is not None and args.storage:  # the refit and the test look are this driver's too
        lease = DriverLease(study.optuna)
        try:
            lease.acquire()
        except tune.StudyBusyError as exc:
            raise CommandError(f"{exc} (it is finishing the study: refit and test look)") from None
    try:
        looks = study.attrs.get("test_looks") or []
        test_scores, test_note, spent = _refit_and_look(args, study, best, looks, no_test, X_rest, y_rest, X_test,
                                                        y_test, table.feature_names)
    finally:
        if lease is not None:
            lease.release()

    try:
        write_report(study, report)
    except ImportError as exc:
        print(f"nnfast tune: no report: {exc}", file=sys.stderr)
        report = None
    _print_outcome(args, study, best, test_scores, test_note, spent, len(X_rest), report)


def _refit_and_look(args: argparse.Namespace, study: Study, best: Optional[TrialRecord], looks: List[Dict[str, Any]],
                    no_test: bool, X_rest: Any, y_rest: Any, X_test: Any, y_test: Any,
                    feature_names: Optional[List[str]]) -> Tuple[Optional[Dict[str, float]], str, str]:
    """Refit the best configuration and look at the test set once, unless the study's
    test set was looked at before: then (test scores, what the look was, a note). The
    model saved with --out keeps the CSV header's ``feature_names``."""
    test_scores, test_note, spent = None, "", ""
    refit: Optional[Sequential] = None
    if best is not None:
        if looks:  # the lockbox was opened before: report that look, never look again
            first = looks[0]
            test_scores = first.get("scores", {})
            test_note = f"recorded look of {first.get('at', '?')}, trial {first.get('trial')}; not looked at again"
            if first.get("trial") != best.number:
                spent = (f"note: the best trial is now {best.number}; its test score stays unknown "
                         f"(the test set of this study is spent)")
        if args.out or (not looks and not no_test):
            hp = best.hyperparameters
            if hp is None:  # a trial added to the study by other means (Optuna's own add_trial, optimize)
                raise CommandError(f"the best trial, {best.number}, recorded no nnfast configuration (it was not run "
                                   f"by nnfast): there is nothing to refit")
            timed_out = best.stop_reason == "timed_out" and 0 < best.epochs < hp.epochs
            length = (f"for {args.refit_epochs} epochs" if args.refit_epochs else
                      f"for at most the {best.epochs} epochs it was scored on (its trial ran out of time)"
                      if timed_out else "with its own stopping rule" if hp.patience else f"for {hp.epochs} epochs")
            print(f"refitting trial {best.number} on {len(X_rest)} rows {length}", file=sys.stderr)
            refit = study.refit(X_rest, y_rest, epochs=args.refit_epochs)
            done = study.attrs["refit"]
            print(f"refit: {done['epochs']} epochs, {STOP_REASONS.get(done['stop_reason'], done['stop_reason'])}",
                  file=sys.stderr)
        if not looks and not no_test:
            test_scores = study.test(X_test, y_test)
            test_note = f"{len(X_test)} rows, looked at once"
        if args.out and refit is not None:  # --out refits above
            save_model(refit, args.out, feature_names)
    return test_scores, test_note, spent


def _print_outcome(args: argparse.Namespace, study: Study, best: Optional[TrialRecord],
                   test_scores: Optional[Dict[str, float]], test_note: str, spent: str, rows: int,
                   report: Optional[str]) -> None:
    from ..tune.study import seconds_text

    if best is None:
        errors = [t.error for t in study.trials if t.error]
        last = f"; last error: {errors[-1]}" if errors else ""
        raise CommandError(f"no trial completed{last}" + (f" (report: {report})" if report else ""))
    print(f"best configuration (trial {best.number}): {best.hyperparameters!r}")
    on_validation = study.objective.startswith("val_")  # else a training-set objective (--objective loss)
    objective = study.objective[4:] if on_validation else study.objective
    print(f"{'validation' if on_validation else 'training'} {objective}: {best.score:.4f}   "
          f"(trial {best.number}, {best.epochs} epochs, {seconds_text(best.seconds)} s)")
    if test_scores is not None:
        print(f"test {scores_text(test_scores)}   ({test_note})")
        if spent:
            print(spent)
    else:
        print("test: not looked at (--no-test)")
    if args.out:
        print(f"saved {args.out} (trial {best.number} refit on {rows} rows)")
    if report:
        print(f"report: {report}")

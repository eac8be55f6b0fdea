"""The ``nnfast`` command line (also ``python -m nnfast``)."""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import sys
from typing import List, Optional, Tuple

import numpy as np

from . import __version__
from .data import load_digits, train_test_split
from .hyperparams import Hyperparameters, train
from .io import load

DATASETS = {"digits": load_digits}


class CommandError(Exception):
    """A problem with the user's input, reported as one line and exit status 1."""


# --- reading data and settings ---------------------------------------------------------------

def read_table(spec: str, target: Optional[str] = "last", need_target: bool = True) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    """(X, y) from a bundled dataset name, a CSV file, an .npy or an .npz file.

    CSV: numbers, an optional header row; the target is the column named or numbered by
    ``target`` ("last" by default) and may hold labels of any kind. NPZ: arrays ``X``
    and ``y``. NPY: one 2-D array, the target its last column when one is needed.
    """
    if spec in DATASETS:
        X, y = DATASETS[spec]()
        return X, (y if need_target else None)
    if not os.path.exists(spec):
        raise CommandError(f"no dataset or file named {spec!r} (bundled: {', '.join(DATASETS)})")
    lower = spec.lower()
    try:
        if lower.endswith(".npz"):
            with np.load(spec, allow_pickle=False) as data:
                if "X" not in data:
                    raise CommandError(f"{spec} must hold an array named 'X' (and 'y' for training)")
                y = data["y"] if "y" in data else None
                if need_target and y is None:
                    raise CommandError(f"{spec} has no array named 'y'")
                return data["X"], y
        if lower.endswith(".npy"):
            arr = np.load(spec, allow_pickle=False)
            if arr.ndim != 2:
                raise CommandError(f"{spec} must hold a 2-D array")
            return (arr[:, :-1], arr[:, -1]) if need_target else (arr, None)
        if lower.endswith(".csv"):
            return _read_csv(spec, target if need_target else None)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {spec}: {exc}") from None
    raise CommandError(f"{spec}: unknown file type (use .csv, .npy or .npz)")


def _read_csv(path: str, target: Optional[str]) -> Tuple[np.ndarray, Optional[np.ndarray]]:
    with open(path, newline="") as f:
        rows = [row for row in csv.reader(f) if row]
    if not rows:
        raise CommandError(f"{path} is empty")
    header = None
    try:
        [float(v) for v in rows[0] if v.strip()]
    except ValueError:
        header, rows = rows[0], rows[1:]
    if not rows:
        raise CommandError(f"{path} has a header but no rows")
    width = len(rows[0])
    if any(len(r) != width for r in rows):
        raise CommandError(f"{path}: rows have different numbers of columns")
    column = None
    if target is not None:
        if target == "last":
            column = width - 1
        elif header is not None and target in header:
            column = header.index(target)
        elif target.lstrip("-").isdigit():
            column = int(target) % width
        else:
            raise CommandError(f"{path}: no target column {target!r}")
    features = [i for i in range(width) if i != column]
    try:
        X = np.array([[float(r[i]) for i in features] for r in rows])
    except ValueError as exc:
        raise CommandError(f"{path}: feature columns must be numbers ({exc})") from None
    if column is None:
        return X, None
    raw = [r[column] for r in rows]
    try:
        y = np.array([float(v) for v in raw])
        if np.all(y == np.round(y)) and len(np.unique(y)) <= max(20, len(y) // 50):
            y = y.astype(np.int64)  # whole numbers with few distinct values: class labels
    except ValueError:
        y = np.array(raw)
    return X, y


def read_hyperparameters(path: Optional[str], overrides: List[str]) -> Hyperparameters:
    """Hyperparameters from a JSON or TOML file, then ``key=value`` overrides (JSON values)."""
    data = {}
    if path:
        data = _read_document(path, "hyperparameter file")
        data = data.get("hyperparameters", data)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--set takes key=value, got {item!r}")
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value  # a bare string such as relu
    return Hyperparameters.from_dict(data)


#: the base hyperparameters of ``tune`` and ``lr-range`` when no --hp file is given (--set still applies)
TUNE_BASE = {"epochs": 40, "patience": 6, "standardize": True}

#: the space ``nnfast tune`` searches when given no --space: the same plain form a space file has
DEFAULT_SPACE = {
    "lr": {"loguniform": [3e-4, 0.1], "points": [1e-3, 3e-3, 1e-2, 3e-2]},
    "hidden": {"layers": {"depth": {"int": [1, 2]}, "width": {"choice": [32, 64, 128, 256]}}},
    "batch_size": [16, 32, 64, 128],
    "optimizer": {"choice": ["adam", "sgd"]},
    "momentum": {"uniform": [0.8, 0.99], "points": [0.9], "when": {"optimizer": "sgd"}},
    "l2": [0.0, 1e-5, 1e-4, 1e-3],
    "dropout": {"uniform": [0.0, 0.4], "points": [0.0, 0.2]},
}

#: the kinds of distribution a space file may name, and what each takes
SPACE_KINDS = {
    "choice": "a list of values",
    "uniform": "[low, high] (and \"points\": [...] for grid search)",
    "loguniform": "[low, high], low > 0 (and \"points\": [...] for grid search)",
    "int": "[low, high], integers",
    "intlog": "[low, high], integers",
    "layers": "{\"depth\": ..., \"width\": ..., \"shrink\": ...} of distributions",
}


def _tune():
    """nnfast.tune, or a one-line error when its extra is not installed."""
    try:
        from . import tune
    except ImportError as exc:
        raise CommandError(str(exc)) from None
    return tune


def _read_document(path: str, what: str) -> dict:
    """A JSON or TOML file as a dict."""
    try:
        if path.lower().endswith(".toml"):
            try:
                import tomllib
            except ImportError:  # Python < 3.11
                try:
                    import tomli as tomllib
                except ImportError:
                    raise CommandError(f"cannot read {path}: TOML needs Python 3.11+ or `pip install tomli`; "
                                       f"or use JSON") from None
            with open(path, "rb") as f:
                data = tomllib.load(f)
        else:
            with open(path) as f:
                data = json.load(f)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path}: {what} must be a JSON object or a TOML table, not {type(data).__name__}")
    return data


def _distribution(spec, where: str, tune, nested: bool = False):
    """One entry of a space file as a distribution of nnfast.tune.space."""
    if isinstance(spec, list):
        try:
            return tune.choice(spec)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"{where}: {exc}") from None
    if not isinstance(spec, dict):  # a single value: fixed, not searched
        return tune.choice([spec])
    kinds = [k for k in spec if k not in ("when", "points")]
    unknown = [k for k in kinds if k not in SPACE_KINDS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), SPACE_KINDS, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CommandError(f"{where}: unknown kind {unknown[0]!r}{hint}; use one of {', '.join(SPACE_KINDS)}, "
                           f"or a list of values")
    if len(kinds) != 1:
        raise CommandError(f"{where}: give exactly one kind of {', '.join(SPACE_KINDS)}, "
                           f"got {', '.join(kinds) if kinds else 'none'}")
    kind, args = kinds[0], spec[kinds[0]]
    if "points" in spec and kind not in ("uniform", "loguniform"):
        raise CommandError(f"{where}: 'points' applies to uniform and loguniform only (a {kind} has its own points)")
    if "when" in spec and nested:
        raise CommandError(f"{where}: 'when' belongs to a whole entry, not to a part of layers")
    try:
        if kind == "choice":
            if not isinstance(args, list):
                raise CommandError(f"{where}: choice takes a list of values")
            dist = tune.choice(args)
        elif kind == "layers":
            if not isinstance(args, dict) or not {"depth", "width"} <= set(args) <= {"depth", "width", "shrink"}:
                raise CommandError(f"{where}: layers takes {SPACE_KINDS['layers']} (shrink optional)")
            parts = {name: _distribution(value, f"{where} {name}", tune, nested=True) for name, value in args.items()}
            dist = tune.layers(**parts)
        else:
            if not (isinstance(args, list) and len(args) == 2):
                raise CommandError(f"{where}: {kind} takes {SPACE_KINDS[kind]}, got {json.dumps(args)}")
            if kind in ("int", "intlog"):
                if not all(isinstance(v, int) and not isinstance(v, bool) for v in args):
                    raise CommandError(f"{where}: {kind} takes integer bounds, got {json.dumps(args)}")
                dist = getattr(tune, kind)(*args)
            else:
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in args):
                    raise CommandError(f"{where}: {kind} takes numbers, got {json.dumps(args)}")
                points = spec.get("points")
                if points is not None and not (isinstance(points, list) and points):
                    raise CommandError(f"{where}: points must be a list of numbers")
                dist = getattr(tune, kind)(*args, points=points)
        when = spec.get("when")
        if when is not None:
            if not isinstance(when, dict) or not when:
                raise CommandError(f"{where}: 'when' maps hyperparameter names to a value or a list of values, "
                                   f"e.g. {{\"optimizer\": \"sgd\"}}")
            dist = dist.when(**when)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{where}: {exc}") from None
    return dist


def space_from_data(data: dict, source: str = "space") -> dict:
    """A search space from plain data (see :func:`read_space`)."""
    tune = _tune()
    if not isinstance(data, dict) or not data:
        raise CommandError(f"{source}: the space is empty; it maps hyperparameter names to distributions, "
                           f"e.g. {{\"lr\": {{\"loguniform\": [1e-4, 0.3]}}, \"batch_size\": [16, 32, 64]}}")
    return {str(name): _distribution(spec, f"{source}: entry {name!r}", tune) for name, spec in data.items()}


def read_space(path: str) -> dict:
    """A search space from a JSON or TOML file: hyperparameter name -> distribution.

    Each entry is a list of values (a choice), a single value (fixed), or an object
    naming one kind: ``{"choice": [...]}``, ``{"uniform": [low, high]}``,
    ``{"loguniform": [low, high]}`` (both optionally with ``"points": [...]`` for grid
    search), ``{"int": [low, high]}``, ``{"intlog": [low, high]}``, or for ``hidden``
    ``{"layers": {"depth": ..., "width": ..., "shrink": ...}}``; any entry may add
    ``"when": {"optimizer": "sgd"}`` to be searched only under that condition. The
    entries may also sit under a top-level ``"space"`` key.
    """
    data = _read_document(path, "space file")
    if isinstance(data.get("space"), dict):
        data = data["space"]
    return space_from_data(data, path)


def _tune_hyperparameters(args) -> Hyperparameters:
    """--hp and --set; without --hp, the tuning defaults (TUNE_BASE) come first."""
    defaults = [] if args.hp else [f"{k}={json.dumps(v)}" for k, v in TUNE_BASE.items()]
    return read_hyperparameters(args.hp, defaults + list(args.set))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _study_names(storage: str) -> List[str]:
    import optuna

    from .tune.storage import open_storage, storage_url
    try:
        return optuna.get_all_study_names(open_storage(storage_url(storage)))
    except Exception as exc:  # SQLAlchemy and driver errors: a file that is not a study database, ...
        raise CommandError(f"cannot open study storage {storage}: {_first_line(exc)}") from None


def _load_study(storage: str, name: Optional[str]):
    tune = _tune()
    if "://" not in storage and not os.path.isfile(storage):
        raise CommandError(f"no study file {storage!r}")
    names = _study_names(storage)
    if not names:
        raise CommandError(f"{storage} holds no study")
    if name is None:
        if len(names) > 1:
            raise CommandError(f"{storage} holds studies {', '.join(names)}: choose one with --study-name")
        name = names[0]
    elif name not in names:
        raise CommandError(f"{storage} has no study {name!r}; it has {', '.join(names)}")
    return tune.load_study(storage, name)


def _default_report_path(storage: Optional[str]) -> str:
    """Next to the storage file (``study.db`` -> ``study-report.html``), else nnfast-report.html."""
    if storage and "://" not in storage:
        return os.path.splitext(storage)[0] + "-report.html"
    return "nnfast-report.html"


def _check_directory(path: Optional[str]) -> None:
    """An output file's directory must exist before hours of work go into filling it."""
    if path:
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise CommandError(f"cannot write {path}: no directory {directory}")


def _scores_text(scores: dict) -> str:
    """``accuracy: 0.9806   cost: 0.0712`` (the metric first, the cost last)."""
    parts = [f"{k}: {v:.4f}" for k, v in scores.items() if k != "loss"]
    if "loss" in scores:
        parts.append(f"cost: {scores['loss']:.4f}")
    return "   ".join(parts)


# --- commands --------------------------------------------------------------------------------

def cmd_train(args) -> None:
    hp = read_hyperparameters(args.hp, args.set)
    X, y = read_table(args.data, args.target)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.test_size, seed=hp.seed)
    X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=args.val_size, seed=hp.seed)
    print(f"training {hp} on {len(X_train)} rows, validating on {len(X_val)}", file=sys.stderr)
    model, history = train(hp, X_train, y_train, validation=(X_val, y_val), verbose=args.verbose or "auto")
    best = history.best_epoch if history.best_epoch is not None else history.epochs - 1
    metric = history.metric
    print(f"stopped after {history.epochs} epochs: {history.message}")
    print(f"validation {metric}: {history['val_' + metric][best]:.4f}   cost: {history['val_loss'][best]:.4f}")
    test = model.evaluate(X_test, y_test)
    print(f"test {metric}: {test[metric]:.4f}   cost: {test['loss']:.4f}   ({len(X_test)} rows, looked at once)")
    if args.out:
        model.save(args.out)
        print(f"saved {args.out}")


def cmd_predict(args) -> None:
    model = load(args.model)
    X, _ = read_table(args.data, need_target=False)
    out = model.predict_proba(X) if args.proba else model.predict(X)
    stream = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        writer = csv.writer(stream)
        for row in out[:, None] if out.ndim == 1 else out:
            writer.writerow([_format(v) for v in row])
    finally:
        if args.out:
            stream.close()


def _format(value) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def _check_fraction(value: float, option: str) -> None:
    if not 0.0 < value < 1.0:
        raise CommandError(f"{option} must be between 0 and 1, got {value}")


def _brief(value) -> str:
    """A stored setting in a message: compact JSON, cut short."""
    text = json.dumps(value, separators=(",", ":"))
    return text if len(text) <= 80 else text[:77] + "..."


def _contradiction(study: str, name: str, given, stored) -> None:
    option = "--" + name.replace("_", "-")
    show = lambda value: option if value is True else f"{option} {value}"  # noqa: E731
    raise CommandError(f"{show(given)} contradicts study {study!r}, which runs with "
                       f"{show(stored) if stored is not False else 'no ' + option}; "
                       f"leave it out to continue the study as it was started")


def _check_resumable(stored, space, hp: Hyperparameters, strategy: str, objective: str, split: dict) -> None:
    """The one-line reason a stored study cannot be continued with these settings, if any."""
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
    if recorded is not None and recorded != split:
        fail(f"its data or its split differ (data fingerprint {recorded.get('fingerprint')} then, "
             f"{split['fingerprint']} now): give the same --data, --target, --test-size, --val-size, --no-test "
             f"and --seed, and the same data file")


def cmd_tune(args) -> None:
    tune = _tune()
    from .tune.report import summary_table, write_report
    from .tune.study import data_fingerprint
    from .tune.trial import objective_key

    if args.trials is not None and args.trials < 1:
        raise CommandError(f"--trials must be at least 1, got {args.trials}")
    if args.jobs < 1:
        raise CommandError(f"--jobs must be at least 1, got {args.jobs}")
    if args.refit_epochs is not None and args.refit_epochs < 1:
        raise CommandError(f"--refit-epochs must be at least 1, got {args.refit_epochs}")
    if args.timeout is not None and not args.timeout > 0:
        raise CommandError(f"--timeout must be a positive number of seconds, got {args.timeout}")

    # the study to continue, whose settings are the defaults of a resume
    if args.resume and not args.storage:
        raise CommandError("--resume needs --storage: an in-memory study ends with its process")
    stored, kept = None, {}
    if args.storage:
        names = _study_names(args.storage)
        if args.study_name in names and not args.resume:
            raise CommandError(f"study {args.study_name!r} already exists in {args.storage}: add --resume to "
                               f"continue it, or choose another --study-name")
        if args.resume and args.study_name not in names:
            held = f" (it holds {', '.join(names)})" if names else ""
            raise CommandError(f"nothing to resume: {args.storage} has no study {args.study_name!r}{held}")
        if args.resume:
            stored = tune.load_study(args.storage, args.study_name)
            if stored.attrs.get("strategy") not in tune.STRATEGIES:
                raise CommandError(f"study {args.study_name!r} is not a search ({stored.attrs.get('strategy')}): "
                                   f"it cannot be resumed")
            kept = {"strategy": stored.attrs["strategy"], "seed": stored.attrs.get("seed"),
                    "trials": stored.attrs.get("n_trials"), "objective": stored.attrs.get("objective"),
                    **(stored.attrs.get("metadata") or {}).get("cli", {})}
            if args.no_test and not kept.get("no_test", False):
                _contradiction(stored.name, "no_test", True, False)

    def setting(name: str, default):
        """The option as given, else the resumed study's, else the default. On a resume,
        an option that would change what the study is (all but the budget, jobs, timeout
        and outputs) must agree with the stored one."""
        given = getattr(args, name)
        if given is not None and name in kept and name not in ("trials", "objective") and given != kept[name]:
            _contradiction(stored.name, name, given, kept[name])
        return given if given is not None else kept.get(name, default)

    strategy, trials, objective = setting("strategy", "bayes"), setting("trials", None), setting("objective", "auto")
    data, target = setting("data", "digits"), setting("target", "last")
    test_size, val_size = setting("test_size", 0.2), setting("val_size", 0.2)
    no_test = args.no_test or kept.get("no_test", False)

    if stored is not None and not args.hp and not args.set:
        hp = stored.base
    else:
        hp = _tune_hyperparameters(args)
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
    _check_fraction(val_size, "--val-size")
    if not no_test:
        _check_fraction(test_size, "--test-size")
    report = args.report or _default_report_path(args.storage)
    for path in (report, args.out):
        _check_directory(path)

    X, y = read_table(data, target)
    if no_test:
        X_rest, y_rest, X_test, y_test = X, y, None, None
    else:
        X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=test_size, seed=seed)
    split = {"data": data, "target": target, "test_size": test_size, "val_size": val_size, "no_test": no_test,
             "seed": seed, "fingerprint": data_fingerprint(X, y)}
    if stored is not None:
        _check_resumable(stored, searched, hp, strategy, objective_key(hp, y_rest, objective)[0], split)
    held_out = "no test part (--no-test)" if no_test else f"{len(X_test)} test rows held out for one look at the end"
    budget = f"{trials} trials" if trials is not None else "the default budget"
    print(f"{'resuming' if args.resume else 'tuning'} {', '.join(space)} with {strategy} search ({budget}, "
          f"{args.jobs} at a time) on {len(X_rest)} rows of {data} ({val_size:g} of them for validation); "
          f"{held_out}", file=sys.stderr)
    try:
        study = tune.search(hp, space, train=(X_rest, y_rest), validation_size=val_size, strategy=strategy,
                            n_trials=trials, timeout=args.timeout, storage=args.storage, study_name=args.study_name,
                            resume=args.resume, n_jobs=args.jobs, objective=objective, seed=seed, progress="auto",
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
    looks = study.attrs.get("test_looks") or []
    if best is not None:
        if looks:  # the lockbox was opened before: report that look, never look again
            first = looks[0]
            test_scores = first.get("scores", {})
            test_note = f"recorded look of {first.get('at', '?')}, trial {first.get('trial')}; not looked at again"
            if first.get("trial") != best.number:
                spent = (f"note: the best trial is now {best.number}; its test score stays unknown "
                         f"(the test set of this study is spent)")
        if args.out or (not looks and not no_test):
            length = (f"for {args.refit_epochs} epochs" if args.refit_epochs else
                      "with its own stopping rule" if best.hyperparameters.patience else
                      f"for {best.hyperparameters.epochs} epochs")
            print(f"refitting trial {best.number} on {len(X_rest)} rows {length}", file=sys.stderr)
            study.refit(X_rest, y_rest, epochs=args.refit_epochs)
        if not looks and not no_test:
            test_scores = study.test(X_test, y_test)
            test_note = f"{len(X_test)} rows, looked at once"
        if args.out:
            study.model.save(args.out)

    try:
        write_report(study, report)
    except ImportError as exc:
        print(f"nnfast tune: no report: {exc}", file=sys.stderr)
        report = None

    if best is None:
        errors = [t.error for t in study.trials if t.error]
        last = f"; last error: {errors[-1]}" if errors else ""
        raise CommandError(f"no trial completed{last}" + (f" (report: {report})" if report else ""))
    print(f"best configuration (trial {best.number}): {best.hyperparameters!r}")
    objective = study.objective[4:] if study.objective.startswith("val_") else study.objective
    print(f"validation {objective}: {best.score:.4f}   "
          f"(trial {best.number}, {best.epochs} epochs, {best.seconds:.1f} s)")
    if test_scores is not None:
        print(f"test {_scores_text(test_scores)}   ({test_note})")
        if spent:
            print(spent)
    else:
        print("test: not looked at (--no-test)")
    if args.out:
        print(f"saved {args.out} (trial {best.number} refit on {len(X_rest)} rows)")
    if report:
        print(f"report: {report}")


def cmd_report(args) -> None:
    from .tune.report import summary_table, write_report

    path = args.out or _default_report_path(args.storage)
    _check_directory(path)
    study = _load_study(args.storage, args.study_name)
    print(summary_table(study, top=args.top))
    write_report(study, path)
    print(f"report: {path}")


def cmd_lr_range(args) -> None:
    tune = _tune()
    hp = _tune_hyperparameters(args)
    _check_directory(args.plot)
    X, y = read_table(args.data, args.target)
    if args.test_size:
        _check_fraction(args.test_size, "--test-size")
        X, _, y, _ = train_test_split(X, y, test_size=args.test_size, seed=hp.seed)
    result = tune.lr_range_test(hp, X, y, min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps)
    batch = "full batch" if hp.batch_size is None else f"batch {hp.batch_size}"
    print(f"learning-rate range test of {hp.optimizer} ({batch}) on {len(X)} rows of {args.data}: "
          f"{len(result.costs)} of {args.steps} steps from {args.min_lr:g} to {args.max_lr:g}", file=sys.stderr)
    rows = [("suggested lr:", result.suggested, "the cost falls fastest here: a good largest rate to start from"),
            ("falls until:", result.falls_until, "the largest rate at which the smoothed cost still falls")]
    if result.blows_up_at is None:
        rows.append(("blows up at:", None, f"the cost did not blow up below {args.max_lr:g}"))
    else:
        rows.append(("blows up at:", result.blows_up_at, "the cost exploded here: stay well below"))
    for label, value, meaning in rows:
        print(f"{label:<14}{'-' if value is None else format(value, '.3g'):<10}{meaning}")
    if result.suggested <= result.lrs[0]:
        print("note: the suggestion is the lowest rate of the sweep, where the cost is noisiest; check the curve "
              "(--plot) or lower --min-lr")
    if args.plot:
        from .tune.plots import _matplotlib

        _matplotlib()
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.5, 4.5), layout="constrained")
        result.plot(ax=fig.add_subplot())
        try:
            fig.savefig(args.plot, dpi=120)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot write {args.plot}: {exc}") from None
        print(f"plot: {args.plot}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nnfast", description="A fast neural-network engine for CPUs.")
    parser.add_argument("--version", action="version", version=f"nnfast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train one configuration and report validation and test scores",
                       description="Train one configuration: split off a test part (looked at once, at the end) and "
                                   "a validation part (watched every epoch), train, report, optionally save.")
    p.add_argument("--data", default="digits", help="bundled dataset name, or a .csv, .npy or .npz file (default: digits)")
    p.add_argument("--target", default="last", help="CSV target column: name, index or 'last' (default)")
    p.add_argument("--hp", help="hyperparameters as a JSON or TOML file")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter, e.g. --set lr=0.01 --set 'hidden=[128,64]'")
    p.add_argument("--test-size", type=float, default=0.2)
    p.add_argument("--val-size", type=float, default=0.2, help="fraction of the non-test rows used for validation")
    p.add_argument("--out", help="save the trained model to this file")
    p.add_argument("--verbose", action="store_true", help="a line per epoch even when not on a terminal")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("predict", help="predict with a saved model",
                       description="Write one prediction per input row as CSV.")
    p.add_argument("model", help="a file written by nnfast train --out or model.save")
    p.add_argument("--data", required=True, help="a .csv (features only), .npy or .npz file")
    p.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    p.add_argument("--out", help="write here instead of standard output")
    p.set_defaults(run=cmd_predict)

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
    p.add_argument("--data", help="bundled dataset name, or a .csv, .npy or .npz file (default: digits)")
    p.add_argument("--target", help="CSV target column: name, index or 'last' (default)")
    p.add_argument("--hp", help="base hyperparameters as a JSON or TOML file (default: nnfast's defaults with "
                                + ", ".join(f"{k}={json.dumps(v)}" for k, v in TUNE_BASE.items()) + ")")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one base hyperparameter, e.g. --set epochs=30")
    p.add_argument("--strategy", choices=["grid", "random", "bayes"], help="(default: bayes)")
    p.add_argument("--trials", type=int, metavar="N", help="trial budget (default: 20, or the whole grid)")
    p.add_argument("--jobs", type=int, default=1, metavar="N", help="trials at once (default: 1)")
    p.add_argument("--storage", metavar="STUDY.db", help="keep the study in this SQLite file (or a database URL), "
                                                         "to resume and report it later (default: in memory)")
    p.add_argument("--study-name", default="nnfast", metavar="NAME", help="(default: nnfast)")
    p.add_argument("--resume", action="store_true",
                   help="continue the stored study with the settings it was started with (options given again must "
                        "agree; --trials may extend it): trials already run are kept and never drawn again, trials "
                        "lost with a killed run run again, and a test set already looked at is not looked at again")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="start no new trial after this long")
    p.add_argument("--objective", help="the per-epoch value optimised: auto (default: validation accuracy for "
                                       "classes, R^2 for real values) or e.g. val_loss")
    p.add_argument("--test-size", type=float, help="fraction held out as the test part (default: 0.2)")
    p.add_argument("--val-size", type=float,
                   help="fraction of the non-test rows each trial validates on (default: 0.2)")
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
    p.set_defaults(run=cmd_tune)

    p = sub.add_parser("report", help="summarise a stored study and write its HTML report",
                       description="Print the summary of a study kept with nnfast tune --storage and write its "
                                   "self-contained HTML report (plots embedded, no external files).")
    p.add_argument("storage", metavar="STUDY.db", help="the study's SQLite file (or a database URL)")
    p.add_argument("--study-name", metavar="NAME", help="which study, when the file holds several")
    p.add_argument("--out", metavar="REPORT.html", help="(default: STUDY-report.html next to the study file)")
    p.add_argument("--top", type=int, default=10, metavar="K", help="trials in the printed summary (default: 10)")
    p.set_defaults(run=cmd_report)

    p = sub.add_parser("lr-range", help="learning-rate range test: which rates make the cost fall",
                       description="Train a fresh model while the learning rate rises geometrically, one batch per "
                                   "step, and report the rate at which the cost falls fastest (a good largest rate "
                                   "to start from), the largest at which it still falls, and where it blows up. "
                                   "Runs on the non-test rows: the same split as nnfast tune and train.")
    p.add_argument("--data", default="digits",
                   help="bundled dataset name, or a .csv, .npy or .npz file (default: digits)")
    p.add_argument("--target", default="last", help="CSV target column: name, index or 'last' (default)")
    p.add_argument("--hp", help="hyperparameters as a JSON or TOML file (optimizer, batch size, penalties, seed)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one hyperparameter, e.g. --set optimizer=sgd")
    p.add_argument("--min-lr", type=float, default=1e-6, help="(default: 1e-6)")
    p.add_argument("--max-lr", type=float, default=10.0, help="(default: 10)")
    p.add_argument("--steps", type=int, default=200, help="batches in the sweep (default: 200)")
    p.add_argument("--test-size", type=float, default=0.2,
                   help="fraction held out and not used, as in nnfast tune (default: 0.2; 0 uses every row)")
    p.add_argument("--plot", metavar="OUT.png", help="save the cost-against-rate plot here")
    p.set_defaults(run=cmd_lr_range)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (CommandError, ValueError, TypeError, FileNotFoundError) as exc:
        print(f"nnfast {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nnfast {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

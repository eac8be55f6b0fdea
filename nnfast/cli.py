"""The ``nnfast`` command line (also ``python -m nnfast``)."""

from __future__ import annotations

import argparse
import csv
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
        try:
            if path.lower().endswith(".toml"):
                try:
                    import tomllib
                except ImportError:  # Python < 3.11
                    import tomli as tomllib
                with open(path, "rb") as f:
                    data = tomllib.load(f)
            else:
                with open(path) as f:
                    data = json.load(f)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot read {path}: {exc}") from None
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

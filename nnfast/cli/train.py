"""``nnfast train``: train one configuration, report validation and test scores, save."""

from __future__ import annotations

import argparse
import sys

from .. import train as train_model  # the package's entry point, wherever its module is
from ..data import train_test_split
from .common import check_fraction, check_output, describe_task, save_model
from .readers import add_data_arguments, read_data
from .settings import add_hyperparameter_arguments, command_hyperparameters


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("train", help="train one configuration and report validation and test scores",
                       description="Train one configuration: split off a test part (looked at once, at the end) and "
                                   "a validation part (watched every epoch, for early stopping), train, report, "
                                   "optionally save. Starts from the same defaults as nnfast tune.")
    add_data_arguments(p)
    add_hyperparameter_arguments(p, "--set lr=0.01 --set 'hidden=[128,64]'")
    p.add_argument("--test-size", type=float, default=0.2, help="fraction held out as the test part (default: 0.2)")
    p.add_argument("--val-size", type=float, default=0.2,
                   help="fraction of the non-test rows used for validation (default: 0.2)")
    p.add_argument("--out", metavar="MODEL.nnf", help="save the trained model to this file")
    p.add_argument("--verbose", action="store_true", help="a line per epoch even when not on a terminal")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    hp = command_hyperparameters(args)
    check_fraction(args.test_size, "--test-size")
    check_fraction(args.val_size, "--val-size")
    check_output(args.out, "--out", inputs=[args.data])
    table = read_data(args.data or "digits", args.target, header=args.header or "auto")
    X, y = table.X, table.y
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=args.test_size, seed=hp.seed)
    X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=args.val_size, seed=hp.seed)
    print(f"task: {describe_task(hp, y)} from {table.target}", file=sys.stderr)
    print(f"training {hp} on {len(X_train)} rows, validating on {len(X_val)}", file=sys.stderr)
    model, history = train_model(hp, X_train, y_train, validation=(X_val, y_val), verbose=args.verbose or "auto")
    best = history.best_epoch if history.best_epoch is not None else history.epochs - 1
    metric = history.metric
    print(f"stopped after {history.epochs} epochs: {history.message}")
    if history.stop_reason == "diverged":  # the curve's last values are the diverged ones: score what was kept
        val = model.evaluate(X_val, y_val)
        print(f"validation {metric}: {val[metric]:.4f}   cost: {val['loss']:.4f}   (the weights kept when training "
              f"diverged)")
    else:
        print(f"validation {metric}: {history['val_' + metric][best]:.4f}   cost: {history['val_loss'][best]:.4f}")
    test = model.evaluate(X_test, y_test)
    print(f"test {metric}: {test[metric]:.4f}   cost: {test['loss']:.4f}   ({len(X_test)} rows, looked at once)")
    findings = history.diagnose()
    if findings:
        print("diagnosis of the cost curves (history.diagnose()):")
        for finding in findings:
            print(f"  {finding}")
    if args.out:
        save_model(model, args.out, table.feature_names)
        print(f"saved {args.out}")

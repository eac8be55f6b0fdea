"""``nnfast lr-range``: the learning-rate range test."""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Tuple

from ..data import train_test_split
from .common import CommandError, check_fraction, check_output, describe_task, require_tune
from .readers import add_data_arguments, read_data
from .settings import add_hyperparameter_arguments, command_hyperparameters


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("lr-range", help="learning-rate range test: which rates make the cost fall",
                       description="Train a fresh model while the learning rate rises geometrically, one batch per "
                                   "step, and report the rate at which the cost falls fastest (a good largest rate "
                                   "to start from), the largest at which it still falls, and where it blows up. "
                                   "Runs on the non-test rows: the same split as nnfast tune and train, from the "
                                   "same default hyperparameters.")
    add_data_arguments(p)
    add_hyperparameter_arguments(p, "--set optimizer=sgd")
    p.add_argument("--min-lr", type=float, default=1e-6, help="(default: 1e-6)")
    p.add_argument("--max-lr", type=float, default=10.0, help="(default: 10)")
    p.add_argument("--steps", type=int, default=200, help="batches in the sweep (default: 200)")
    p.add_argument("--test-size", type=float, default=0.2,
                   help="fraction held out and not used, as in nnfast tune (default: 0.2; 0 uses every row)")
    p.add_argument("--plot", metavar="OUT.png", help="save the cost-against-rate plot here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    require_tune()
    from .. import tune
    hp = command_hyperparameters(args)
    if args.test_size:
        check_fraction(args.test_size, "--test-size")
    check_output(args.plot, "--plot", replaced=False)
    data = args.data or "digits"
    table = read_data(data, args.target, header=args.header or "auto")
    X, y = table.X, table.y
    if args.test_size:
        X, _, y, _ = train_test_split(X, y, test_size=args.test_size, seed=hp.seed)
    result = tune.lr_range_test(hp, X, y, min_lr=args.min_lr, max_lr=args.max_lr, steps=args.steps)
    print(f"task: {describe_task(hp, y)} from {table.target}", file=sys.stderr)
    batch = "full batch" if hp.batch_size is None else f"batch {hp.batch_size}"
    print(f"learning-rate range test of {hp.optimizer} ({batch}) on {len(X)} rows of {data}: "
          f"{len(result.costs)} of {args.steps} steps from {args.min_lr:g} to {args.max_lr:g}", file=sys.stderr)
    rows: List[Tuple[str, Optional[float], str]] = [
        ("suggested lr:", result.suggested, "the cost falls fastest here: a good largest rate to start from"),
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
        from ..tune.plots import _matplotlib

        _matplotlib()
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.5, 4.5), layout="constrained")
        result.plot(ax=fig.add_subplot())
        try:
            fig.savefig(args.plot, dpi=120)
        except (OSError, ValueError) as exc:
            raise CommandError(f"cannot write {args.plot}: {exc}") from None
        print(f"plot: {args.plot}")

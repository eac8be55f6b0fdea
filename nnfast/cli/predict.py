"""``nnfast predict``: one prediction per input row, as CSV."""

from __future__ import annotations

import argparse
import csv
import sys

import numpy as np

from ..io import load
from .common import check_columns, check_output
from .readers import add_data_arguments, read_data


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("predict", help="predict with a saved model",
                       description="Write one prediction per input row as CSV. The rows hold the features the "
                                   "model was trained on, in the same order; a label column among them is left out "
                                   "with --target.")
    p.add_argument("model", help="a file written by nnfast train --out or model.save")
    add_data_arguments(p, predict=True)
    p.add_argument("--proba", action="store_true", help="class probabilities instead of labels")
    p.add_argument("--out", help="write here instead of standard output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    check_output(args.out, "--out", replaced=False, inputs=[args.model, args.data])
    model = load(args.model)
    table = read_data(args.data, args.target, header=args.header or "auto", need_target=False)
    X = table.X
    check_columns(model, X, table.feature_names, args.data, args.model,
                  label_hint=args.target is None)
    out = model.predict_proba(X) if args.proba else model.predict(X)
    stream = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        writer = csv.writer(stream)
        for row in out[:, None] if out.ndim == 1 else out:
            writer.writerow([_format(v) for v in row])
    finally:
        if args.out:
            stream.close()


def _format(value: object) -> str:
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)

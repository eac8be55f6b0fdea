"""``nnfast export``: a saved model as an ONNX graph and/or dependency-free C source."""

from __future__ import annotations

import argparse
import os
from typing import Optional

import numpy as np

from ..io import load
from ..model import Sequential
from .common import CommandError, check_output
from .readers import Table, add_data_arguments, read_data


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write a saved model as ONNX or as C source",
                       description="Write a saved model as an ONNX graph (--onnx, needs the onnx package: "
                                   "pip install 'nnfast[onnx]') and/or as C99 source that needs only <math.h> "
                                   "(--c DIR: DIR/NAME.h and DIR/NAME.c).")
    p.add_argument("model", help="a file written by nnfast train --out or model.save")
    p.add_argument("--onnx", metavar="FILE", help="write the ONNX graph here")
    p.add_argument("--c", metavar="DIR", dest="c_dir", help="write NAME.h and NAME.c into this existing directory")
    p.add_argument("--name", default="model",
                   help="the C prefix of the functions and the files' name (default: model)")
    p.add_argument("--int8", action="store_true",
                   help="C weights as int8 with a scale per output channel (activations stay floating point)")
    add_data_arguments(p, default=None, purpose="with --int8: data to score the quantised model on, the accuracy "
                                                 "(or R^2) change reported: ")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    if not args.onnx and not args.c_dir:
        raise CommandError("nothing to do: give --onnx FILE and/or --c DIR")
    check_output(args.onnx, "--onnx", inputs=[args.model])
    if args.int8 and not args.c_dir:
        raise CommandError("--int8 is for the C export: give --c DIR")
    if args.data and not args.int8:
        raise CommandError("--data scores the int8 export: give --int8 with it")
    if args.c_dir and not os.path.isdir(args.c_dir):
        raise CommandError(f"--c {args.c_dir} is not a directory" if os.path.exists(args.c_dir)
                           else f"there is no directory {args.c_dir} (--c)")
    from ..export import to_c, to_onnx
    from ..export.c import check_name

    if args.c_dir:
        check_name(args.name)  # before any file is written
    model = load(args.model)
    if args.onnx:
        try:
            to_onnx(model, args.onnx)
        except ImportError as exc:  # the onnx package is missing: the message says what to install
            raise CommandError(str(exc)) from None
        print(f"wrote {args.onnx} ({os.path.getsize(args.onnx):,} bytes)")
    if args.c_dir:
        table = read_data(args.data, args.target, header=args.header or "auto") if args.data else None
        written = to_c(model, args.c_dir, name=args.name, int8=args.int8)
        for path in (written.header, written.source):
            print(f"wrote {path} ({os.path.getsize(path):,} bytes)")
        if args.int8:
            _report_int8(model, table, args.data)


def _report_int8(model: Sequential, table: Optional[Table], data_name: Optional[str]) -> None:
    """The weights' bytes in both forms and, on data, the metric before and after quantisation."""
    from ..export import quantized_copy

    params = model.parameters()
    weights = sum(params[k].size for k in params if k.startswith("W"))
    outputs = sum(params[k].size for k in params if k.startswith("b"))  # one scale per output channel
    itemsize = np.dtype(model.dtype).itemsize
    print(f"weights: {weights + outputs * itemsize:,} bytes as int8 with scales "
          f"({weights * itemsize:,} bytes as {model.dtype})")
    if table is None:
        print("no --data: the accuracy change was not measured")
        return
    if table.y is None:
        raise CommandError(f"{data_name} has no target column to score on")
    if model.task is None:
        raise CommandError("the model was never fitted: there is no accuracy to compare")
    X = table.X
    if X.shape[1] != model.n_inputs:
        raise CommandError(f"{data_name} has {X.shape[1]} feature columns but the model takes {model.n_inputs}")
    before = model.evaluate(X, table.y)
    after = quantized_copy(model).evaluate(X, table.y)
    metric = "accuracy" if "accuracy" in before else "r2"
    print(f"{metric} on {data_name} ({len(X):,} rows): {before[metric]:.4f} as {model.dtype}, "
          f"{after[metric]:.4f} with int8 weights ({after[metric] - before[metric]:+.4f})")

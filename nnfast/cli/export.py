"""``nnfast export``: a saved model as an ONNX graph and/or dependency-free C source."""

from __future__ import annotations

import argparse
import os
from typing import Dict, List, Optional, Tuple

import numpy as np

from ..io import load
from ..model import Sequential
from .common import CommandError, check_columns, check_output, first_line
from .readers import Table, add_data_arguments, read_data


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write a saved model as ONNX or as C source",
                       description="Write a saved model as an ONNX graph (--onnx, needs the onnx package: "
                                   "pip install 'nnfast[onnx]') and/or as C99 source that needs only <math.h> "
                                   "(--c DIR: DIR/NAME.h and DIR/NAME.c).")
    p.add_argument("model", help="a file written by nnfast train --out or model.save")
    p.add_argument("--onnx", metavar="FILE", help="write the ONNX graph here")
    p.add_argument("--c", metavar="DIR", dest="c_dir",
                   help="write NAME.h and NAME.c into this directory (created if missing)")
    p.add_argument("--name", help="with --c: the C prefix of the functions and the files' name (default: model)")
    p.add_argument("--int8", action="store_true",
                   help="C weights as int8 with a scale per output channel (activations stay floating point)")
    add_data_arguments(p, default=None, purpose="with --int8: data to score the quantised model on, the accuracy "
                                                 "(or R^2) change reported: ")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> None:
    """Check everything, compute everything, then write all files or none: a bad input
    or a failed write leaves no new file behind and the old ones as they were."""
    if not args.onnx and not args.c_dir:
        raise CommandError("nothing to do: give --onnx FILE and/or --c DIR")
    into_new_c_dir = bool(args.onnx and args.c_dir and not os.path.exists(args.c_dir)
                          and os.path.abspath(os.path.dirname(args.onnx)) == os.path.abspath(args.c_dir))
    if not into_new_c_dir:  # else the directory --c creates takes it
        check_output(args.onnx, "--onnx", inputs=[args.model])
    if args.int8 and not args.c_dir:
        raise CommandError("--int8 is for the C export: give --c DIR")
    if args.name is not None and not args.c_dir:
        raise CommandError("--name is for the C export: give --c DIR")
    if args.data and not args.int8:
        raise CommandError("--data scores the int8 export: give --int8 with it")
    if args.c_dir and os.path.exists(args.c_dir) and not os.path.isdir(args.c_dir):
        raise CommandError(f"--c {args.c_dir} is not a directory")
    from ..export import CExport, c_source, to_onnx
    from ..export._files import make_directory, remove_directories, write_all
    from ..export.c import check_name

    name = check_name("model" if args.name is None else args.name) if args.c_dir else "model"
    paths = CExport.at(args.c_dir, name) if args.c_dir else None
    targets = ([("--onnx", args.onnx)] if args.onnx else []) + (
        [("--c", paths.header), ("--c", paths.source)] if paths else [])
    _check_targets(targets, args.model)
    model = load(args.model)
    report: List[str] = []
    if args.int8:
        table = read_data(args.data, args.target, header=args.header or "auto") if args.data else None
        report = _int8_report(model, table, args.data, args.model)
    files: List[Tuple[str, bytes]] = []
    if args.onnx:
        try:
            files.append((args.onnx, to_onnx(model).SerializeToString()))
        except ImportError as exc:  # the onnx package is missing: the message says what to install
            raise CommandError(str(exc)) from None
    if paths:
        header, source = c_source(model, name, int8=args.int8)
        files += [(paths.header, header.encode("ascii")), (paths.source, source.encode("ascii"))]
    made = make_directory(args.c_dir) if args.c_dir else []
    try:
        write_all(files)
    except OSError as exc:
        remove_directories(made)
        raise CommandError(first_line(exc)) from None
    for path, data in files:
        print(f"wrote {path} ({len(data):,} bytes)")
    for line in report:
        print(line)


def _check_targets(targets: List[Tuple[str, str]], model_file: str) -> None:
    """Refuse outputs that are one file (``--onnx d/model.h`` with ``--c d``), the model
    file read, or a directory."""
    seen: Dict[str, str] = {}
    for option, path in targets:
        real = os.path.realpath(path)
        if real in seen:
            raise CommandError(f"{option} would write {path}, which {seen[real]} writes too: give another path")
        seen[real] = option
        if os.path.exists(path) and os.path.samefile(path, model_file):
            raise CommandError(f"{option} would write {path}, the model file the command reads: give another path")
        if os.path.isdir(path):
            raise CommandError(f"{option} would write {path}, which is a directory")
        if os.path.exists(path) and not os.path.isfile(os.path.realpath(path)):
            raise CommandError(f"{option} would write {path}, which is not a regular file (a device, a FIFO or a "
                               f"socket): it is never replaced")


def _int8_report(model: Sequential, table: Optional[Table], data_name: Optional[str], model_file: str) -> List[str]:
    """The weights' bytes in both forms and, on data, the metric before and after
    quantisation (accuracy for classifiers, R^2 for regressors): lines to print once
    the files are written. Bad data raises CommandError here, before any file is."""
    from ..export import quantized_copy

    params = model.parameters()
    weights = sum(params[k].size for k in params if k.startswith("W"))
    outputs = sum(params[k].size for k in params if k.startswith("b"))  # one scale per output channel
    itemsize = np.dtype(model.dtype).itemsize
    lines = [f"weights: {weights + outputs * itemsize:,} bytes as int8 with scales "
             f"({weights * itemsize:,} bytes as {model.dtype})"]
    shown = "R^2" if model.task == "regression" else "accuracy"
    if table is None:
        return lines + [f"no --data: the {shown} change was not measured"]
    if table.y is None:
        raise CommandError(f"{data_name} has no target column to score on")
    if model.task is None:
        raise CommandError("the model was never fitted: there is nothing to score")
    several = model._targets is not None and model._targets.kind in ("continuous", "multilabel")
    if several and model.n_outputs > 1 and table.y.ndim == 1:
        raise CommandError(f"{model_file} predicts {model.n_outputs} values a row, but {data_name} gives one target "
                           f"column ({table.target}): give the {model.n_outputs} targets as array y, shape (rows, "
                           f"{model.n_outputs}), of an .npz file (with X)")
    check_columns(model, table.X, table.feature_names, str(data_name), model_file)
    try:
        before = model.evaluate(table.X, table.y)
        after = quantized_copy(model).evaluate(table.X, table.y)
    except (TypeError, ValueError) as exc:  # labels the model never saw, a target of the wrong shape
        raise CommandError(f"cannot score {model_file} on {data_name}: {first_line(exc)}") from None
    metric = "accuracy" if "accuracy" in before else "r2"
    return lines + [f"{shown} on {data_name} ({len(table.X):,} rows): {before[metric]:.4f} as {model.dtype}, "
                    f"{after[metric]:.4f} with int8 weights ({after[metric] - before[metric]:+.4f})"]

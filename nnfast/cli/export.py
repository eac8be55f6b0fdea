"""``nnfast export``: a saved model as an ONNX graph and/or dependency-free C source."""

from __future__ import annotations

import os

from ..io import load
from .common import CommandError, check_output


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a saved model as ONNX or as C source",
                       description="Write a saved model as an ONNX graph (--onnx, needs the onnx package: "
                                   "pip install 'nnfast[onnx]') and/or as C99 source that needs only <math.h> "
                                   "(--c DIR: DIR/NAME.h and DIR/NAME.c).")
    p.add_argument("model", help="a file written by nnfast train --out or model.save")
    p.add_argument("--onnx", metavar="FILE", help="write the ONNX graph here")
    p.add_argument("--c", metavar="DIR", dest="c_dir", help="write NAME.h and NAME.c into this directory")
    p.add_argument("--name", default="model",
                   help="the C prefix of the functions and the files' name (default: model)")
    p.set_defaults(run=run)


def run(args) -> None:
    if not args.onnx and not args.c_dir:
        raise CommandError("nothing to do: give --onnx FILE and/or --c DIR")
    check_output(args.onnx, "--onnx")
    if args.c_dir and not os.path.isdir(args.c_dir):
        raise CommandError(f"--c {args.c_dir} is not a directory" if os.path.exists(args.c_dir)
                           else f"there is no directory {args.c_dir} (--c)")
    model = load(args.model)
    if args.onnx:
        try:
            from ..export import to_onnx
        except ImportError as exc:
            raise CommandError(str(exc)) from None
        try:
            to_onnx(model, args.onnx)
        except ImportError as exc:
            raise CommandError(str(exc)) from None
        print(f"wrote {args.onnx} ({os.path.getsize(args.onnx):,} bytes)")
    if args.c_dir:
        from ..export import to_c

        written = to_c(model, args.c_dir, name=args.name)
        for path in (written.header, written.source):
            print(f"wrote {path} ({os.path.getsize(path):,} bytes)")

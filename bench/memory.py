"""Peak memory of training: how much nnfast adds on top of the data it is given.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/memory.py [--rows 60000] [--threads 1 2]

Each case runs in a fresh process: the data is made (float32, C-ordered, int labels), nnfast
is imported and one tiny model trained (so code pages and thread stacks are resident), then
the resident set is read (VmRSS) and its peak reset (writing 5 to /proc/self/clear_refs), and
one MNIST-shaped epoch is trained (784-256-128-10, Adam, batch 128, with and without a
validation set of 10,000 rows, at most a sixth of the rows). The peak (VmHWM) minus the
resident set before training is what training added. For scale: the parameters, their
gradient and Adam's two moments are 4 x 235,146 x 4 bytes = 3.8 MB; the one-hot targets
60,000 x 10 x 4 bytes = 2.4 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys


def _status(field: str) -> float:
    """A /proc/self/status field in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def child(rows: int, threads: int, validation: bool) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 784)).astype(np.float32)
    y = rng.integers(0, 10, rows)
    n_val = min(10_000, rows // 6)
    Xv, yv = X[:n_val].copy(), y[:n_val].copy()
    import nnfast as nf

    nf.set_num_threads(threads)
    nf.train(nf.Hyperparameters(hidden=(8,), epochs=1), X[:256], y[:256])  # warm: code and thread stacks
    hp = nf.Hyperparameters(hidden=(256, 128), optimizer="adam", lr=1e-3, batch_size=128, epochs=1, patience=None)
    data_mb = (X.nbytes + y.nbytes + (Xv.nbytes + yv.nbytes if validation else 0)) / 2**20
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak resident set to the current one
    before = _status("VmRSS")
    model, _ = nf.train(hp, X, y, validation=(Xv, yv) if validation else None)
    peak = _status("VmHWM")
    print(json.dumps({"validation_rows": n_val if validation else 0, "data_mb": data_mb, "before_mb": before, "peak_mb": peak, "added_mb": peak - before}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=60_000)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--child", nargs=3, metavar=("ROWS", "THREADS", "VALIDATION"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(int(args.child[0]), int(args.child[1]), args.child[2] == "1")
        return 0
    print(f"MNIST-shaped training, {args.rows:,} x 784 float32, one epoch; memory in MB")
    print(f"{'threads':>7} {'validation':>11} {'data':>8} {'RSS before':>10} {'peak':>8} {'added':>8}")
    for threads in args.threads:
        for validation in (False, True):
            out = subprocess.run([sys.executable, __file__, "--child", str(args.rows), str(threads),
                                  "1" if validation else "0"], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows = f"{r['validation_rows']:,} rows" if validation else "none"
            print(f"{threads:>7} {rows:>11} {r['data_mb']:>8.1f} "
                  f"{r['before_mb']:>10.1f} {r['peak_mb']:>8.1f} {r['added_mb']:>8.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

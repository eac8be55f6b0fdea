"""How fast the command line reads a CSV file, and how much memory it takes.

Writes a CSV of about 46 MB (166,000 rows of 30 features with six significant digits
and a class label, one header row) and reads it with each path of
``nnfast.cli.readers``: pandas (used when installed), NumPy (used otherwise) and the
plain-Python pass (used only for files both refuse), plus the reader the command line
had before issue 11 (Python's csv module, a list of rows, ``float`` per field), kept
here as the baseline. Each read runs in a fresh process; the memory figure is the rise
of the process's peak resident size over what it held after its imports.

    python bench/read_csv.py [--rows 166000] [--repeat 2] [--keep FILE]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap

import numpy as np

CHILD = textwrap.dedent("""
    import csv, resource, sys, time
    import numpy as np
    from nnfast.cli import readers
    how, path = sys.argv[1], sys.argv[2]

    def stdlib_csv(path):  # the reader before issue 11
        with open(path, newline="") as f:
            rows = [row for row in csv.reader(f) if row]
        header, rows = rows[0], rows[1:]
        X = np.array([[float(v) for v in r[:-1]] for r in rows])
        y = np.array([float(r[-1]) for r in rows])
        return X, y

    if how == "pandas":
        import pandas  # noqa: F401  (imported before the baseline, as a command that uses it would)
    elif how == "numpy":
        readers._pandas = lambda: None
    elif how == "python":
        readers._parse_fast = lambda layout: None
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    X, y = stdlib_csv(path) if how == "stdlib-csv" else readers.read_table(path)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{seconds:.3f} {(peak - before) / 1024:.0f} {X.shape[0]} {X.shape[1]} {X.nbytes / 2**20:.0f}")
""")

READERS = [("stdlib-csv", "Python csv module (before issue 11)"), ("python", "plain-Python pass (fallback)"),
           ("numpy", "NumPy loadtxt (no pandas)"), ("pandas", "pandas (when installed)")]


def write_csv(path: str, rows: int, features: int = 30, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    with open(path, "w") as f:
        f.write(",".join(f"x{i}" for i in range(features)) + ",label\n")
        for start in range(0, rows, 10_000):
            X = rng.standard_normal((min(10_000, rows - start), features))
            y = rng.integers(0, 10, len(X))
            f.write("\n".join(",".join(f"{v:.6g}" for v in row) + f",{label}" for row, label in zip(X, y)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=166_000)
    parser.add_argument("--repeat", type=int, default=2, help="reads per path; the fastest is shown")
    parser.add_argument("--keep", help="write the CSV here and keep it (default: a temporary file)")
    args = parser.parse_args()
    directory = tempfile.mkdtemp()
    path = args.keep or os.path.join(directory, "bench.csv")
    if not os.path.exists(path):
        write_csv(path, args.rows)
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB")
    results = {}
    for how, label in READERS:
        if how == "pandas":
            try:
                import pandas  # noqa: F401
            except ImportError:
                print(f"{label:<40} skipped: pandas is not installed")
                continue
        runs = []
        for _ in range(args.repeat):
            out = subprocess.run([sys.executable, "-c", CHILD, how, path], capture_output=True, text=True, check=True)
            runs.append(out.stdout.split())
        seconds = min(float(r[0]) for r in runs)
        memory = min(int(r[1]) for r in runs)
        rows, cols, x_mb = runs[0][2:]
        results[how] = (seconds, memory)
        print(f"{label:<40} {seconds:7.2f} s   peak +{memory:4d} MB   (X {rows} x {cols}, {x_mb} MB)")
    base = results["stdlib-csv"]
    for how, label in READERS[1:]:
        if how in results:
            seconds, memory = results[how]
            print(f"{label:<40} {base[0] / seconds:5.1f}x faster, {base[1] / max(memory, 1):5.1f}x less memory "
                  f"than before")
    if not args.keep:
        os.unlink(path)
        os.rmdir(directory)


if __name__ == "__main__":
    main()

"""Cost of ``import nnfast`` over ``import numpy`` (issue 13: at most 40 ms more).

``import nnfast`` no longer imports NumPy (its modules that need it load on first
use), so the script also times ``import numpy, nnfast`` (nnfast's cost on top of
NumPy, which any use of nnfast pays) and ``import nnfast`` followed by ``nnfast.train``
(the whole training API loaded, NumPy included).

Each import runs in a fresh interpreter (``python -c "import X"``, timed inside the
child with ``time.perf_counter`` around the import, so interpreter start-up is not
counted); the best of ``--repeat`` runs (default 10) is reported for each. Then one
``python -X importtime -c "import nnfast"`` run lists the modules with the largest
self time (microseconds, as ``-X importtime`` prints them) and cumulative time.

Run: ``python bench/import_time.py [--repeat 10] [--top 15]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys

CHILD = "import time; t = time.perf_counter(); {0}; print(time.perf_counter() - t)"


def best_of(statement: str, repeat: int) -> float:
    """Best time of ``statement`` (an import) in seconds over ``repeat`` fresh processes."""
    times = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", CHILD.format(statement)], check=True, capture_output=True,
                             text=True).stdout
        times.append(float(out.strip().splitlines()[-1]))
    return min(times)


def top_offenders(module: str, top: int) -> list[tuple[int, int, str]]:
    """(self µs, cumulative µs, name) of the ``top`` slowest imports by self time."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], check=True,
                         capture_output=True, text=True).stderr
    rows = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line[len("import time:"):].split("|"))
        rows.append((int(self_us), int(cumulative_us), name))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    numpy_s = best_of("import numpy", args.repeat)
    print(f"best of {args.repeat} fresh processes")
    print(f"{'import numpy':34}: {numpy_s * 1e3:6.1f} ms")
    for statement in ("import nnfast", "import numpy, nnfast", "import nnfast; nnfast.train"):
        took = best_of(statement, args.repeat)
        print(f"{statement:34}: {took * 1e3:6.1f} ms, {(took - numpy_s) * 1e3:+6.1f} ms over numpy "
              f"(target: at most +40 ms)")
    print(f"\npython -X importtime -c 'import nnfast': top {args.top} by self time")
    print(f"{'self ms':>8} {'cumul ms':>9}  module")
    for self_us, cumulative_us, name in top_offenders("nnfast", args.top):
        print(f"{self_us / 1e3:8.1f} {cumulative_us / 1e3:9.1f}  {name}")


if __name__ == "__main__":
    main()

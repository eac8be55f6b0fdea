"""How long `nnfast report` takes on the README's 20-trial digits study kept in SQLite.

    python bench/report_time.py [--repeats 3] [--study /path/to/study.db]

Builds the study once (`nnfast tune --storage ... --jobs 2`, seeded: Bayesian search, 20
trials, the built-in space, on the digits), unless --study names one, then times
`nnfast report study.db` in fresh processes (imports included, as a user waits for them)
and, in one process, where the time of a report goes: loading the study, each figure
(drawn and encoded as PNG) and the importances.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

#: the command line, as the nnfast script runs it
CLI = "import sys; from nnfast.cli import main; sys.exit(main(sys.argv[1:]))"


def build(directory: str) -> str:
    path = os.path.join(directory, "digits.db")
    subprocess.run([sys.executable, "-c", CLI, "tune", "--storage", path, "--jobs", "2"],
                   check=True, cwd=directory, stdout=subprocess.DEVNULL)
    return path


def breakdown(path: str) -> None:
    from nnfast import tune
    from nnfast.tune import plots, report

    t0 = time.perf_counter()
    study = tune.load_study(path)
    t1 = time.perf_counter()
    print(f"  load the study        {t1 - t0:6.2f} s")
    t = time.perf_counter()
    study.importances()
    print(f"  importances           {time.perf_counter() - t:6.2f} s")
    for name in ("plot_history", "plot_curves", "plot_pareto", "plot_importances"):
        t = time.perf_counter()
        fig = report._detached(getattr(plots, name), study)
        drawn = time.perf_counter()
        report._png(fig)
        print(f"  {name:<20}  {drawn - t:6.2f} s drawn, {time.perf_counter() - drawn:5.2f} s PNG")
    t = time.perf_counter()
    report.render_report(study)
    print(f"  whole report, warm    {time.perf_counter() - t:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--study", help="an existing study file (default: build the README's study)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        path = args.study or build(directory)
        out = os.path.join(directory, "report.html")
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", CLI, "report", path, "--out", out], check=True,
                           cwd=directory, stdout=subprocess.DEVNULL)
            times.append(time.perf_counter() - t)
        print(f"nnfast report, {args.repeats} fresh processes: median {statistics.median(times):.2f} s "
              f"(min {min(times):.2f}, max {max(times):.2f}), report {os.path.getsize(out) / 1e3:.0f} kB")
        print("in one process:")
        breakdown(path)


if __name__ == "__main__":
    main()

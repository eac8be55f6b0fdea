"""A tuning study with SQLite storage against the same study in memory, side by side.

Storage used to cost a commit per epoch of every trial (a 20-trial study of small networks:
0.38 s in memory, 3.2 s stored). The driver now writes each finished trial once, in one
insert into the study file's journal (nnfast/tune/storage.py). Target: the stored study
takes at most 1.15x the in-memory one.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/tune_storage.py [--repeats 7]

Two workloads, each a seeded study (the same trials in both runs):
  readme   the README's study, `nnfast tune --storage digits.db --jobs 2`: Bayesian search,
           20 trials, the built-in space, two at a time, on the digits' non-test rows
  grid20   a grid of 20 fast trials: 16 hidden units, 20 epochs, no early stopping, no
           pruning, one at a time (each trial a few milliseconds: storage has nowhere to hide)

Runs alternate (memory, storage, memory, ...) after one warm-up of each, in this process,
with a new database file per stored run; the table gives the medians and their ratio, and
the warm-up runs (the first of the process) are reported apart.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import nnfast as nf
from nnfast import tune
from nnfast.cli import DEFAULT_SPACE, TUNE_BASE, space_from_data


def readme_study():
    X, y = nf.data.load_digits()
    X_rest, _, y_rest, _ = nf.data.train_test_split(X, y, test_size=0.2, seed=0)
    hp = nf.Hyperparameters(**TUNE_BASE)
    space = space_from_data(DEFAULT_SPACE)
    return dict(hp=hp, space=space, train=(X_rest, y_rest), strategy="bayes", n_trials=20, n_jobs=2, seed=0)


def grid_study():
    X, y = nf.data.load_digits()
    hp = nf.Hyperparameters(hidden=(16,), epochs=20, standardize=True)
    space = {"lr": tune.choice([1e-3, 2e-3, 5e-3, 1e-2, 2e-2]), "batch_size": tune.choice([32, 64, 128, 256])}
    return dict(hp=hp, space=space, train=(X, y), strategy="grid", n_jobs=1, seed=0, pruning=False)


WORKLOADS = {"readme": readme_study, "grid20": grid_study}


def timed(study, storage):
    kwargs = dict(study)
    hp, space = kwargs.pop("hp"), kwargs.pop("space")
    start = time.perf_counter()
    result = tune.search(hp, space, storage=storage, progress=False, **kwargs)
    seconds = time.perf_counter() - start
    return seconds, [(t.params, t.state, t.score) for t in result.trials]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "tune_storage.json"))
    args = parser.parse_args()
    print(f"nnfast {nf.__version__}; {nf.blas_info()}; {os.cpu_count()} CPUs; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    results = {}
    with tempfile.TemporaryDirectory() as where:
        files = (os.path.join(where, f"study-{i}.db") for i in range(10**6))
        for name in args.workloads:
            study = WORKLOADS[name]()
            first_memory, trials_memory = timed(study, None)
            first_stored, trials_stored = timed(study, next(files))
            if trials_memory != trials_stored:
                print(f"{name}: the stored study ran other trials than the in-memory one", file=sys.stderr)
                return 1
            memory, stored = [], []
            for _ in range(args.repeats):
                memory.append(timed(study, None)[0])
                stored.append(timed(study, next(files))[0])
            m, s = statistics.median(memory), statistics.median(stored)
            results[name] = {"memory": memory, "storage": stored, "median_memory": m, "median_storage": s,
                             "ratio": s / m, "first_memory": first_memory, "first_storage": first_stored,
                             "trials": len(trials_memory)}
    print(f"\n{'workload':<10} {'trials':>6} {'memory s':>9} {'storage s':>10} {'ratio':>6}  (medians of "
          f"{args.repeats}; target ratio <= 1.15)")
    for name, r in results.items():
        print(f"{name:<10} {r['trials']:>6} {r['median_memory']:>9.3f} {r['median_storage']:>10.3f} "
              f"{r['ratio']:>6.2f}  min/max memory {min(r['memory']):.3f}/{max(r['memory']):.3f}, "
              f"storage {min(r['storage']):.3f}/{max(r['storage']):.3f}")
    warm = results[args.workloads[0]]
    print(f"\nfirst runs of the process: {warm['first_storage']:.2f} s stored, {warm['first_memory']:.2f} s in memory")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

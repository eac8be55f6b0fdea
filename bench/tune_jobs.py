"""What n_jobs buys a study: the same grid of configurations on one and on two jobs.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/tune_jobs.py [--epochs 30]

A 12-point grid (hidden width x learning rate x batch size) on the bundled digits, fixed
epochs, no early stopping and no pruning, so every run trains exactly the same work. Runs:
one job (its trials may use every core through nnfast's own threads, which on these small
batches mostly stay on one); two jobs on threads (the default executor: training releases
the GIL, each trial gets cores / 2 nnfast threads); two jobs on processes (spawned, so each
pays an interpreter start and imports). Wall time of the whole study, in memory.

    python bench/tune_jobs.py --ship [--repeat 3]

Shipping the data to the workers: an 80 MB X (200,000 x 100 float32) and 8 one-epoch
trials on two jobs, on threads, processes and a local Dask cluster (two worker processes,
started before the clock). Before issue 13 every trial carried its own pickled copy of the
data; now each worker receives it once.
"""

from __future__ import annotations

import argparse
import sys
import time

import nnfast as nf
from nnfast import tune


def ship(repeat: int) -> int:
    """Threads, processes and Dask on the 80 MB workload, ``repeat`` rounds (ratios to threads
    within each round: the machine is shared)."""
    import warnings

    import numpy as np
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 100), dtype=np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    hp = nf.Hyperparameters(hidden=(16,), epochs=1, batch_size=512, patience=None, seed=0)
    space = {"lr": tune.loguniform(1e-4, 1e-1)}
    kwargs = dict(train=(X, y), strategy="random", n_trials=8, n_jobs=2, pruning=False, progress=False, seed=0)
    print(f"X {X.nbytes / 1e6:.0f} MB, 8 one-epoch trials, 2 jobs")
    try:
        import distributed
    except ImportError:
        distributed = None
        print("  (distributed not installed: no Dask run)")
    cluster = client = None
    if distributed is not None:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None)
        client = distributed.Client(cluster)
    try:
        for round_ in range(repeat):
            seconds = {}
            runs = [("threads", "threads"), ("processes", "processes")]
            if client is not None:
                runs.append(("dask", client.get_executor()))
            for name, executor in runs:
                start = time.perf_counter()
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    tune.search(hp, space, executor=executor, **kwargs)
                seconds[name] = time.perf_counter() - start
                big = [str(w.message)[:70] for w in caught if "large" in str(w.message).lower()]
                note = f"   warned: {big[0]}..." if big else ""
                print(f"  round {round_ + 1}: {name:<10} {seconds[name]:6.2f} s  "
                      f"({seconds[name] / seconds['threads']:.2f}x threads){note}", flush=True)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--ship", action="store_true", help="the 80 MB shipping workload instead")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of --ship")
    args = ap.parse_args()
    if args.ship:
        return ship(args.repeat)
    X, y = nf.data.load_digits()
    hp = nf.Hyperparameters(epochs=args.epochs, patience=None, standardize=True, seed=0)
    space = {"hidden": tune.choice([(128,), (256, 128)]), "lr": tune.choice([1e-3, 3e-3, 1e-2]),
             "batch_size": tune.choice([32, 128])}
    runs = [("1 job", 1, None), ("2 jobs, threads", 2, None), ("2 jobs, processes", 2, "processes")]
    print(f"digits, 12-point grid, {args.epochs} epochs each, pruning off")
    seconds = {}
    for name, jobs, executor in runs:
        start = time.perf_counter()
        study = tune.search(hp, space, train=(X, y), strategy="grid", n_jobs=jobs, executor=executor,
                            pruning=False, progress=False)
        seconds[name] = time.perf_counter() - start
        trained = sum(t.seconds for t in study.trials)
        print(f"  {name:<18} {seconds[name]:6.2f} s   (sum of trial times {trained:6.2f} s, "
              f"speed-up over 1 job {seconds['1 job'] / seconds[name]:.2f}x)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

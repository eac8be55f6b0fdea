"""nnfast.tune against scikit-learn's RandomizedSearchCV over MLPClassifier, side by side.

Same data (the bundled digits), same train/validation split, same trial budget, same
search space, both with two jobs; each candidate is trained once on the training part and
scored on the validation part (RandomizedSearchCV with a PredefinedSplit), so "best on
validation" means the same thing for both. The test part is looked at once, for the
winner of each.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/tune_vs_sklearn.py [--trials 30] [--jobs 2] [--seeds 0 1 2 3 4 5] [--cv 5]

With ``--cv K`` both select by K-fold cross-validation instead: the training and
validation parts together are cut into the same K stratified, shuffled folds (scikit-learn's
``StratifiedKFold(K, shuffle=True, random_state=seed)``, which is also what
``tune.search(..., cv=K, seed=seed)`` cuts), nnfast scores each trial by the mean over its
folds (``tune.search(..., cv=K)``) and RandomizedSearchCV by ``cv=`` those folds, its usual
protocol; each winner is then refit on all of train + validation.

Each seed is a separate side-by-side run (its own split, sampler seeds and initial
weights); the wall time of a 30-trial study depends a lot on which configurations the
sampler tries first, so one seed says little.

The space, in both systems:
  hidden layers       (64,), (128,), (256,), (128, 64), (256, 128)
  activation          relu, tanh
  learning rate       log-uniform 1e-4 .. 3e-2 (Adam)
  L2 penalty          log-uniform; sklearn's alpha scales the penalty by 1 / batch size
                      (each Adam step's cost is the batch's mean loss + alpha/2 |W|^2 / B;
                      sklearn/neural_network/_multilayer_perceptron.py, _backprop, with
                      B the rows of the batch), so alpha in 1e-4 .. 1 over batches of
                      32 .. 128 is nnfast's l2 in 1e-4/128 .. 1/32
  batch size          32, 64, 128
  epochs              at most 200 (MLPClassifier's default max_iter) for both, each
                      stopping on its training cost by scikit-learn's rule: an epoch
                      counts as an improvement when the cost beats the best so far by
                      1e-4, and training stops after 11 epochs without one (sklearn:
                      tol=1e-4, n_iter_no_change=10, which stops when the count passes
                      10; nnfast: min_delta=1e-4, improvement_over="best", patience=11).
                      Neither lets the validation data steer a trial's training; both
                      score a trial on it (nnfast: the mean over the last 5 epochs,
                      sklearn: after the last epoch)

The winner of each is refit on train + validation by the same procedure it was scored
with (nnfast: study.refit; sklearn: the same estimator, fit again) and looked at once on
the test part.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np

import nnfast as nf
from nnfast import tune

EPOCHS = 200  # the most epochs either system may train a configuration for


def nnfast_search(X_tr, y_tr, X_val, y_val, trials, jobs, seed, cv=None, strategy="bayes"):
    hp = nf.Hyperparameters(epochs=EPOCHS, patience=11, min_delta=1e-4, improvement_over="best", standardize=True,
                            seed=seed)
    space = {
        "hidden": tune.choice([(64,), (128,), (256,), (128, 64), (256, 128)]),
        "activation": tune.choice(["relu", "tanh"]),
        "lr": tune.loguniform(1e-4, 3e-2),
        "l2": tune.loguniform(1e-4 / 128, 1.0 / 32),
        "batch_size": tune.choice([32, 64, 128]),
    }
    start = time.perf_counter()
    if cv:
        study = tune.search(hp, space, train=(np.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val])), cv=cv,
                            strategy=strategy, n_trials=trials, n_jobs=jobs, seed=seed, progress=False)
    else:
        study = tune.search(hp, space, train=(X_tr, y_tr), validation=(X_val, y_val), strategy=strategy,
                            n_trials=trials, n_jobs=jobs, seed=seed, progress=False)
    seconds = time.perf_counter() - start
    return study, seconds


def sklearn_search(X_tr, y_tr, X_val, y_val, trials, jobs, seed, cv=None):
    from scipy.stats import loguniform
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV, StratifiedKFold
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.vstack([X_tr, X_val])
    y = np.concatenate([y_tr, y_val])
    fold = np.concatenate([np.full(len(X_tr), -1), np.zeros(len(X_val), dtype=int)])  # train once, score on val
    pipe = make_pipeline(StandardScaler(), MLPClassifier(solver="adam", max_iter=EPOCHS, n_iter_no_change=10,
                                                         random_state=seed))
    space = {
        "mlpclassifier__hidden_layer_sizes": [(64,), (128,), (256,), (128, 64), (256, 128)],
        "mlpclassifier__activation": ["relu", "tanh"],
        "mlpclassifier__learning_rate_init": loguniform(1e-4, 3e-2),
        "mlpclassifier__alpha": loguniform(1e-4, 1.0),
        "mlpclassifier__batch_size": [32, 64, 128],
    }
    splits = StratifiedKFold(cv, shuffle=True, random_state=seed) if cv else PredefinedSplit(fold)
    search = RandomizedSearchCV(pipe, space, n_iter=trials, cv=splits, n_jobs=jobs,
                                random_state=seed, refit=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    seconds = time.perf_counter() - start
    return search, seconds


def side_by_side(trials, jobs, seed, cv=None):
    """One run of both searches on one split; returns the numbers for the table."""
    from sklearn.base import clone

    X, y = nf.data.load_digits()
    X_tr, X_val, X_te, y_tr, y_val, y_te = nf.data.train_val_test_split(X, y, val_size=0.2, test_size=0.2,
                                                                        seed=seed)
    study, nn_seconds = nnfast_search(X_tr, y_tr, X_val, y_val, trials, jobs, seed, cv)
    best = study.best()
    study.refit(np.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val]))  # by the procedure it was scored with
    nn_test = study.test(X_te, y_te)["accuracy"]

    search, sk_seconds = sklearn_search(X_tr, y_tr, X_val, y_val, trials, jobs, seed, cv)
    winner = clone(search.estimator).set_params(**search.best_params_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        winner.fit(np.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val]))

    states = {}
    for t in study.trials:
        states[t.state] = states.get(t.state, 0) + 1
    return {"seed": seed, "ratio": sk_seconds / nn_seconds,
            "nnfast": {"val": best.score, "se": best.score_se, "contenders": len(study.contenders()),
                       "test": nn_test, "seconds": nn_seconds, "states": states,
                       "epochs": sum(t.epochs for t in study.trials), "best": best.hyperparameters.to_dict()},
            "sklearn": {"val": float(search.best_score_), "test": float(winner.score(X_te, y_te)),
                        "seconds": sk_seconds, "best": {k.split("__")[1]: v for k, v in search.best_params_.items()}}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4, 5])
    parser.add_argument("--cv", type=int, default=None, metavar="K",
                        help="select by K-fold cross-validation of train + validation, in both systems")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "tune_vs_sklearn.json"))
    args = parser.parse_args()
    try:
        import sklearn
    except ImportError:
        print("scikit-learn is not installed: pip install scikit-learn", file=sys.stderr)
        return 1

    selection = f"{args.cv}-fold CV of train + validation" if args.cv else "one validation split"
    print(f"digits, 60/20/20 split, selection by {selection}; {args.trials} trials, {args.jobs} jobs, seeds {args.seeds}; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"nnfast BLAS: {nf.blas_info()}; scikit-learn {sklearn.__version__}")
    print(f"\n{'seed':>4}  {'system':<28} {'best val acc':>12} {'test acc':>9} {'wall s':>8} {'ratio':>6}")
    runs = []
    for seed in args.seeds:
        run = side_by_side(args.trials, args.jobs, seed, args.cv)
        runs.append(run)
        nn, sk = run["nnfast"], run["sklearn"]
        print(f"{seed:>4}  {'nnfast.tune bayes (TPE)':<28} {nn['val']:>12.4f} {nn['test']:>9.4f} {nn['seconds']:>8.2f} "
              f"{run['ratio']:>5.1f}x   {nn['states']}, {nn['epochs']} epochs in all, "
              f"se {nn['se']:.4f}, {nn['contenders']} contender(s)")
        print(f"{'':>4}  {'sklearn RandomizedSearchCV':<28} {sk['val']:>12.4f} {sk['test']:>9.4f} {sk['seconds']:>8.2f}",
              flush=True)
    nn_total = sum(r["nnfast"]["seconds"] for r in runs)
    sk_total = sum(r["sklearn"]["seconds"] for r in runs)
    test_rows = len(nf.data.train_val_test_split(*nf.data.load_digits(), val_size=0.2, test_size=0.2)[2])
    samples = [round((r["nnfast"]["test"] - r["sklearn"]["test"]) * test_rows) for r in runs]
    nn_test = np.mean([r["nnfast"]["test"] for r in runs])
    sk_test = np.mean([r["sklearn"]["test"] for r in runs])
    print(f"\nall seeds: sklearn {sk_total:.1f} s / nnfast {nn_total:.1f} s = {sk_total / nn_total:.1f}x "
          f"(target >= 5x); per seed {min(r['ratio'] for r in runs):.1f}x .. {max(r['ratio'] for r in runs):.1f}x")
    print(f"test accuracy of the refit winners: nnfast {nn_test:.4f}, sklearn {sk_test:.4f} (target: nnfast >= "
          f"sklearn); nnfast - sklearn in test samples of {test_rows}, per seed: {samples} (target: none below -2)")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"trials": args.trials, "jobs": args.jobs, "cv": args.cv, "runs": runs, "ratio": sk_total / nn_total},
                  f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

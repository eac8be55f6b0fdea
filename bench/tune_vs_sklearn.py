"""nnfast.tune against scikit-learn's RandomizedSearchCV over MLPClassifier, side by side.

Same data (the bundled digits), same train/validation split, same trial budget, same
search space, both with two jobs; each candidate is trained once on the training part and
scored on the validation part (RandomizedSearchCV with a PredefinedSplit), so "best on
validation" means the same thing for both. The test part is looked at once, for the
winner of each.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python bench/tune_vs_sklearn.py [--trials 30] [--jobs 2]

The space, in both systems:
  hidden layers       (64,), (128,), (256,), (128, 64), (256, 128)
  activation          relu, tanh
  learning rate       log-uniform 1e-4 .. 3e-2 (Adam)
  L2 penalty          log-uniform; sklearn's alpha scales the penalty by 1 / n_train
                      (its cost is loss + alpha/2 |W|^2 / n), so alpha in 1e-4 .. 1
                      is nnfast's l2 in 1e-4/n .. 1/n
  batch size          32, 64, 128
  epochs              at most 200 (MLPClassifier's default max_iter) for both; each
                      stops by its own standard rule: nnfast after 5 epochs without a
                      better validation cost (early stopping, restoring the best
                      weights), sklearn after 10 epochs without a better training cost
                      (its default; it cannot watch an outside validation set)
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


def nnfast_search(X_tr, y_tr, X_val, y_val, trials, jobs, seed):
    n = len(X_tr)
    hp = nf.Hyperparameters(epochs=EPOCHS, patience=5, standardize=True, seed=seed)
    space = {
        "hidden": tune.choice([(64,), (128,), (256,), (128, 64), (256, 128)]),
        "activation": tune.choice(["relu", "tanh"]),
        "lr": tune.loguniform(1e-4, 3e-2),
        "l2": tune.loguniform(1e-4 / n, 1.0 / n),
        "batch_size": tune.choice([32, 64, 128]),
    }
    start = time.perf_counter()
    study = tune.search(hp, space, train=(X_tr, y_tr), validation=(X_val, y_val), strategy="bayes",
                        n_trials=trials, n_jobs=jobs, seed=seed, progress=False)
    seconds = time.perf_counter() - start
    return study, seconds


def sklearn_search(X_tr, y_tr, X_val, y_val, trials, jobs, seed):
    from scipy.stats import loguniform
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import PredefinedSplit, RandomizedSearchCV
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
    search = RandomizedSearchCV(pipe, space, n_iter=trials, cv=PredefinedSplit(fold), n_jobs=jobs,
                                random_state=seed, refit=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    seconds = time.perf_counter() - start
    return search, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "tune_vs_sklearn.json"))
    args = parser.parse_args()
    try:
        import sklearn
    except ImportError:
        print("scikit-learn is not installed: pip install scikit-learn", file=sys.stderr)
        return 1

    X, y = nf.data.load_digits()
    X_tr, X_val, X_te, y_tr, y_val, y_te = nf.data.train_val_test_split(X, y, val_size=0.2, test_size=0.2,
                                                                        seed=args.seed)
    print(f"digits: {len(X_tr)} train, {len(X_val)} validation, {len(X_te)} test; {args.trials} trials, "
          f"{args.jobs} jobs; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"nnfast BLAS: {nf.blas_info()}")

    study, nn_seconds = nnfast_search(X_tr, y_tr, X_val, y_val, args.trials, args.jobs, args.seed)
    best = study.best()
    study.refit(np.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val]))
    nn_test = study.test(X_te, y_te)["accuracy"]

    search, sk_seconds = sklearn_search(X_tr, y_tr, X_val, y_val, args.trials, args.jobs, args.seed)
    sk_best = float(search.best_score_)
    from sklearn.base import clone

    winner = clone(search.estimator).set_params(**search.best_params_)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        winner.fit(np.vstack([X_tr, X_val]), np.concatenate([y_tr, y_val]))
    sk_test = float(winner.score(X_te, y_te))

    states = {}
    for t in study.trials:
        states[t.state] = states.get(t.state, 0) + 1
    rows = [
        ("nnfast.tune bayes (TPE)", best.score, nn_test, nn_seconds),
        (f"sklearn {sklearn.__version__} RandomizedSearchCV", sk_best, sk_test, sk_seconds),
    ]
    print(f"\n{'system':<40} {'best val acc':>12} {'test acc':>9} {'wall s':>8}")
    for name, val, test, secs in rows:
        print(f"{name:<40} {val:>12.4f} {test:>9.4f} {secs:>8.2f}")
    ratio = sk_seconds / nn_seconds
    print(f"\nnnfast trials: {states}; best trial {best.number}: {best.hyperparameters}")
    print(f"sklearn best: {search.best_params_}")
    print(f"wall-time ratio sklearn / nnfast: {ratio:.1f}x (target >= 5x); "
          f"validation: nnfast {'>=' if best.score >= sk_best else '<'} sklearn")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"trials": args.trials, "jobs": args.jobs, "nnfast": {"val": best.score, "test": nn_test,
                   "seconds": nn_seconds, "states": states}, "sklearn": {"val": sk_best, "test": sk_test,
                   "seconds": sk_seconds}, "ratio": ratio}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

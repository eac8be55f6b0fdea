"""Smoke test of an installed nnfast: train, save, load, predict.

Run it from outside the source tree (so that ``import nnfast`` finds the installed
package, not the checkout), in an environment holding nnfast and its dependencies only:

    python tools/smoke_test.py [--sklearn] [--optuna]

``--sklearn`` and ``--optuna`` also fit an estimator and run a two-trial study with its
HTML report (for the lowest-dependency check, where those extras are installed). Prints
one line per step and exits non-zero on the first failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from importlib import metadata


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sklearn", action="store_true", help="also fit nnfast.sklearn.NNClassifier")
    parser.add_argument("--optuna", action="store_true", help="also run a two-trial tuning study and its report")
    args = parser.parse_args()

    import numpy as np

    import nnfast as nf

    here = os.path.dirname(os.path.abspath(nf.__file__))
    versions = {name: metadata.version(name) for name in ("nnfast", "numpy", "scipy-openblas32")}
    print(f"python {sys.version.split()[0]}; {versions}; nnfast from {here}")
    print(f"blas: {nf.blas_info()}")

    X, y = nf.data.load_digits()
    X_tr, X_te, y_tr, y_te = X[:1200], X[1200:], y[:1200], y[1200:]
    hp = nf.Hyperparameters(hidden=(64,), activation="relu", optimizer="adam", lr=3e-3, batch_size=32,
                            epochs=15, standardize=True, seed=0)
    model, history = nf.train(hp, X_tr, y_tr)
    accuracy = model.evaluate(X_te, y_te)["accuracy"]
    print(f"trained {len(history['loss'])} epochs; test accuracy {accuracy:.4f}")
    if not accuracy > 0.85:
        print("FAIL: test accuracy below 0.85", file=sys.stderr)
        return 1

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "digits.nnf")
        model.save(path)
        loaded = nf.load(path)
        same = np.array_equal(loaded.predict_proba(X_te), model.predict_proba(X_te))
        labels_same = np.array_equal(loaded.predict(X_te), model.predict(X_te))
    print(f"saved and loaded: predictions identical {same and labels_same}")
    if not (same and labels_same):
        print("FAIL: the loaded model predicts differently", file=sys.stderr)
        return 1

    if args.sklearn:
        from nnfast.sklearn import NNClassifier

        score = NNClassifier(hidden=(32,), epochs=10, seed=0).fit(X_tr, y_tr).score(X_te, y_te)
        print(f"sklearn NNClassifier score {score:.4f} (scikit-learn {metadata.version('scikit-learn')})")
        if not score > 0.8:
            print("FAIL: NNClassifier score below 0.8", file=sys.stderr)
            return 1

    if args.optuna:
        from nnfast import tune

        base = hp.replace(epochs=3)
        study = tune.search(base, {"lr": tune.loguniform(1e-3, 1e-2)}, train=(X_tr, y_tr), n_trials=2, seed=0,
                            progress=False)
        print(f"tuning study: {len(study.trials)} trials (optuna {metadata.version('optuna')})")
        if len(study.trials) != 2:
            print("FAIL: the study did not run two trials", file=sys.stderr)
            return 1
        with tempfile.TemporaryDirectory() as tmp:
            report = tune.write_report(study, os.path.join(tmp, "report.html"))
            size = os.path.getsize(report)
        print(f"study report: {size} bytes of HTML (matplotlib {metadata.version('matplotlib')})")

    print("smoke test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

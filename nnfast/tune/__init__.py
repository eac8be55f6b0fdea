"""Empirical hyperparameter tuning: search spaces, strategies, studies, learning-rate tools.

Needs the ``tune`` extra (``pip install "nnfast[tune]"``): Optuna, and matplotlib for plots.

>>> import nnfast as nf
>>> from nnfast import tune
>>> X, y = nf.data.load_digits()
>>> study = tune.search(nf.Hyperparameters(epochs=5, standardize=True),
...                     {"lr": tune.loguniform(1e-4, 1e-1), "hidden": tune.choice([(32,), (64,)])},
...                     train=(X, y), strategy="random", n_trials=3, progress=False)
>>> len(study.trials)
3
"""

try:
    import optuna  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError('nnfast.tune needs Optuna: pip install "nnfast[tune]"') from exc

from .lr import Comparison, LRRangeTest, compare, lr_range_test, verdict
from .report import summary_table, write_report
from .search import run_configurations, search
from .space import Space, choice, int, intlog, layers, loguniform, uniform  # noqa: A004
from .strategies import STRATEGIES, Bayes, Grid, Random, Strategy
from .storage import StudyBusyError, open_storage
from .study import Study, TrialRecord, load_study

__all__ = ["search", "run_configurations", "Study", "TrialRecord", "load_study", "open_storage", "StudyBusyError",
           "Space", "choice", "uniform", "loguniform", "int", "intlog", "layers", "STRATEGIES", "Strategy", "Grid",
           "Random", "Bayes", "lr_range_test", "LRRangeTest", "compare", "Comparison", "verdict", "write_report",
           "summary_table"]

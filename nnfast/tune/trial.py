"""One trial, as a worker runs it (the code is in :mod:`nnfast._trial`, which a worker
process imports without the tuning package and Optuna)."""

from .._trial import (SCORE_EPOCHS, STATES, TrialMonitor, TrialResult, TrialSpec, _carried,  # noqa: F401
                      _final_mean, merge_folds, objective_key, run_trial, score_standard_error)

__all__ = ["SCORE_EPOCHS", "STATES", "TrialMonitor", "TrialResult", "TrialSpec", "merge_folds", "objective_key",
           "run_trial", "score_standard_error"]

"""The driver of a search: ask the strategy, send trials to an executor, record results.

The driver samples and tells against an in-memory Optuna study (the *mirror*); a stored
study receives each trial once it has finished, whole, in one transaction. So storage
costs a write per trial, not per epoch, and never holds a running or half-recorded
trial: a study killed at any moment keeps every trial that was written, and a resumed
one re-runs only what was lost.

Trials are told in the order they were asked, whatever order they finish in, and trial
``k`` draws its values from a sampler seeded by the study's seed and ``k``; so a seeded
study gives the same trials on every run with the same ``n_jobs``, and a resumed or
extended study continues the sequence instead of replaying it.

Trials go out as plain data to any ``concurrent.futures.Executor`` (threads by default:
training releases the GIL) and come back as plain data; the study's data goes to each worker
of a process pool or Dask cluster once (:mod:`nnfast._ship`). Only the driver touches storage,
and one driver at a time (:class:`~nnfast.tune.storage.DriverLease`).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
from concurrent.futures.process import BrokenProcessPool
import contextlib
import dataclasses
import json
import math
import os
import threading
import warnings
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import (Any, Callable, Deque, Dict, Iterator, List, Literal, Mapping, Optional, Sequence, Set, TextIO,
                    Tuple, TypeVar, Union, cast)

import numpy as np
import optuna
from optuna.samplers import BaseSampler
from optuna.storages.journal import JournalStorage

from .. import __version__, _core
from .._convert import target_array
from .._settings import DTYPES
from .._targets import Targets, resolve_task
from .._validation import check_float, check_int, check_matrix
from ..data import fold_indices, split_indices
from ..hyperparams import Hyperparameters
from ._quiet import quiet_optuna
from .space import Choice, Space
from .storage import LEASE_INTERVAL, DriverLease, data_fingerprint, open_storage, sqlite_path, storage_url
from .strategies import STRATEGIES, Strategy
from .strategies.base import FixedSampler, PerTrialSampler, configuration_key, trial_seed
from .strategies.random import MAX_SHUFFLED_POINTS
from .study import RESULT_ATTR, SEARCH_ROWS_ATTR, SETTINGS_ATTR, Study, search_row_digests
from .._ship import WORKER_DIED, Pair, Pool, Shipment
from .trial import TrialResult, TrialSpec, merge_folds, objective_key

__all__ = ["search", "run_configurations", "make_folds"]

#: pruning waits for this many completed trials before comparing against their median
MIN_TRIALS_FOR_PRUNING = 5
#: the layout of what nnfast writes into a study; a resume needs the same
STUDY_FORMAT = 2
#: the study settings a resume must share with the stored study
RESUME_KEYS = ("space", "base", "strategy", "objective", "seed", "cv", "trial_timeout", "data", "metadata", "pruning",
               "warmup_epochs")
#: settings recorded since a later version: a study that lacks one resumes (what it ran with is unknown)
_LATER_KEYS = ("pruning", "warmup_epochs")
#: float: outside a terminal, a progress line at most this often (seconds)
PROGRESS_INTERVAL = 10.0

#: the validation pair of a study's data: None, None with cross-validation (the folds validate)
MaybePair = Tuple[Optional[np.ndarray], Optional[np.ndarray]]
#: what a study's executor is given: "threads", "processes" or a concurrent.futures.Executor
Executor = Union[str, cf.Executor, None]
#: a trial's result to come; a replayed (stored) trial's holds None
PendingFuture = Union["cf.Future[TrialResult]", "cf.Future[None]"]
#: a trial's sampled values and its configuration, from the trial (see search and run_configurations)
Propose = Callable[[optuna.trial.Trial], Tuple[Dict[str, Any], Hyperparameters]]
#: an Optuna study's direction
Direction = Literal["maximize", "minimize"]
T = TypeVar("T")


def _pair(data: Any, name: str) -> Tuple[Any, Any]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (X, y); sample weights do not enter a search")
    return data[0], data[1]


def _split(hp: Hyperparameters, X: Any, y: Any, validation: Optional[Tuple[Any, Any]], validation_size: float,
           seed: int, dtype: str, cv: Optional[int] = None) -> Tuple[Pair, MaybePair]:
    """Training and validation data, split when no validation data is given, checked as
    the base configuration would check them (bad data is an error before the first trial,
    not a failure of every trial), and X converted once to ``dtype``, before it is split (a
    frame's columns named in errors). The task is decided here, once for the study, as
    nnfast.train decides it (its warnings said once). With ``cv``, nothing is split off: the
    validation part is None and the folds are cut later (:func:`make_folds`)."""
    choice = hp.resolve_task(y, stacklevel=3)
    dt = np.dtype(DTYPES[dtype])
    X_arr, y_arr = check_matrix(X, "X", dt), target_array(choice.y)
    if len(X_arr) != len(y_arr):
        raise ValueError(f"X has {len(X_arr)} samples but y has {len(y_arr)}")
    # y as given, as training reads it (a categorical is no regression target), before it becomes arrays
    Targets(choice.loss).fit(choice.y).transform(choice.y, dt)
    if cv is not None:
        Targets(choice.loss).fit(y_arr).transform(y_arr, dt)
        return (X_arr, y_arr), (None, None)
    if validation is not None:
        X_val, y_val = _pair(validation, "validation")
        X, y = X_arr, y_arr
        X_val, y_val = check_matrix(X_val, "X_val", dt, X_arr.shape[1]), target_array(y_val, "y_val")
        if choice.task == "classification" and y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = resolve_task(y_val, loss=choice.loss, stacklevel=3).y
    else:
        strata = y_arr if choice.task == "classification" and y_arr.ndim == 1 else None
        train_rows, val_rows = split_indices(len(X_arr), [validation_size], seed, strata)
        (X, y), (X_val, y_val) = (X_arr[train_rows], y_arr[train_rows]), (X_arr[val_rows], y_arr[val_rows])
    targets = Targets(choice.loss).fit(y)
    targets.transform(y, dt)
    if len(targets.transform(y_val, dt, "y_val")) != len(X_val):
        raise ValueError(f"X_val has {len(X_val)} samples but y_val has {len(y_val)}")
    return (X, y), (X_val, y_val)


def describe_data(hp: Hyperparameters, X: Any, y: Any) -> Dict[str, Any]:
    """What a study's data is, beyond its fingerprint, so data given to the study later
    (:meth:`Study.rescore`, :meth:`Study.refit`) can be checked against it: the number of
    feature columns, a DataFrame's column names (as text; None for arrays) and the task
    training reads from ``y`` with ``hp`` ("classification" or "regression"), and for one
    column of class labels the classes (as text, sorted). JSON data."""
    from .._convert import pandas_kind

    columns = [str(c) for c in X.columns] if pandas_kind(X) == "frame" else None
    shape = getattr(X, "shape", None)
    if shape is None:
        shape = np.shape(X)
    features = int(shape[1]) if len(shape) == 2 else (1 if len(shape) == 1 else None)
    choice = hp.resolve_task(y, warn=False)
    classes = None
    labels = np.asarray(getattr(choice.y, "to_numpy", lambda: choice.y)())
    if choice.task == "classification" and labels.ndim == 1:
        try:
            classes = sorted({str(c) for c in np.unique(labels).tolist()})
        except TypeError:  # labels that do not sort: no classes to compare
            classes = None
    return {"features": features, "columns": columns, "task": choice.task, "classes": classes}


def check_same_data(recorded: Optional[Mapping[str, Any]], given: Mapping[str, Any], what: str, study: str) -> None:
    """Raise ValueError naming what differs between the data a study searched on
    (``recorded``, from :func:`describe_data`; None for a study written before nnfast
    recorded it: nothing to check) and the data given to ``what`` ("rescore", "refit",
    "test"): the number of feature columns, a DataFrame's column names (when both the
    study's data and the given data are frames: an array of a frame's values passes, its
    columns taken by position), the task, and the classes (a test set may lack some; data
    to rescore or refit on must hold exactly the study's)."""
    if not recorded:
        return
    differ = []
    if recorded.get("features") is not None and given.get("features") != recorded["features"]:
        differ.append(f"{given.get('features')} feature columns, where study {study!r} searched on "
                      f"{recorded['features']}")
    then, now = recorded.get("columns"), given.get("columns")
    if then is not None and now is not None and then != now and len(then) == len(now):
        j = next(i for i, (a, b) in enumerate(zip(then, now)) if a != b)
        differ.append(f"other column names (column {j}: {now[j]!r}, where the study's data has {then[j]!r})")
    if recorded.get("task") and given.get("task") != recorded["task"]:
        differ.append(f"targets of a {given.get('task')} task, where study {study!r} searched a "
                      f"{recorded['task']} task")
    then, now = recorded.get("classes"), given.get("classes")
    if then is not None and now is not None and not differ:
        # a test set may lack a class; data to train and score on must hold the study's classes
        unknown, missing = sorted(set(now) - set(then)), sorted(set(then) - set(now))
        if unknown or (missing and what != "test"):
            def listed(values: List[str]) -> str:
                return ", ".join(values[:8]) + (f" and {len(values) - 8} more" if len(values) > 8 else "")

            differ.append("classes " + "; ".join(
                ([f"{listed(unknown)} that the study never saw"] if unknown else [])
                + ([f"without {listed(missing)}"] if missing and what != "test" else []))
                + f" (study {study!r} searched on classes {listed(then)})")
    if differ:
        rows = "the test rows held out of that data" if what == "test" else "its training + validation rows"
        raise ValueError(f"{what} was given other data than study {study!r} searched on: "
                         + "; ".join(differ) + f"; give the data the study searched on ({rows})")


#: the largest seed of a study: the splitters and samplers it seeds take 32-bit seeds
MAX_SEED = 2**32 - 1


def make_folds(y: np.ndarray, k: int, seed: int, classification: bool) -> Tuple[List[np.ndarray], str]:
    """The validation rows of each of ``k`` folds of the training data, and the splitter's
    name: scikit-learn's ``StratifiedKFold`` (classes, 1-D labels) or ``KFold`` (shuffled,
    seeded with ``seed``) when scikit-learn is importable, else
    :func:`nnfast.data.fold_indices` (the same rules). The folds enter the study's data
    fingerprint, so a resume with other folds is refused.

    Raises
    ------
    ValueError
        For more folds than rows, or (classes) a class with fewer rows than folds.
    """
    n = len(y)
    strata = y if classification and y.ndim == 1 else None
    if k > n:
        raise ValueError(f"cv={k} folds need at least {k} rows; the training data has {n}")
    if strata is not None:
        classes, counts = np.unique(strata, return_counts=True)
        if counts.min() < k:
            rare = classes[counts.argmin()]
            rare = rare.item() if isinstance(rare, np.generic) else rare
            advice = (f"use cv <= {counts.min()}" if counts.min() >= 2 else
                      "drop that class's rows or merge it with another (or check its labels): cv needs 2 rows "
                      "of every class at least")
            raise ValueError(f"cv={k}: class {rare!r} has {counts.min()} rows of the training "
                             f"data, fewer than the folds (every fold must validate every class); {advice}")
    try:
        from sklearn.model_selection import KFold, StratifiedKFold
    except ImportError:
        return fold_indices(n, k, seed, strata), "nnfast.data.fold_indices"
    if strata is not None:
        splitter = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        parts = [np.sort(val) for _, val in splitter.split(np.zeros((n, 1)), strata)]
        return parts, "sklearn.model_selection.StratifiedKFold"
    parts = [np.sort(val) for _, val in KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros((n, 1)))]
    return parts, "sklearn.model_selection.KFold"


def _fold_data(X: np.ndarray, y: np.ndarray, parts: List[np.ndarray]) -> List[Tuple[Pair, Pair]]:
    """Per fold, ((X_train, y_train), (X_val, y_val)), cut once for the whole study."""
    out: List[Tuple[Pair, Pair]] = []
    for part in parts:
        rest = np.ones(len(X), dtype=bool)
        rest[part] = False
        out.append(((X[rest], y[rest]), (X[part], y[part])))
    return out


def _gather(futures: List[cf.Future[TrialResult]], number: int) -> cf.Future[TrialResult]:
    """A future of the trial's result, merged from its folds' futures (:func:`merge_folds`)
    once they are all done; an exception or cancellation of any fold is the trial's."""
    combined: cf.Future[TrialResult] = cf.Future()
    lock = threading.Lock()
    left = [len(futures)]

    def done(_: cf.Future[TrialResult]) -> None:
        with lock:
            left[0] -= 1
            if left[0]:
                return
        folds = futures[:]
        # each fold's future holds this callback, which held the list of them: a reference cycle that kept
        # them, and on a Dask cluster the results they stand for, until the garbage collector ran
        futures.clear()
        for f in folds:
            if f.cancelled():
                combined.set_exception(cf.CancelledError(f"a fold of trial {number} was cancelled"))
                return
            if f.exception() is not None:
                combined.set_exception(f.exception())
                return
        try:
            merged = merge_folds(number, [f.result() for f in folds])
        except Exception as exc:  # never leave the trial's future unset: the driver waits on it
            combined.set_exception(exc)
        else:
            combined.set_result(merged)

    for f in futures:
        f.add_done_callback(done)
    return combined


@contextmanager
def _threads(n: int) -> Iterator[None]:
    """nnfast's threads for the duration of a study (process-wide): trials side by side
    in threads share the cores out instead of each taking all of them."""
    before = _core.get_num_threads()
    _core.set_num_threads(n)
    try:
        yield
    finally:
        _core.set_num_threads(before)


def _make_executor(executor: Executor, n_jobs: int, shipment: Shipment,
                   local_data: List[Tuple[Pair, Pair]]) -> Pool:
    """The study's executor, its data shipped to the workers once (:mod:`nnfast._ship`),
    and nnfast's threads per trial (by default the CPUs this process may use: affinity
    mask, cgroup quota), shared out between the trials that run at once."""
    return Pool(executor, n_jobs, shipment, local_data)


class _Progress:
    """Progress on a stream (stderr): trials done of the budget, running, best so far,
    elapsed time and ETA. On a terminal one live line, rewritten after every trial;
    elsewhere (a log, a notebook, CI) a line of its own at most every ``interval`` seconds,
    so a long study shows it is alive without flooding the log. ``enabled``: True, False or
    "auto" (both kinds of stream)."""

    def __init__(self, total: float, objective: str, enabled: Union[bool, str], *, stream: Optional[TextIO] = None,
                 interval: Optional[float] = None, timeout: Optional[float] = None) -> None:
        self.total, self.objective, self.timeout = total, objective, timeout
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = bool(enabled)  # "auto" is truthy: a live line on a terminal, periodic lines elsewhere
        self.interval = PROGRESS_INTERVAL if interval is None else float(interval)
        self.start = self._last = time.perf_counter()
        self._written = False

    @property
    def poll(self) -> float:
        """How often the driver should offer an update while it waits for a trial (seconds)."""
        return 1.0 if self.tty else max(0.05, min(1.0, self.interval))

    def update(self, done: int, running: int, best: float, *, finished: bool = True) -> None:
        """The state of the study: on a terminal after every finished trial, elsewhere when
        ``interval`` has passed since the last line (``finished`` False: a poll while waiting)."""
        if not self.enabled:
            return
        now = time.perf_counter()
        if self.tty and not finished:
            return
        if not self.tty and now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self.start
        if done and self.total < math.inf:
            eta = elapsed / done * max(self.total - done, 0)
        elif self.timeout is not None:
            eta = max(self.timeout - elapsed, 0.0)
        else:
            eta = math.nan
        best_text = "-" if math.isnan(best) else f"{best:.4f}"
        of = f"/{self.total}" if self.total < math.inf else ""
        line = (f"trial {done}{of}  running {running}  best {self.objective} {best_text}  "
                f"elapsed {elapsed:.0f}s  eta {'?' if math.isnan(eta) else f'{eta:.0f}s'}")
        self.stream.write(("\r" + line + "\x1b[K") if self.tty else line + "\n")
        self.stream.flush()
        self._written = True

    def close(self) -> None:
        if self.enabled and self.tty and self._written:
            self.stream.write("\n")
            self.stream.flush()


def _thresholds(study: optuna.Study, sign: float, epochs: int, fold: Optional[int] = None) -> List[float]:
    """Per epoch (up to ``epochs``), the median of completed trials' running average of
    the objective (the mean of its values up to that epoch): the median stopping rule of
    Golovin et al., "Google Vizier: A Service for Black-Box Optimization" (KDD 2017),
    section 3.2.1. A trial is pruned when its best value so far falls below it.

    A trial that stopped early counts from then on with its last value, so trials that run
    longer than the finished ones are still compared, and a slow learner is stopped instead
    of running to the last epoch. The running average, not the best value so far (nor the
    value at the epoch, Optuna's ``MedianPruner``), because the completed trials are the
    survivors of earlier pruning: against their best-so-far curves a configuration as good
    as the winner was pruned whenever noise dipped it below them once, late in training
    too, and the search narrowed to its first few trials.

    ``fold``: with cross-validation, the curves of that fold of each completed trial (a
    fold is pruned against the same fold of the others, so a hard fold does not prune
    every trial); a trial recorded without per-fold curves counts with its fold average.
    """
    curves = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        given = t.intermediate_values
        if fold is not None:
            folds = ((t.user_attrs.get(RESULT_ATTR) or {}).get("history") or {}).get("folds") or []
            if fold < len(folds) and folds[fold].get("curve"):
                given = {e: (math.nan if v is None else v) for e, v in enumerate(folds[fold]["curve"])}
        if not given:
            continue
        # by epoch number (an epoch without a value is a gap, not a shift)
        values = np.full(max(max(given) + 1, epochs), np.nan)
        for epoch, value in given.items():
            values[epoch] = sign * value
        known = np.flatnonzero(~np.isnan(values))
        if not len(known):
            continue
        values[known[-1] + 1:] = values[known[-1]]  # a trial that ended sooner goes on at its last value
        counts = np.cumsum(~np.isnan(values))
        sums = np.cumsum(np.nan_to_num(values, nan=0.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            running = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
        curves.append(running[:epochs])  # the running average
    if len(curves) < MIN_TRIALS_FOR_PRUNING:
        return []
    return [float(sign * v) for v in np.median(np.vstack(curves), axis=0)]


def _record(study: optuna.Study, trial: optuna.trial.Trial, params: Dict[str, Any], hp: Optional[Hyperparameters],
            result: TrialResult, data_print: str, point: Optional[int]) -> None:
    """Tells the mirror how a trial went; everything nnfast knows of it goes into one attribute."""
    for epoch, value in enumerate(result.intermediate):
        if not math.isnan(value):
            trial.report(value, epoch)
    trial.set_user_attr(RESULT_ATTR, {
        "searched": {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
        "hyperparameters": None if hp is None else hp.to_dict(),
        "score": None if math.isnan(result.score) else result.score,
        "score_loss": None if math.isnan(result.score_loss) else result.score_loss,
        "score_se": None if math.isnan(result.score_se) else result.score_se,
        "seconds": result.seconds, "epochs": result.epochs, "stop_reason": result.stop_reason or result.state,
        "history": result.history, "curve": [None if math.isnan(v) else v for v in result.intermediate],
        "error": result.error, "point": point, "nnfast_version": __version__, "data": data_print})
    if result.state == "complete":
        study.tell(trial, result.score)
    elif result.state in ("pruned", "diverged"):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _tell_stored(study: optuna.Study, trial: optuna.trial.Trial, stored: optuna.trial.FrozenTrial) -> None:
    """Tells the mirror a stored trial's outcome, as :func:`_record` told it first."""
    attrs = stored.user_attrs.get(RESULT_ATTR) or {}
    for epoch, value in enumerate(attrs.get("curve") or []):
        if value is not None:
            trial.report(value, epoch)
    trial.set_user_attr(RESULT_ATTR, attrs)
    if stored.state == optuna.trial.TrialState.COMPLETE:
        study.tell(trial, stored.value)
    else:
        study.tell(trial, state=stored.state)


def _with_curve(frozen: optuna.trial.FrozenTrial, keep_curve: bool) -> optuna.trial.FrozenTrial:
    """A copy of the trial for storage, with its per-epoch objective as Optuna intermediate
    values (``keep_curve``) or without them (a row per epoch on a database server; the
    curve is in the result attribute anyway)."""
    curve = (frozen.user_attrs.get(RESULT_ATTR) or {}).get("curve") or []
    return optuna.trial.FrozenTrial(
        number=frozen.number, state=frozen.state, value=None, values=frozen.values,
        datetime_start=frozen.datetime_start, datetime_complete=frozen.datetime_complete, params=dict(frozen.params),
        distributions=dict(frozen.distributions), user_attrs=dict(frozen.user_attrs),
        system_attrs=dict(frozen.system_attrs),
        intermediate_values={e: float(v) for e, v in enumerate(curve) if v is not None} if keep_curve else {},
        trial_id=0)


class _Store:
    """The stored side of a study: the Optuna study in storage and this driver's lease on
    it. Opened, leased and checked before the first trial; each finished trial is
    written whole, in one transaction; the lease is renewed between trials."""

    def __init__(self, name: str, url: str, direction: Direction, resume: bool, meta: Dict[str, Any],
                 extra: Callable[[], Dict[str, Any]] = dict) -> None:
        self.name, self.url, self.meta = name, url, meta
        storage = open_storage(url)
        # a journal writes a trial as one row, curve and all; a database server a row per value
        self.keeps_curves = isinstance(storage, JournalStorage)
        try:
            self.study = optuna.create_study(study_name=name, storage=storage, direction=direction)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            if not resume:
                raise ValueError(f"study {name!r} already exists in {url}: resume it (resume=True, --resume) or "
                                 f"choose another study name") from None
            self.study = optuna.load_study(study_name=name, storage=storage)
            created = False
        if created:  # the settings first: a driver that resumes it meanwhile checks against them
            self.study.set_user_attr(SETTINGS_ATTR, meta)
            for key, value in extra().items():  # computed only for a study created here
                self.study.set_user_attr(key, value)
        self.lease = DriverLease(self.study)
        self.lease.acquire()
        self._beat = time.monotonic()
        try:
            if not created:
                self._check(self.study)
                stored = self.study.user_attrs.get(SETTINGS_ATTR) or {}
                if stored.get("n_jobs", meta["n_jobs"]) != meta["n_jobs"]:
                    warnings.warn(f"study {name!r} ran with n_jobs={stored['n_jobs']}; resumed with "
                                  f"n_jobs={meta['n_jobs']}, its trials from here are not those an uninterrupted run "
                                  f"gives (a seeded study repeats for one n_jobs)", UserWarning, stacklevel=4)
                # the budget as last extended, for a later resume: a smaller one given again runs nothing
                # more and leaves it (a 12-trial study resumed with n_trials=2 recorded "budget 2 trials")
                kept, given = stored.get("n_trials"), meta["n_trials"]
                if given is not None and (kept is None or given > kept):
                    self.study.set_user_attr(SETTINGS_ATTR, {**stored, "n_trials": given})
            self.trials = list(self.study.get_trials(deepcopy=False))
        except BaseException:
            self.lease.release()
            raise

    def write(self, trial: optuna.trial.FrozenTrial) -> None:
        self.study.add_trial(trial)
        self.beat_if_due()

    def beat_if_due(self) -> None:
        if time.monotonic() - self._beat >= LEASE_INTERVAL:
            self.lease.beat()
            self._beat = time.monotonic()

    def close(self) -> None:
        self.lease.release()

    def _check(self, study: optuna.Study) -> None:
        stored = study.user_attrs.get(SETTINGS_ATTR) or {}
        if stored.get("nnfast_format") != STUDY_FORMAT:
            raise ValueError(f"cannot resume study {self.name!r}: it was written by another version of nnfast "
                             f"(study format {stored.get('nnfast_format', 1)}, this one writes {STUDY_FORMAT}); "
                             f"start a new study")
        for key in RESUME_KEYS:
            if key in _LATER_KEYS and key not in stored:
                continue
            same = stored.get(key) == self.meta[key] or (key == "base" and _same_base(stored.get(key), self.meta[key]))
            if not same:
                raise ValueError(f"cannot resume study {self.name!r}: its {key} differs from this search's "
                                 f"({_difference(stored.get(key), self.meta[key])})")
        odd = [t.number for t in study.get_trials(deepcopy=False)
               if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]
        if odd:
            raise ValueError(f"cannot resume study {self.name!r}: trials {odd[:5]} are running or waiting, which "
                             f"nnfast never writes; was the study changed by another program?")


@dataclass
class _Pending:
    """A trial asked and not yet told: its result to come (``future``), or, when a resumed
    study replays its schedule, the stored trial (``stored``), told at the same point of
    the schedule as in the run that wrote it."""

    future: PendingFuture
    trial: optuna.trial.Trial
    params: Dict[str, Any]
    hp: Optional[Hyperparameters]
    point: Optional[int]
    stored: Optional[optuna.trial.FrozenTrial] = None


def _difference(stored: Any, given: Any) -> str:
    """Where two settings differ, briefly: the first differing entries of two dicts."""
    def brief(value: Any) -> str:
        text = json.dumps(value, separators=(",", ":"))
        return text if len(text) <= 60 else text[:57] + "..."

    if isinstance(stored, dict) and isinstance(given, dict):
        keys = [k for k in {**stored, **given} if stored.get(k) != given.get(k)]
        return "; ".join(f"{k}: stored {brief(stored.get(k))}, given {brief(given.get(k))}" for k in keys[:3])
    return f"stored {brief(stored)}, given {brief(given)}"


def _done(value: T) -> cf.Future[T]:
    future: cf.Future[T] = cf.Future()
    future.set_result(value)
    return future


class _Driver:
    """Runs trials until the budget is spent: ask, build the configuration, submit, and
    tell the results in the order the trials were asked, at most ``n_jobs`` running.

    So trial ``k`` is asked once trials ``0 .. k - n_jobs`` are told and the ones after
    them run: what the sampler and the pruning thresholds see at each ask depends on the
    seed and ``n_jobs`` only. A resumed study replays that schedule with its stored trials
    before it asks anything new, so it goes on exactly as the run that wrote it would have.
    """

    def __init__(self, strategy: Strategy, queued: Sequence[Dict[str, Any]], propose: Propose, n_trials: Optional[int],
                 exhaustive: bool, data: Tuple[Pair, MaybePair], key: str, sign: float, pruning: bool,
                 warmup_epochs: int, data_print: str, meta: Dict[str, Any], name: str, url: Optional[str],
                 resume: bool, folds: Optional[List[Tuple[Pair, Pair]]] = None, trial_timeout: Optional[float] = None,
                 parts: Optional[List[np.ndarray]] = None, points: Optional[List[Dict[str, Any]]] = None,
                 extra: Callable[[], Dict[str, Any]] = dict) -> None:
        self.strategy, self.queued, self.propose = strategy, list(queued), propose
        # a finite space searched by proposals (bayes): its points by the configuration they make
        # (two params can make one: any shrink at depth 1), so that no proposal repeats one
        self._keys: Dict[int, str] = {}  # trial number -> its configuration's key
        self.points: Optional[Dict[str, Dict[str, Any]]] = None
        if points is not None:
            self.points = {}
            for params in sorted(points, key=configuration_key):  # whatever the order of the space's entries
                self.points.setdefault(self._configuration(params), params)
        self.folds = folds  # per fold ((X_train, y_train), (X_val, y_val)), or None: one validation set
        # each run's time budget: the trial's, shared equally between its folds
        self.run_timeout = None if trial_timeout is None else trial_timeout / (len(folds) if folds else 1)
        self.n_trials = math.inf if n_trials is None else n_trials
        self.exhaustive = exhaustive
        self.key, self.sign = key, sign
        # what the workers of a process pool or a Dask cluster receive once: the training data and
        # the validation data, or the fold rows (each fold cut where its trial runs)
        train, (X_val, y_val) = data
        validation = None if X_val is None or y_val is None else (X_val, y_val)  # None with folds
        self.shipment = Shipment(train, validation) if folds is None else Shipment(train, parts=parts)
        # what trials in threads of this process train and validate on: per fold, or the one pair
        self.local_data = folds or [self.shipment.data(0)]
        self.pruning, self.warmup_epochs, self.data_print = pruning, warmup_epochs, data_print
        self.fixed: Dict[int, Dict[str, Any]] = {}  # trial number -> the Optuna params it takes
        self.stop = threading.Event()
        direction: Direction = "maximize" if sign > 0 else "minimize"
        with quiet_optuna():
            self.mirror = optuna.create_study(study_name=name, direction=direction,
                                              sampler=PerTrialSampler(self._sampler))
            self.store = None if url is None else _Store(name, url, direction, resume, meta, extra)
            if self.store is None:
                self.mirror.set_user_attr(SETTINGS_ATTR, meta)
                for key, value in extra().items():
                    self.mirror.set_user_attr(key, value)
        stored = [] if self.store is None else self.store.trials
        # the queued points not run yet, known by their values: a space given again with its entries
        # in another order enumerates its points in another order (their indices repeated and skipped)
        done = {configuration_key(t.params) for t in stored}
        self.waiting = collections.deque(i for i, params in enumerate(self.queued)
                                         if configuration_key(params) not in done)

    @property
    def study(self) -> Study:
        if self.store is None:
            return Study(self.mirror)
        return Study(self.store.study, location=self.store.url)

    def _sampler(self, number: int) -> BaseSampler:
        params = self.fixed.pop(number, None)
        return FixedSampler(params) if params is not None else self.strategy.sampler(number)

    def run(self, executor: Executor, n_jobs: int, timeout: Optional[float], progress: Union[bool, str]) -> None:
        try:
            self._run(executor, n_jobs, timeout, progress)
        finally:
            if self.store is not None:
                self.store.close()

    def _run(self, executor: Executor, n_jobs: int, timeout: Optional[float], progress: Union[bool, str]) -> None:
        pool = _make_executor(executor, n_jobs, self.shipment, self.local_data)
        line = _Progress(self.n_trials, self.key, progress, timeout=timeout)
        start = time.perf_counter()
        pending: Deque[_Pending] = collections.deque()  # in the order asked
        try:
            # a trial's divergence is its recorded state, and what the targets are was said once,
            # above: run_trial silences those warnings in its own thread (nnfast._silence)
            with _threads(pool.threads) if pool.local else contextlib.nullcontext(), quiet_optuna():
                for trial in [] if self.store is None else self.store.trials:
                    while len(pending) >= n_jobs:
                        self._finish(pending.popleft())
                    pending.append(self._replay(trial))
                while True:
                    out_of_time = timeout is not None and time.perf_counter() - start > timeout
                    while not out_of_time and len(pending) < n_jobs and self._room(len(pending)):
                        pending.append(self._start(pool))
                    if not pending:
                        break
                    # the oldest (results are told in the order trials were asked); its result is read by _finish
                    oldest: List[cf.Future[Any]] = [pending[0].future]
                    while not cf.wait(oldest, timeout=line.poll).done:
                        if self.store is not None:
                            self.store.beat_if_due()
                        line.update(self._finished(), len(pending), self._best(), finished=False)
                    self._finish(pending.popleft())
                    line.update(self._finished(), len(pending), self._best())
        except BaseException:
            # stopped (Ctrl-C, an error): running trials end at their next epoch and are not
            # recorded; those that finished in order before them are kept
            self.stop.set()
            pool.shutdown()
            with quiet_optuna():
                while pending and pending[0].future.done() and _finished_well(pending[0].future):
                    self._finish(pending.popleft())
            raise
        finally:
            line.close()
            pool.shutdown()

    def _ask(self, fixed: Optional[Dict[str, Any]]
             ) -> Tuple[optuna.trial.Trial, Dict[str, Any], Optional[Hyperparameters], Optional[Exception]]:
        """The next trial (with the Optuna params ``fixed``, if given) and its configuration:
        (trial, params, hp, None), or (trial, params so far, None, error) for an impossible
        combination."""
        if fixed is not None:
            self.fixed[len(self.mirror.get_trials(deepcopy=False))] = fixed
        trial = self.mirror.ask()
        try:
            params, hp = self.propose(trial)
        except (ValueError, TypeError) as exc:
            return trial, getattr(exc, "params", {}), None, exc
        return trial, params, hp, None

    def _replay(self, stored: optuna.trial.FrozenTrial) -> _Pending:
        """Asks trial ``stored.number`` again, with its stored values, to be told in its turn."""
        number = len(self.mirror.get_trials(deepcopy=False))
        if stored.number != number:
            raise ValueError(f"the stored trials are not numbered 0, 1, 2, ...: trial {stored.number} came where "
                             f"{number} was expected")
        trial, params, hp, _ = self._ask(dict(stored.params))
        # what the sampler recorded while it ran (TPE's constant liar reads a running trial's
        # jointly drawn values there, conditional ones included): without it the next trial
        # asked while this one "runs" is drawn from another history than it was first
        for key, value in stored.system_attrs.items():
            trial.storage.set_trial_system_attr(trial._trial_id, key, value)
        point = (stored.user_attrs.get(RESULT_ATTR) or {}).get("point")
        return _Pending(_done(None), trial, params, hp, point, stored=stored)

    def _start(self, pool: Pool) -> _Pending:
        point = self.waiting.popleft() if self.waiting else None
        fixed, attrs = (self.queued[point], {}) if point is not None else (
            self._unrepeated() if self.points is not None else (None, {}))
        trial, params, hp, error = self._ask(fixed)
        for key, value in attrs.items():  # what the strategy's sampler recorded, as if it had drawn here
            trial.storage.set_trial_system_attr(trial._trial_id, key, value)
        if hp is None:  # an impossible combination (error says why): recorded in its turn, not fatal
            return _Pending(_done(TrialResult(trial.number, "failed", error=str(error))), trial, params, None, point)
        # no data in the spec: Pool.submit gives each run its own (train and validation set, or its fold)
        spec = TrialSpec(trial.number, hp.to_dict(), None, None, self.key, self.sign, [],  # type: ignore[arg-type]
                         self.warmup_epochs, self.run_timeout)
        futures = []
        for index in range(len(self.local_data)):
            fold = None if self.folds is None else index
            thresholds = _thresholds(self.mirror, self.sign, hp.epochs, fold) if self.pruning else []
            futures.append(pool.submit(dataclasses.replace(spec, thresholds=thresholds), index, self.stop))
        future = futures[0] if self.folds is None else _gather(futures, trial.number)
        return _Pending(future, trial, params, hp, point)

    def _configuration(self, params: Dict[str, Any]) -> str:
        """The key of the configuration Optuna ``params`` make (of the params themselves
        for an impossible combination)."""
        try:
            # a FixedTrial answers the suggest_* calls a proposal makes, with these values
            _, hp = self.propose(cast(optuna.trial.Trial, optuna.trial.FixedTrial(dict(params))))
        except (ValueError, TypeError):
            return "params " + configuration_key(params)
        return configuration_key(hp.to_dict())

    def _asked(self, trials: Sequence[optuna.trial.FrozenTrial]) -> Set[str]:
        """The configurations of ``trials``, each computed once."""
        for t in trials:
            if t.number not in self._keys:
                self._keys[t.number] = self._configuration(t.params)
        return {self._keys[t.number] for t in trials}

    def _unrepeated(self) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The next trial's Optuna params in a finite space, and the system attributes its
        sampler recorded: the strategy's proposal, drawn on a copy of the study (running
        trials included, as the sampler would see them), unless that configuration was
        asked before (TPE proposes the best ones again and again in a small space); then a
        point not asked yet, chosen by the trial's seed. Deterministic, so a resumed
        study's replay asks the same."""
        trials = self.mirror.get_trials(deepcopy=False)
        number = len(trials)
        with quiet_optuna():
            scratch = optuna.create_study(direction=self.mirror.direction, sampler=self.strategy.sampler(number))
            scratch.add_trials(trials)
            proposal = scratch.ask()
            try:
                self.propose(proposal)
            except (ValueError, TypeError):
                pass  # an impossible combination: its params so far are still a proposal
        asked = self._asked(trials)
        if self._configuration(proposal.params) not in asked:
            return dict(proposal.params), dict(scratch.get_trials(deepcopy=False)[-1].system_attrs)
        assert self.points is not None
        unseen = sorted(key for key in self.points if key not in asked)
        if not unseen:  # every point asked (_room stops before): the proposal, repeated
            return dict(proposal.params), {}
        chosen = np.random.default_rng(trial_seed(self.strategy.seed, number)).integers(len(unseen))
        return dict(self.points[unseen[int(chosen)]]), {}

    def _finish(self, entry: _Pending) -> None:
        if entry.stored is not None:
            _tell_stored(self.mirror, entry.trial, entry.stored)
            return
        try:
            result = entry.future.result()
        except BrokenProcessPool:
            result = TrialResult(entry.trial.number, "failed", error=WORKER_DIED)
        except Exception as exc:  # the executor failed (pickling, a Dask worker lost, ...)
            result = TrialResult(entry.trial.number, "failed", error=f"{type(exc).__name__}: {exc}")
        assert result is not None  # only a replayed trial's future holds None, and it was told above
        _record(self.mirror, entry.trial, entry.params, entry.hp, result, self.data_print, entry.point)
        if self.store is not None:
            self.store.write(_with_curve(self.mirror.get_trials(deepcopy=False)[entry.trial.number],
                                         keep_curve=self.store.keeps_curves))

    def _finished(self) -> int:
        return len(self.mirror.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                                   optuna.trial.TrialState.PRUNED,
                                                                   optuna.trial.TrialState.FAIL)))

    def _room(self, running: int) -> bool:
        if self._finished() + running >= self.n_trials:
            return False
        if self.points is not None:  # a finite space ends when each of its points was asked once
            return len(self._asked(self.mirror.get_trials(deepcopy=False)) & self.points.keys()) < len(self.points)
        return not self.exhaustive or bool(self.waiting)

    def _best(self) -> float:
        values = [t.value for t in self.mirror.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
                  if t.value is not None]  # a completed trial of one objective has its value
        return max(values, key=lambda v: self.sign * v) if values else math.nan


def _finished_well(future: PendingFuture) -> bool:
    """Whether a done future holds a result worth recording (not an interrupted trial)."""
    if future.exception() is not None:
        return False
    result = future.result()
    return result is None or result.state != "interrupted"


def _strategy(strategy: Union[str, Strategy], seed: int) -> Strategy:
    if isinstance(strategy, Strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy](seed=seed)


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _same_base(stored: Any, given: Dict[str, Any]) -> bool:
    """Whether a stored base configuration is the given one once the fields it predates
    (added to Hyperparameters since it was written) take their defaults."""
    try:
        return bool(_meta(base=Hyperparameters.from_dict(stored).to_dict())["base"] == given)
    except (TypeError, ValueError):
        return False


def _meta(**settings: Any) -> Dict[str, Any]:
    """Study settings as the storage keeps them (JSON: tuples become lists)."""
    meta: Dict[str, Any] = json.loads(json.dumps({**settings, "nnfast_version": __version__,
                                                  "nnfast_format": STUDY_FORMAT}))
    return meta


def search(hp: Hyperparameters, space: Mapping[str, Any], *, train: Tuple[Any, Any],
           validation: Optional[Tuple[Any, Any]] = None, validation_size: float = 0.2,
           strategy: Union[str, Strategy] = "bayes", n_trials: Optional[int] = None, timeout: Optional[float] = None,
           storage: Optional[str] = None, study_name: str = "nnfast", resume: bool = False, n_jobs: int = 1,
           executor: Union[str, cf.Executor, None] = None, objective: str = "auto", pruning: bool = True,
           warmup_epochs: int = 5, seed: int = 0, progress: Union[bool, str] = "auto",
           metadata: Optional[Mapping[str, Any]] = None, cv: Optional[int] = None,
           trial_timeout: Optional[float] = None) -> Study:
    """Search hyperparameters empirically: train each configuration, score it on
    validation data, record everything.

    Parameters
    ----------
    hp : Hyperparameters
        The base configuration; the space changes some of its fields.
    space : mapping of field name -> distribution
        See :class:`Space` and its entries (:func:`choice`, :func:`uniform`, :func:`loguniform`,
        :func:`int`, :func:`intlog`, :func:`layers`, and ``.when(...)`` for conditional entries). Every entry is
        checked against :class:`~nnfast.Hyperparameters` before any trial runs.
    train : (X, y)
        Training data: X of shape (n_samples, n_features), y of shape (n_samples,) or
        (n_samples, n_outputs). X is converted once, before any split, to the dtype of
        ``hp`` (float32 unless ``dtype="float64"``; float64 when the space searches
        ``dtype``), as :func:`nnfast.train` reads it. The test set never enters a search: keep it for
        :meth:`Study.test`, once, after :meth:`Study.refit`.
    validation : (X_val, y_val), optional
        Scores every trial: X_val of shape (n_val, n_features), y_val of shape (n_val,)
        or (n_val, n_outputs), X_val converted like X. Without it (and without ``cv``), ``validation_size`` of
        ``train`` is split off, seeded and stratified for classes.
    strategy : "grid", "random", "bayes" or a Strategy
    n_trials : int, optional
        The trial budget, counting every finished trial (complete, pruned, diverged or
        failed); default: the whole grid, else as many as ``timeout`` allows, else 20. A
        study ends sooner when a finite space has no configuration left to run.
    timeout : float, optional
        Start no new trial after this many seconds.
    storage : str, optional
        A file (SQLite) or an SQLAlchemy URL; None keeps the study in memory.
    resume : bool
        Continue the stored study ``study_name`` (which must have the same space, base,
        strategy, objective, seed, data and metadata) instead of refusing to overwrite
        it. A resumed or extended study continues the sequence of trials: none already
        run is drawn again, and trials lost with a killed driver run again.
    n_jobs : int
        Trials at once. nnfast's threads are shared out so the trials do not oversubscribe.
        Results are told in the order trials were asked, so a seeded study is the same on
        every run with the same ``n_jobs``. The study records it: resuming with another
        ``n_jobs`` warns (UserWarning), as its later trials then differ from an
        uninterrupted run's.
    executor : "threads" (default), "processes" or a concurrent.futures.Executor
        E.g. ``distributed.Client(...).get_executor()`` for a Dask cluster. The training
        and validation data reach each worker once (``nnfast._ship``): "processes"
        through the pool's initializer (spawned processes), Dask by a scatter to every
        worker, released when the study ends; any other executor gets them with each trial.
    objective : str
        The per-epoch history value to optimise: "auto" (validation accuracy for
        classes, R^2 for real values; maximised) or e.g. "val_loss" (minimised).
    pruning : bool
        Stop a trial whose best objective so far is below the median of completed
        trials' running averages of the objective at the same epoch (the median stopping
        rule; a trial that stopped earlier counting with its last value), after
        ``warmup_epochs`` epochs and once five trials completed. Both are recorded
        with a stored study: a resume must give the same.
    warmup_epochs : int
        Epochs (>= 0) a trial runs before pruning may stop it.
    seed : int
        Seeds the strategy, the validation split and the folds: 0 to 2**32 - 1.
    progress : bool or "auto"
        Progress on stderr: trials done of the budget, best so far, elapsed time, ETA. On a
        terminal a live line; elsewhere (a log, a notebook, CI) a line every
        :data:`nnfast.tune.search.PROGRESS_INTERVAL` (10) seconds, none for a study that ends sooner. False:
        none ("auto" and True are the same).
    metadata : mapping, optional
        JSON data recorded with the study when it is created (e.g. how the data was
        prepared); a resume must give the same.
    cv : int, optional
        Cross-validate every trial on ``cv`` (>= 2) folds of ``train`` instead of one
        validation set: cut once per study, seeded with ``seed``, stratified for classes
        (see ``make_folds``). A trial trains once per fold on the other folds; its
        score is the mean of the folds' scores and its ``score_se`` their standard error
        (``merge_folds``); its curve and history are fold averages,
        and each fold is stopped when its own best-so-far falls below the median of the
        completed trials' running averages on the same fold (a trial with a pruned fold
        is pruned). The folds of the ``n_jobs`` trials in
        flight run side by side on the executor. The cv is recorded with the study; a
        resume must give the same. Costs ``cv`` times the training of a single split.
    trial_timeout : float, optional
        Each trial's time budget, in seconds of training: a trial past it stops after the
        epoch that passed it (:class:`~nnfast.TimeLimit`, timed by the worker's monotonic
        clock, so on any executor), is recorded with stop reason ``"timed_out"`` and scored
        like any other trial on the epochs it had (state "complete"), and the study goes
        on. With ``cv`` the budget is the trial's, shared equally between its folds (each
        fold gets ``trial_timeout / cv`` seconds), so that a trial's recorded ``seconds``
        (its folds' total training time) stay within about the budget whether its folds ran
        side by side or one after the other. Recorded with the study; a resume must give the
        same. Unlike ``timeout``, which ends the study, this ends a trial.

    Notes
    -----
    Every trial records ``score_se``, the standard error of its score: from the folds
    with ``cv``, else from the validation set's per-sample results
    (``score_standard_error``). See :meth:`Study.contenders`.

    Returns
    -------
    Study

    Raises
    ------
    TypeError
        If ``hp`` is not an :class:`~nnfast.Hyperparameters`, if ``train`` or
        ``validation`` is not a pair (X, y), ``pruning`` not a bool or ``warmup_epochs``
        not an integer, or for a space entry of the wrong type (see :class:`Space`).
    ValueError
        For a bad space (unknown field, value outside a field's domain, ...), a study that
        exists (without ``resume``) or differs from this search (with it, e.g. another
        ``cv`` or ``trial_timeout``, both values named), ``cv`` with ``validation``, ``cv``
        not an integer >= 2 or more folds than a class has rows, ``timeout`` or
        ``trial_timeout`` not a positive finite number, ``n_trials`` or ``n_jobs`` not a
        positive integer, ``warmup_epochs`` negative, an unknown ``strategy`` name, or
        bad data (X and y of different lengths, targets the base configuration refuses).
    nnfast.tune.StudyBusyError
        If another live driver is running the stored study.
    """
    if not isinstance(hp, Hyperparameters):
        raise TypeError(f"hp must be nnfast.Hyperparameters, got {type(hp).__name__}")
    seed = check_int(seed, "seed", low=0, high=MAX_SEED)
    strategy = _strategy(strategy, seed)
    n_jobs = _check_count(n_jobs, "n_jobs")
    check_float(validation_size, "validation_size", 0.0, 1.0, low_open=True, high_open=True)
    if not isinstance(pruning, (bool, np.bool_)):
        raise TypeError(f"pruning must be True or False, got {pruning!r}")
    warmup_epochs = check_int(warmup_epochs, "warmup_epochs", low=0)
    search_space = Space(space, hp)
    ranged = search_space.range_conditions()
    if ranged and not strategy.exhaustive:
        entry, field_name = ranged[0]
        raise ValueError(f"search entry {entry!r} is searched only when {field_name} takes one of its grid points, "
                         f"but a {strategy.name} search draws {field_name} from its whole range, where that has "
                         f"probability 0: use strategy='grid', or make {field_name} a choice")
    queued = strategy.queued(search_space)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not 0 < timeout < math.inf):
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    if trial_timeout is not None:
        if isinstance(trial_timeout, bool) or not isinstance(trial_timeout, (int, float, np.integer, np.floating)) \
                or not 0 < trial_timeout < math.inf:
            raise ValueError(f"trial_timeout must be a positive finite number of seconds, or None, got "
                             f"{trial_timeout!r}")
        trial_timeout = float(trial_timeout)
    if n_trials is None and resume and timeout is None:  # a resumed study keeps the budget it recorded
        n_trials = _recorded_budget(storage, study_name)
    if n_trials is None:  # the whole grid; or until the timeout; or 20
        n_trials = len(queued) if strategy.exhaustive else None if timeout is not None else 20
    if n_trials is not None:
        n_trials = _check_count(n_trials, "n_trials")
    if cv is not None:
        if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
            raise ValueError(f"cv must be an integer number of folds >= 2, or None, got {cv!r}")
        cv = int(cv)
        if validation is not None:
            raise ValueError("give validation= or cv=, not both: with cv the folds of train validate every trial")
    dtype = "float64" if "dtype" in search_space.entries else hp.dtype
    (X_tr, y_tr), (X_val, y_val) = _split(hp, *_pair(train, "train"), validation, validation_size, seed, dtype, cv)
    described = describe_data(hp, *_pair(train, "train"))
    key, sign = objective_key(hp, y_tr, objective)
    _check_searched_targets(hp, search_space, _pair(train, "train")[1], dtype)
    for which, values in (("training", y_tr), ("validation", y_val)):  # constant in the dtype trials train in
        if key.endswith("r2") and values is not None and np.all(np.ptp(
                np.asarray(values, np.float64).astype(DTYPES[dtype]), axis=0) == 0):
            raise ValueError(f"the regression target is constant in the {which} data (every value "
                             f"{float(np.asarray(values).flat[0]):g}): R^2 there scores every configuration alike "
                             f"(0), so the search could not tell them apart")
    folds, splitter, parts = None, None, None
    if cv is not None:
        classification = hp.resolve_task(y_tr, warn=False).task == "classification"
        parts, splitter = make_folds(y_tr, cv, seed, classification)
        fold_of = np.empty(len(y_tr), dtype=np.int64)
        for i, part in enumerate(parts):
            fold_of[part] = i
        data_print = data_fingerprint(X_tr, y_tr, fold_of)
        folds = _fold_data(X_tr, y_tr, parts)
    else:
        data_print = data_fingerprint(X_tr, y_tr, X_val, y_val)
    url = storage_url(storage)
    meta = _meta(space=search_space.to_dict(), base=hp.to_dict(), strategy=strategy.name, objective=key, sign=sign,
                 data=data_print, storage=url, n_trials=n_trials, seed=seed, metadata=dict(metadata or {}), cv=cv,
                 folds=splitter, trial_timeout=trial_timeout, described=described, n_jobs=n_jobs,
                 pruning=bool(pruning), warmup_epochs=warmup_epochs)

    def propose(trial: optuna.trial.Trial) -> Tuple[Dict[str, Any], Hyperparameters]:
        params = search_space.sample(trial)
        try:
            return params, hp.replace(**params)
        except (ValueError, TypeError) as exc:
            setattr(exc, "params", params)  # the values so far, which _Driver._ask records with the failure
            raise

    # a finite space that the strategy proposes in (bayes): no configuration twice, as grid and random
    points = [p for _, p in search_space.grid()] if (
        not queued and not strategy.exhaustive and search_space.finite()
        and search_space.grid_size() <= MAX_SHUFFLED_POINTS) else None
    driver = _Driver(strategy, queued, propose, n_trials, strategy.exhaustive or bool(queued),
                     ((X_tr, y_tr), (X_val, y_val)), key,
                     sign, pruning, warmup_epochs, data_print, meta, study_name, url, resume, folds, trial_timeout,
                     parts, points, lambda: {SEARCH_ROWS_ATTR: search_row_digests(train, validation)})
    driver.run(executor, n_jobs, timeout, progress)
    return driver.study


def _recorded_budget(storage: Optional[str], name: str) -> Optional[int]:
    """The n_trials a stored study recorded, or None (no such study, no budget recorded)."""
    if storage is None:
        return None
    url = storage_url(storage)
    path = sqlite_path(url)
    if path is not None and not os.path.isfile(path):
        return None  # opening would create the file; the resume then fails on its own terms
    with quiet_optuna():
        try:
            stored = optuna.load_study(study_name=name, storage=open_storage(url))
        except KeyError:
            return None
    budget = (stored.user_attrs.get(SETTINGS_ATTR) or {}).get("n_trials")
    return budget if isinstance(budget, int) and not isinstance(budget, bool) and budget > 0 else None


def _check_searched_targets(hp: Hyperparameters, space: Space, y: Any, dtype: str) -> None:
    """Each value of a searched ``task``, ``loss`` or ``class_weight`` against the targets,
    before any trial: one that training would refuse on them (a regression loss on words,
    binary cross-entropy on ten classes, weights for labels y lacks), or that makes another
    task than the study's (whose objective would not exist), is an error naming it."""
    study_task = hp.resolve_task(y, warn=False).task
    dt = np.dtype(DTYPES[dtype])
    for name in ("task", "loss", "class_weight"):
        entry = space.entries.get(name)
        if not isinstance(entry, Choice):
            continue
        for value in entry.values:
            try:
                other = hp.replace(**{name: value})
                choice = other.resolve_task(y, warn=False)
                targets = Targets(choice.loss).fit(choice.y)
                encoded = targets.transform(choice.y, dt)
                if other.class_weight is not None:
                    targets.class_weights(encoded, other.class_weight)
            except (ValueError, TypeError) as exc:
                raise type(exc)(f"search entry {name!r}: {value!r} cannot train on these targets: "
                                f"{str(exc).splitlines()[0]}") from None
            if choice.task != study_task:
                raise ValueError(f"search entry {name!r}: {value!r} makes a {choice.task} of these targets, where "
                                 f"the study's base configuration makes a {study_task} (its objective is scored "
                                 f"as one): search a {choice.task} in a study of its own")


def score_configurations(configurations: Sequence[Hyperparameters], X: Any, y: Any, *, cv: int, seed: int,
                         objective: str = "auto", n_jobs: int = 1, executor: Union[str, cf.Executor, None] = None
                         ) -> Tuple[List[TrialResult], str]:
    """Cross-validate each configuration on the same ``cv`` folds of X, y (cut by
    ``make_folds`` with ``seed``), without pruning and without a study: per
    configuration, its folds merged by ``merge_folds``, in the
    given order; and the splitter's name. See :meth:`Study.rescore`."""
    configurations = list(configurations)
    if not configurations:
        raise ValueError("no configurations to score")
    if isinstance(cv, bool) or not isinstance(cv, (int, np.integer)) or cv < 2:
        raise ValueError(f"cv must be an integer number of folds >= 2, got {cv!r}")
    seed = check_int(seed, "seed", low=0, high=MAX_SEED)
    n_jobs = _check_count(n_jobs, "n_jobs")
    dtypes = {c.dtype for c in configurations}
    first = configurations[0]
    (X_tr, y_tr), _ = _split(first, X, y, None, 0.2, seed, dtypes.pop() if len(dtypes) == 1 else "float64", int(cv))
    key, sign = objective_key(first, y_tr, objective)
    parts, splitter = make_folds(y_tr, int(cv), seed, first.resolve_task(y_tr, warn=False).task == "classification")
    folds = _fold_data(X_tr, y_tr, parts)
    pool = _make_executor(executor, n_jobs, Shipment((X_tr, y_tr), parts=parts), folds)
    try:
        with _threads(pool.threads) if pool.local else contextlib.nullcontext():
            gathered = []
            for number, hp in enumerate(configurations):
                # no data in the spec: Pool.submit gives each fold's run its own
                spec = TrialSpec(number, hp.to_dict(), None, None, key, sign, [], 0)  # type: ignore[arg-type]
                gathered.append(_gather([pool.submit(spec, index) for index in range(len(folds))], number))
            results = [future.result() for future in gathered]
    finally:
        pool.shutdown()
    return results, splitter


def run_configurations(configurations: Sequence[Hyperparameters], X: Any, y: Any, *,
                       validation: Optional[Tuple[Any, Any]] = None, validation_size: float = 0.2,
                       storage: Optional[str] = None, name: str = "nnfast-rerun", objective: str = "auto",
                       n_jobs: int = 1, executor: Union[str, cf.Executor, None] = None, seed: int = 0,
                       source: Optional[str] = None, progress: Union[bool, str] = "auto") -> Study:
    """Run the given configurations once each, as a study of their own (see :meth:`Study.rerun`).

    ``X`` has shape (n_samples, n_features), ``y`` (n_samples,) or (n_samples, n_outputs); ``validation``, if given, a pair of the same widths;
    ``validation_size`` a fraction of the rows, in (0, 1). X (and the validation X) is
    converted once to the configurations' dtype when they share one, else to float64.

    Raises
    ------
    ValueError
        If ``configurations`` is empty, ``n_jobs`` is not a positive integer, or for bad
        data (X and y, or the validation pair, of different lengths; targets the first
        configuration refuses).
    TypeError
        If ``validation`` is not a pair (X_val, y_val).
    """
    configurations = list(configurations)
    if not configurations:
        raise ValueError("no configurations to run")
    seed = check_int(seed, "seed", low=0, high=MAX_SEED)
    n_jobs = _check_count(n_jobs, "n_jobs")
    dtypes = {c.dtype for c in configurations}
    (X_tr, y_tr), (X_val, y_val) = _split(configurations[0], X, y, validation, validation_size, seed,
                                          dtypes.pop() if len(dtypes) == 1 else "float64")
    key, sign = objective_key(configurations[0], y_tr, objective)
    data_print = data_fingerprint(X_tr, y_tr, X_val, y_val)
    url = storage_url(storage)
    listed = [c.to_dict() for c in configurations]
    meta = _meta(space={"configuration": listed}, base=listed[0], strategy="listed", objective=key, sign=sign,
                 data=data_print, storage=url, n_trials=len(listed), seed=seed, metadata={}, rerun_of=source,
                 described=describe_data(configurations[0], X, y))
    base = configurations[0]

    def propose(trial: optuna.trial.Trial) -> Tuple[Dict[str, Any], Hyperparameters]:
        chosen = configurations[trial.suggest_categorical("configuration", list(range(len(listed))))]
        changed = {k: v for k, v in chosen.to_dict().items() if v != base.to_dict()[k]}
        return changed, chosen

    driver = _Driver(STRATEGIES["grid"](seed=seed), [{"configuration": i} for i in range(len(listed))], propose,
                     len(listed), True, ((X_tr, y_tr), (X_val, y_val)), key, sign, False, 0, data_print, meta, name,
                     url, False)
    driver.run(executor, n_jobs, None, progress)
    return driver.study

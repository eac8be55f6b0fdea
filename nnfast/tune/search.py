"""The driver of a search: ask the strategy, send trials to an executor, record results.

Only the driver touches the study's storage. Trials go out as plain data to any
``concurrent.futures.Executor`` (threads by default: training releases the GIL), come
back as plain data, and are written as they finish, so a study killed at any moment
keeps every finished trial; ``resume=True`` re-queues the trials that were running.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import multiprocessing
import os
import sys
import json
import time
from contextlib import contextmanager
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import optuna

from .. import __version__, _core
from ..data import split_indices
from ..hyperparams import Hyperparameters
from .._targets import looks_like_labels
from .space import Space
from .strategies import STRATEGIES, Strategy
from .study import INTERRUPTED, Study, data_fingerprint, storage_url
from .trial import TrialResult, TrialSpec, objective_key, run_trial

__all__ = ["search", "run_configurations"]

#: pruning waits for this many completed trials before comparing against their median
MIN_TRIALS_FOR_PRUNING = 5


def _split(X: Any, y: Any, validation: Optional[Tuple[Any, Any]], validation_size: float, seed: int):
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if validation is not None:
        X_val, y_val = (np.asarray(a) for a in validation)
        return (X, y), (X_val, y_val)
    strata = y if y.ndim == 1 and looks_like_labels(y) else None
    train_rows, val_rows = split_indices(len(X), [validation_size], seed, strata)
    return (X[train_rows], y[train_rows]), (X[val_rows], y[val_rows])


@contextmanager
def _threads(n: int):
    """nnfast's threads for the duration of a study (process-wide): trials side by side
    in threads share the cores out instead of each taking all of them."""
    before = _core.get_num_threads()
    _core.set_num_threads(n)
    try:
        yield
    finally:
        _core.set_num_threads(before)


def _make_executor(executor: Union[str, cf.Executor, None], n_jobs: int):
    """(executor, owned, threads per trial)."""
    cores = os.cpu_count() or 1
    if executor is None or executor == "threads":
        return cf.ThreadPoolExecutor(max_workers=n_jobs), True, max(1, cores // n_jobs)
    if executor == "processes":
        context = multiprocessing.get_context("spawn")  # safe with BLAS thread pools, unlike fork
        return cf.ProcessPoolExecutor(max_workers=n_jobs, mp_context=context), True, max(1, cores // n_jobs)
    if isinstance(executor, cf.Executor):
        return executor, False, 1
    raise TypeError("executor must be 'threads', 'processes' or a concurrent.futures.Executor "
                    "(e.g. distributed.Client(...).get_executor())")


class _Progress:
    """One line on stderr: trials done, best so far, ETA. Silent when not a terminal."""

    def __init__(self, total: int, objective: str, enabled: Union[bool, str]) -> None:
        self.total, self.objective = total, objective
        self.enabled = sys.stderr.isatty() if enabled == "auto" else bool(enabled)
        self.start = time.perf_counter()

    def update(self, done: int, running: int, best: float) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * max(self.total - done, 0) if done else math.nan
        best_text = "-" if math.isnan(best) else f"{best:.4f}"
        line = (f"trial {done}/{self.total}  running {running}  best {self.objective} {best_text}  "
                f"elapsed {elapsed:.0f}s  eta {'?' if math.isnan(eta) else f'{eta:.0f}s'}")
        sys.stderr.write(("\r" + line + "\x1b[K") if sys.stderr.isatty() else line + "\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and sys.stderr.isatty():
            sys.stderr.write("\n")


def _thresholds(study: optuna.Study, sign: float, epochs: int) -> List[float]:
    """Per epoch (up to ``epochs``), the median of completed trials' best objective so far.

    A trial that stopped early (early stopping keeps its best weights) counts from then
    on with the best value it reached, so trials that run longer than the finished ones
    are still compared, and a slow learner is stopped instead of running to the last epoch.
    """
    curves = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        if not t.intermediate_values:
            continue
        # by epoch number (an epoch without a value is a gap, not a shift); no value yet = worst
        values = np.full(max(max(t.intermediate_values) + 1, epochs), -np.inf)
        for epoch, value in t.intermediate_values.items():
            if not math.isnan(value):
                values[epoch] = sign * value
        curves.append(np.maximum.accumulate(values)[:epochs])  # the best so far, carried forward
    if len(curves) < MIN_TRIALS_FOR_PRUNING:
        return []
    return [float(sign * v) for v in np.median(np.vstack(curves), axis=0)]


def _record(study: optuna.Study, trial: optuna.trial.Trial, params: Dict[str, Any], hp: Optional[Hyperparameters],
            result: TrialResult, data_print: str) -> None:
    for epoch, value in enumerate(result.intermediate):
        if not math.isnan(value):
            trial.report(value, epoch)
    trial.set_user_attr("searched", {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()})
    if hp is not None:
        trial.set_user_attr("hyperparameters", hp.to_dict())
    trial.set_user_attr("score", None if math.isnan(result.score) else result.score)
    trial.set_user_attr("seconds", result.seconds)
    trial.set_user_attr("epochs", result.epochs)
    trial.set_user_attr("stop_reason", result.stop_reason or result.state)
    trial.set_user_attr("history", result.history)
    trial.set_user_attr("error", result.error)
    trial.set_user_attr("nnfast_version", __version__)
    trial.set_user_attr("data", data_print)
    if result.state == "complete":
        study.tell(trial, result.score)
    elif result.state in ("pruned", "diverged"):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _counted(study: optuna.Study) -> int:
    """Finished trials that count against the budget (interrupted ones are re-run instead)."""
    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                        optuna.trial.TrialState.PRUNED,
                                                        optuna.trial.TrialState.FAIL))
    return sum(1 for t in finished if "stop_reason" in t.user_attrs and INTERRUPTED not in t.system_attrs)


def _requeue_interrupted(study: optuna.Study) -> int:
    """Trials left running by a driver that died: mark and close them, and queue their params again.

    The mark matters: a driver can die half-way through recording a result, leaving a
    running trial with some of its attributes; marked, it never counts against the budget.
    """
    stale = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for t in stale:
        # a queued point (grid) may have died before its values were suggested: keep the point
        study.enqueue_trial({**t.system_attrs.get("fixed_params", {}), **t.params}, skip_if_exists=False)
        # Optuna has no public way to annotate a trial another driver started; its storage does
        study._storage.set_trial_system_attr(t._trial_id, INTERRUPTED, True)
        study.tell(t.number, state=optuna.trial.TrialState.FAIL)
    return len(stale)


def _open_study(name: str, url: Optional[str], strategy: Strategy, resume: bool, meta: Dict[str, Any],
                queued: List[Dict[str, Any]]) -> optuna.Study:
    """A new study with its settings and queued points, or the stored one to resume
    (settings checked, interrupted trials re-queued)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    meta = json.loads(json.dumps(meta))  # as the storage keeps it (tuples become lists)
    exists = url is not None and name in optuna.get_all_study_names(url)
    if exists and not resume:
        raise ValueError(f"study {name!r} already exists in {url}; pass resume=True to continue it "
                         f"or choose another study name")
    direction = "maximize" if meta["sign"] > 0 else "minimize"
    study = optuna.create_study(study_name=name, storage=url, sampler=strategy.sampler(), direction=direction,
                                load_if_exists=exists)
    if exists:
        for key in ("space", "base", "strategy", "objective", "data"):
            if study.user_attrs.get(key) != meta[key]:
                raise ValueError(f"cannot resume study {name!r}: its {key} differs from this search's "
                                 f"(stored {study.user_attrs.get(key)!r})")
        _requeue_interrupted(study)
    else:
        for key, value in meta.items():
            study.set_user_attr(key, value)
        for params in queued:
            study.enqueue_trial(params)
    return study


class _Driver:
    """Runs trials until the budget is spent: ask, build the configuration, submit, record."""

    def __init__(self, study: optuna.Study, propose, n_trials: int, exhaustive: bool, data, key: str, sign: float,
                 pruning: bool, warmup_epochs: int, data_print: str) -> None:
        self.study, self.propose, self.n_trials, self.exhaustive = study, propose, n_trials, exhaustive
        self.data, self.key, self.sign = data, key, sign
        self.pruning, self.warmup_epochs, self.data_print = pruning, warmup_epochs, data_print

    def run(self, executor, n_jobs: int, timeout: Optional[float], progress: Union[bool, str]) -> None:
        pool, owned, threads = _make_executor(executor, n_jobs)
        local = executor is None or executor == "threads"
        line = _Progress(self.n_trials, self.key, progress)
        start = time.perf_counter()
        running: Dict[cf.Future, Tuple[optuna.trial.Trial, Dict[str, Any], Hyperparameters]] = {}
        try:
            with _threads(threads) if local else contextlib.nullcontext():
                while True:
                    out_of_time = timeout is not None and time.perf_counter() - start > timeout
                    while not out_of_time and len(running) < n_jobs and self._room(len(running)):
                        trial = self.study.ask()
                        try:
                            params, hp = self.propose(trial)
                        except (ValueError, TypeError) as exc:  # an impossible combination: recorded, not fatal
                            _record(self.study, trial, getattr(exc, "params", {}), None,
                                    TrialResult(trial.number, "failed", error=str(exc)), self.data_print)
                            continue
                        spec = TrialSpec(trial.number, hp.to_dict(), *self.data, self.key, self.sign,
                                         _thresholds(self.study, self.sign, hp.epochs) if self.pruning else [],
                                         self.warmup_epochs)
                        future = pool.submit(run_trial, spec) if local else pool.submit(_run_in_worker, spec, threads)
                        running[future] = (trial, params, hp)
                    if not running:
                        break
                    finished, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
                    for future in finished:
                        trial, params, hp = running.pop(future)
                        try:
                            result = future.result()
                        except Exception as exc:  # the executor failed (a worker died, pickling, ...)
                            result = TrialResult(trial.number, "failed", error=f"{type(exc).__name__}: {exc}")
                        _record(self.study, trial, params, hp, result, self.data_print)
                    line.update(_counted(self.study), len(running), self._best())
        finally:
            line.close()
            if owned:
                pool.shutdown(wait=True, cancel_futures=True)

    def _room(self, running: int) -> bool:
        if _counted(self.study) + running >= self.n_trials:
            return False
        return not self.exhaustive or _has_waiting(self.study)

    def _best(self) -> float:
        values = [t.value for t in self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        return max(values, key=lambda v: self.sign * v) if values else math.nan


def _run_in_worker(spec: TrialSpec, threads: int) -> TrialResult:
    """Entry point in another process (process pool, Dask worker): that process's nnfast threads."""
    _core.set_num_threads(threads)
    return run_trial(spec)


def _has_waiting(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


def _strategy(strategy: Union[str, Strategy], seed: int) -> Strategy:
    if isinstance(strategy, Strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    return STRATEGIES[strategy](seed=seed)


def _check_jobs(n_jobs: Any) -> int:
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive integer, got {n_jobs!r}")
    return n_jobs


def search(hp: Hyperparameters, space: Mapping[str, Any], *, train: Tuple[Any, Any],
           validation: Optional[Tuple[Any, Any]] = None, validation_size: float = 0.2,
           strategy: Union[str, Strategy] = "bayes", n_trials: Optional[int] = None, timeout: Optional[float] = None,
           storage: Optional[str] = None, study_name: str = "nnfast", resume: bool = False, n_jobs: int = 1,
           executor: Union[str, cf.Executor, None] = None, objective: str = "auto", pruning: bool = True,
           warmup_epochs: int = 5, seed: int = 0, progress: Union[bool, str] = "auto") -> Study:
    """Search hyperparameters empirically: train each configuration, score it on
    validation data, record everything.

    Parameters
    ----------
    hp : Hyperparameters
        The base configuration; the space changes some of its fields.
    space : mapping of field name -> distribution
        See :mod:`nnfast.tune.space` (``choice``, ``uniform``, ``loguniform``, ``int``,
        ``intlog``, ``layers``, and ``.when(...)`` for conditional entries).
    train : (X, y)
        Training data. The test set never enters a search: keep it for
        :meth:`Study.test`, once, after :meth:`Study.refit`.
    validation : (X_val, y_val), optional
        Scores every trial. Without it, ``validation_size`` of ``train`` is split off,
        seeded and stratified for classes.
    strategy : "grid", "random", "bayes" or a Strategy
    n_trials : int, optional
        The trial budget (default: the whole grid, or 20). Interrupted trials don't count.
    timeout : float, optional
        Start no new trial after this many seconds.
    storage : str, optional
        A file (SQLite) or an SQLAlchemy URL; None keeps the study in memory.
    resume : bool
        Continue the stored study ``study_name`` (which must have the same space, base,
        strategy, objective and data) instead of refusing to overwrite it.
    n_jobs : int
        Trials at once. nnfast's threads are shared out so the trials do not oversubscribe.
    executor : "threads" (default), "processes" or a concurrent.futures.Executor
        E.g. ``distributed.Client(...).get_executor()`` for a Dask cluster.
    objective : str
        The per-epoch history value to optimise: "auto" (validation accuracy for
        classes, R^2 for real values; maximised) or e.g. "val_loss" (minimised).
    pruning : bool
        Stop a trial whose best objective so far is below the median of completed
        trials' best at the same epoch (a trial that stopped earlier counting with its
        best value), after ``warmup_epochs`` epochs and once five trials completed.
    seed : int
        Seeds the strategy and the validation split.
    progress : bool or "auto"
        A progress line on stderr ("auto": on a terminal).

    Returns
    -------
    Study
    """
    if not isinstance(hp, Hyperparameters):
        raise TypeError(f"hp must be nnfast.Hyperparameters, got {type(hp).__name__}")
    strategy = _strategy(strategy, seed)
    n_jobs = _check_jobs(n_jobs)
    search_space = Space(space, hp)
    (X_tr, y_tr), (X_val, y_val) = _split(*train, validation, validation_size, seed)
    key, sign = objective_key(hp, y_tr, objective)
    queued = strategy.queued(search_space)
    if n_trials is None:
        n_trials = len(queued) if strategy.exhaustive else 20
    data_print = data_fingerprint(X_tr, y_tr, X_val, y_val)
    url = storage_url(storage)
    meta = {"space": search_space.to_dict(), "base": hp.to_dict(), "strategy": strategy.name, "objective": key,
            "sign": sign, "data": data_print, "storage": url, "n_trials": n_trials, "seed": seed,
            "nnfast_version": __version__}
    study = _open_study(study_name, url, strategy, resume, meta, queued)

    def propose(trial):
        params = search_space.sample(trial)
        try:
            return params, hp.replace(**params)
        except (ValueError, TypeError) as exc:
            exc.params = params
            raise

    _Driver(study, propose, n_trials, strategy.exhaustive, ((X_tr, y_tr), (X_val, y_val)), key, sign, pruning,
            warmup_epochs, data_print).run(executor, n_jobs, timeout, progress)
    return Study(study)


def run_configurations(configurations: Sequence[Hyperparameters], X: Any, y: Any, *,
                       validation: Optional[Tuple[Any, Any]] = None, validation_size: float = 0.2,
                       storage: Optional[str] = None, name: str = "nnfast-rerun", objective: str = "auto",
                       n_jobs: int = 1, executor: Union[str, cf.Executor, None] = None, seed: int = 0,
                       source: Optional[str] = None, progress: Union[bool, str] = "auto") -> Study:
    """Run the given configurations once each, as a study of their own (see :meth:`Study.rerun`)."""
    configurations = list(configurations)
    if not configurations:
        raise ValueError("no configurations to run")
    n_jobs = _check_jobs(n_jobs)
    (X_tr, y_tr), (X_val, y_val) = _split(X, y, validation, validation_size, seed)
    key, sign = objective_key(configurations[0], y_tr, objective)
    data_print = data_fingerprint(X_tr, y_tr, X_val, y_val)
    url = storage_url(storage)
    listed = [c.to_dict() for c in configurations]
    meta = {"space": {"configuration": listed}, "base": listed[0], "strategy": "listed", "objective": key,
            "sign": sign, "data": data_print, "storage": url, "n_trials": len(listed), "seed": seed,
            "nnfast_version": __version__, "rerun_of": source}
    strategy = STRATEGIES["grid"](seed=seed)
    study = _open_study(name, url, strategy, False, meta, [{"configuration": i} for i in range(len(listed))])
    base = configurations[0]

    def propose(trial):
        chosen = configurations[trial.suggest_categorical("configuration", list(range(len(listed))))]
        changed = {k: v for k, v in chosen.to_dict().items() if v != base.to_dict()[k]}
        return changed, chosen

    _Driver(study, propose, len(listed), True, ((X_tr, y_tr), (X_val, y_val)), key, sign, False, 0,
            data_print).run(executor, n_jobs, None, progress)
    return Study(study)

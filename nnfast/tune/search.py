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
training releases the GIL) and come back as plain data. Only the driver touches storage,
and one driver at a time (:class:`~nnfast.tune.storage.DriverLease`).
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import contextlib
import json
import math
import multiprocessing
import sys
import time
from contextlib import contextmanager
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import optuna

from .. import __version__, _core
from .._targets import resolve_task
from ..data import split_indices
from ..hyperparams import Hyperparameters
from ._quiet import quiet_optuna
from .space import Space
from .storage import LEASE_INTERVAL, DriverLease, data_fingerprint, open_storage, storage_url
from .strategies import STRATEGIES, Strategy
from .strategies.base import FixedSampler, PerTrialSampler
from .study import RESULT_ATTR, SETTINGS_ATTR, Study
from .trial import TrialResult, TrialSpec, objective_key, run_trial

__all__ = ["search", "run_configurations"]

#: pruning waits for this many completed trials before comparing against their median
MIN_TRIALS_FOR_PRUNING = 5
#: the layout of what nnfast writes into a study; a resume needs the same
STUDY_FORMAT = 2
#: the study settings a resume must share with the stored study
RESUME_KEYS = ("space", "base", "strategy", "objective", "seed", "data", "metadata")


def _split(hp: Hyperparameters, X: Any, y: Any, validation: Optional[Tuple[Any, Any]], validation_size: float,
           seed: int):
    # the task is decided here, once for the study, as nnfast.train decides it (its warnings said once)
    choice = hp.resolve_task(y, stacklevel=3)
    X, y = np.asarray(X), np.asarray(choice.y)
    if len(X) != len(y):
        raise ValueError(f"X has {len(X)} samples but y has {len(y)}")
    if validation is not None:
        X_val, y_val = (np.asarray(a) for a in validation)
        if choice.task == "classification" and y_val.ndim == 2 and y_val.shape[1] == 1:
            y_val = resolve_task(y_val, loss=choice.loss, stacklevel=3).y
        return (X, y), (X_val, y_val)
    strata = y if choice.task == "classification" and y.ndim == 1 else None
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
    """(executor, owned, threads per trial): the CPUs this process may use (affinity mask,
    cgroup quota), shared out between the trials that run at once."""
    cores = _core.usable_cpus()
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
        "seconds": result.seconds, "epochs": result.epochs, "stop_reason": result.stop_reason or result.state,
        "history": result.history, "curve": [None if math.isnan(v) else v for v in result.intermediate],
        "error": result.error, "point": point, "nnfast_version": __version__, "data": data_print})
    if result.state == "complete":
        study.tell(trial, result.score)
    elif result.state in ("pruned", "diverged"):
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def _with_curve(frozen: optuna.trial.FrozenTrial, stored: bool) -> optuna.trial.FrozenTrial:
    """The trial as storage keeps it (``stored``: its per-epoch curve lives in the result
    attribute, one row, not as Optuna intermediate values, a row per epoch on a database
    server), or as the mirror needs it (the curve back as intermediate values, for pruning
    and the sampler)."""
    curve = (frozen.user_attrs.get(RESULT_ATTR) or {}).get("curve") or []
    return optuna.trial.FrozenTrial(
        number=frozen.number, state=frozen.state, value=None, values=frozen.values,
        datetime_start=frozen.datetime_start, datetime_complete=frozen.datetime_complete, params=dict(frozen.params),
        distributions=dict(frozen.distributions), user_attrs=dict(frozen.user_attrs), system_attrs={},
        intermediate_values={} if stored else {e: float(v) for e, v in enumerate(curve) if v is not None},
        trial_id=0)


class _Store:
    """The stored side of a study: the Optuna study in storage and this driver's lease on
    it. Opened, leased and checked before the first trial; each finished trial is
    written whole, in one transaction; the lease is renewed between trials."""

    def __init__(self, name: str, url: str, direction: str, resume: bool, meta: Dict[str, Any]) -> None:
        self.name, self.url, self.meta = name, url, meta
        storage = open_storage(url)
        try:
            self.study = optuna.create_study(study_name=name, storage=storage, direction=direction)
            created = True
        except optuna.exceptions.DuplicatedStudyError:
            if not resume:
                raise ValueError(f"study {name!r} already exists in {url}; pass resume=True to continue it or "
                                 f"choose another study name") from None
            self.study = optuna.load_study(study_name=name, storage=storage)
            created = False
        if created:  # the settings first: a driver that resumes it meanwhile checks against them
            self.study.set_user_attr(SETTINGS_ATTR, meta)
        self.lease = DriverLease(self.study)
        self.lease.acquire()
        self._beat = time.monotonic()
        try:
            if not created:
                self._check(self.study)
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
            same = stored.get(key) == self.meta[key] or (key == "base" and _same_base(stored.get(key), self.meta[key]))
            if not same:
                raise ValueError(f"cannot resume study {self.name!r}: its {key} differs from this search's "
                                 f"(stored {json.dumps(stored.get(key))}, given {json.dumps(self.meta[key])})")
        odd = [t.number for t in study.get_trials(deepcopy=False)
               if t.state in (optuna.trial.TrialState.RUNNING, optuna.trial.TrialState.WAITING)]
        if odd:
            raise ValueError(f"cannot resume study {self.name!r}: trials {odd[:5]} are running or waiting, which "
                             f"nnfast never writes; was the study changed by another program?")


class _Driver:
    """Runs trials until the budget is spent: ask, build the configuration, submit, and
    tell the results in the order the trials were asked."""

    def __init__(self, strategy: Strategy, queued: Sequence[Dict[str, Any]], propose, n_trials: int,
                 exhaustive: bool, data, key: str, sign: float, pruning: bool, warmup_epochs: int,
                 data_print: str, meta: Dict[str, Any], name: str, url: Optional[str], resume: bool) -> None:
        self.strategy, self.queued, self.propose = strategy, list(queued), propose
        self.n_trials, self.exhaustive = n_trials, exhaustive
        self.data, self.key, self.sign = data, key, sign
        self.pruning, self.warmup_epochs, self.data_print = pruning, warmup_epochs, data_print
        self.assigned: Dict[int, int] = {}  # trial number -> index of the queued point it runs
        direction = "maximize" if sign > 0 else "minimize"
        with quiet_optuna():
            self.mirror = optuna.create_study(study_name=name, direction=direction,
                                              sampler=PerTrialSampler(self._sampler))
            self.store = None if url is None else _Store(name, url, direction, resume, meta)
            if self.store is None:
                self.mirror.set_user_attr(SETTINGS_ATTR, meta)
            else:
                self.mirror.add_trials(_with_curve(t, stored=False) for t in self.store.trials)
        done = {(t.user_attrs.get(RESULT_ATTR) or {}).get("point") for t in self.mirror.get_trials(deepcopy=False)}
        self.waiting = collections.deque(i for i in range(len(self.queued)) if i not in done)

    @property
    def study(self) -> Study:
        return Study(self.store.study if self.store is not None else self.mirror)

    def _sampler(self, number: int):
        point = self.assigned.get(number)
        return FixedSampler(self.queued[point]) if point is not None else self.strategy.sampler(number)

    def run(self, executor, n_jobs: int, timeout: Optional[float], progress: Union[bool, str]) -> None:
        try:
            self._run(executor, n_jobs, timeout, progress)
        finally:
            if self.store is not None:
                self.store.close()

    def _run(self, executor, n_jobs: int, timeout: Optional[float], progress: Union[bool, str]) -> None:
        pool, owned, threads = _make_executor(executor, n_jobs)
        local = executor is None or executor == "threads"
        line = _Progress(self.n_trials, self.key, progress)
        start = time.perf_counter()
        # in the order asked: (future, trial, params, hp, point)
        pending: Deque[Tuple[cf.Future, optuna.trial.Trial, Dict[str, Any], Optional[Hyperparameters],
                             Optional[int]]] = collections.deque()
        try:
            with _threads(threads) if local else contextlib.nullcontext(), quiet_optuna():
                while True:
                    out_of_time = timeout is not None and time.perf_counter() - start > timeout
                    while not out_of_time and len(pending) < n_jobs and self._room(len(pending)):
                        pending.append(self._start(pool, local, threads))
                    if not pending:
                        break
                    future = pending[0][0]  # the oldest: results are told in the order trials were asked
                    while not cf.wait([future], timeout=1.0).done:
                        if self.store is not None:
                            self.store.beat_if_due()
                    self._finish(pending.popleft())
                    line.update(self._finished(), len(pending), self._best())
        finally:
            with quiet_optuna():  # trials that finished in order before an interruption are kept
                while pending and pending[0][0].done():
                    self._finish(pending.popleft())
            line.close()
            if owned:
                pool.shutdown(wait=True, cancel_futures=True)

    def _start(self, pool, local: bool, threads: int):
        number = len(self.mirror.get_trials(deepcopy=False))
        point = self.waiting.popleft() if self.waiting else None
        if point is not None:
            self.assigned[number] = point
        trial = self.mirror.ask()
        try:
            params, hp = self.propose(trial)
        except (ValueError, TypeError) as exc:  # an impossible combination: recorded in its turn, not fatal
            done: cf.Future = cf.Future()
            done.set_result(TrialResult(trial.number, "failed", error=str(exc)))
            return done, trial, getattr(exc, "params", {}), None, point
        spec = TrialSpec(trial.number, hp.to_dict(), *self.data, self.key, self.sign,
                         _thresholds(self.mirror, self.sign, hp.epochs) if self.pruning else [], self.warmup_epochs)
        future = pool.submit(run_trial, spec) if local else pool.submit(_run_in_worker, spec, threads)
        return future, trial, params, hp, point

    def _finish(self, entry) -> None:
        future, trial, params, hp, point = entry
        try:
            result = future.result()
        except Exception as exc:  # the executor failed (a worker died, pickling, ...)
            result = TrialResult(trial.number, "failed", error=f"{type(exc).__name__}: {exc}")
        _record(self.mirror, trial, params, hp, result, self.data_print, point)
        self.assigned.pop(trial.number, None)
        if self.store is not None:
            self.store.write(_with_curve(self.mirror.get_trials(deepcopy=False)[trial.number], stored=True))

    def _finished(self) -> int:
        return len(self.mirror.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,
                                                                   optuna.trial.TrialState.PRUNED,
                                                                   optuna.trial.TrialState.FAIL)))

    def _room(self, running: int) -> bool:
        if self._finished() + running >= self.n_trials:
            return False
        return not self.exhaustive or bool(self.waiting)

    def _best(self) -> float:
        values = [t.value for t in self.mirror.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))]
        return max(values, key=lambda v: self.sign * v) if values else math.nan


def _run_in_worker(spec: TrialSpec, threads: int) -> TrialResult:
    """Entry point in another process (process pool, Dask worker): that process's nnfast threads."""
    _core.set_num_threads(threads)
    return run_trial(spec)


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
        return _meta(base=Hyperparameters.from_dict(stored).to_dict())["base"] == given
    except (TypeError, ValueError):
        return False


def _meta(**settings: Any) -> Dict[str, Any]:
    """Study settings as the storage keeps them (JSON: tuples become lists)."""
    return json.loads(json.dumps({**settings, "nnfast_version": __version__, "nnfast_format": STUDY_FORMAT}))


def search(hp: Hyperparameters, space: Mapping[str, Any], *, train: Tuple[Any, Any],
           validation: Optional[Tuple[Any, Any]] = None, validation_size: float = 0.2,
           strategy: Union[str, Strategy] = "bayes", n_trials: Optional[int] = None, timeout: Optional[float] = None,
           storage: Optional[str] = None, study_name: str = "nnfast", resume: bool = False, n_jobs: int = 1,
           executor: Union[str, cf.Executor, None] = None, objective: str = "auto", pruning: bool = True,
           warmup_epochs: int = 5, seed: int = 0, progress: Union[bool, str] = "auto",
           metadata: Optional[Mapping[str, Any]] = None) -> Study:
    """Search hyperparameters empirically: train each configuration, score it on
    validation data, record everything.

    Parameters
    ----------
    hp : Hyperparameters
        The base configuration; the space changes some of its fields.
    space : mapping of field name -> distribution
        See :mod:`nnfast.tune.space` (``choice``, ``uniform``, ``loguniform``, ``int``,
        ``intlog``, ``layers``, and ``.when(...)`` for conditional entries). Every entry is
        checked against :class:`~nnfast.Hyperparameters` before any trial runs.
    train : (X, y)
        Training data. The test set never enters a search: keep it for
        :meth:`Study.test`, once, after :meth:`Study.refit`.
    validation : (X_val, y_val), optional
        Scores every trial. Without it, ``validation_size`` of ``train`` is split off,
        seeded and stratified for classes.
    strategy : "grid", "random", "bayes" or a Strategy
    n_trials : int, optional
        The trial budget (default: the whole grid, or 20), counting every finished trial
        (complete, pruned, diverged or failed).
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
        every run with the same ``n_jobs``.
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
    metadata : mapping, optional
        JSON data recorded with the study when it is created (e.g. how the data was
        prepared); a resume must give the same.

    Returns
    -------
    Study

    Raises
    ------
    ValueError
        For a bad space (unknown field, value outside a field's domain, ...), a study that
        exists (without ``resume``) or differs from this search (with it).
    nnfast.tune.StudyBusyError
        If another live driver is running the stored study.
    """
    if not isinstance(hp, Hyperparameters):
        raise TypeError(f"hp must be nnfast.Hyperparameters, got {type(hp).__name__}")
    strategy = _strategy(strategy, seed)
    n_jobs = _check_count(n_jobs, "n_jobs")
    search_space = Space(space, hp)
    queued = strategy.queued(search_space)
    if n_trials is None:
        n_trials = len(queued) if strategy.exhaustive else 20
    n_trials = _check_count(n_trials, "n_trials")
    (X_tr, y_tr), (X_val, y_val) = _split(hp, *train, validation, validation_size, seed)
    key, sign = objective_key(hp, y_tr, objective)
    data_print = data_fingerprint(X_tr, y_tr, X_val, y_val)
    url = storage_url(storage)
    meta = _meta(space=search_space.to_dict(), base=hp.to_dict(), strategy=strategy.name, objective=key, sign=sign,
                 data=data_print, storage=url, n_trials=n_trials, seed=seed, metadata=dict(metadata or {}))

    def propose(trial):
        params = search_space.sample(trial)
        try:
            return params, hp.replace(**params)
        except (ValueError, TypeError) as exc:
            exc.params = params
            raise

    driver = _Driver(strategy, queued, propose, n_trials, strategy.exhaustive, ((X_tr, y_tr), (X_val, y_val)), key,
                     sign, pruning, warmup_epochs, data_print, meta, study_name, url, resume)
    driver.run(executor, n_jobs, timeout, progress)
    return driver.study


def run_configurations(configurations: Sequence[Hyperparameters], X: Any, y: Any, *,
                       validation: Optional[Tuple[Any, Any]] = None, validation_size: float = 0.2,
                       storage: Optional[str] = None, name: str = "nnfast-rerun", objective: str = "auto",
                       n_jobs: int = 1, executor: Union[str, cf.Executor, None] = None, seed: int = 0,
                       source: Optional[str] = None, progress: Union[bool, str] = "auto") -> Study:
    """Run the given configurations once each, as a study of their own (see :meth:`Study.rerun`)."""
    configurations = list(configurations)
    if not configurations:
        raise ValueError("no configurations to run")
    n_jobs = _check_count(n_jobs, "n_jobs")
    (X_tr, y_tr), (X_val, y_val) = _split(configurations[0], X, y, validation, validation_size, seed)
    key, sign = objective_key(configurations[0], y_tr, objective)
    data_print = data_fingerprint(X_tr, y_tr, X_val, y_val)
    url = storage_url(storage)
    listed = [c.to_dict() for c in configurations]
    meta = _meta(space={"configuration": listed}, base=listed[0], strategy="listed", objective=key, sign=sign,
                 data=data_print, storage=url, n_trials=len(listed), seed=seed, metadata={}, rerun_of=source)
    base = configurations[0]

    def propose(trial):
        chosen = configurations[trial.suggest_categorical("configuration", list(range(len(listed))))]
        changed = {k: v for k, v in chosen.to_dict().items() if v != base.to_dict()[k]}
        return changed, chosen

    driver = _Driver(STRATEGIES["grid"](seed=seed), [{"configuration": i} for i in range(len(listed))], propose,
                     len(listed), True, ((X_tr, y_tr), (X_val, y_val)), key, sign, False, 0, data_print, meta, name,
                     url, False)
    driver.run(executor, n_jobs, None, progress)
    return driver.study

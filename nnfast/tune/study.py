"""A tuning study: every trial on record, the best configurations, and the test lockbox.

Studies live in Optuna storage (an SQLite file by default, see :mod:`nnfast.tune.storage`),
so a study can be resumed, reported and re-run later, and Optuna's own tools read it
through :func:`nnfast.tune.open_storage`.
"""

from __future__ import annotations

import datetime
import decimal
import errno
import hashlib
import math
import numbers
import os
import shlex
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

import numpy as np
import optuna

from ..hyperparams import Hyperparameters
from ..training import train
from .storage import LEASE_PREFIX, data_fingerprint, open_storage, sqlite_path, storage_url

if TYPE_CHECKING:
    import concurrent.futures as cf

    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

    from ..model import Sequential

__all__ = ["Study", "TrialRecord", "Rescored", "load_study", "storage_url", "data_fingerprint"]


@dataclass(frozen=True)
class TrialRecord:
    """One trial as recorded: what was tried, how it scored, what it cost."""

    number: int
    state: str                     # complete, pruned, diverged, failed (running, waiting: not written by nnfast)
    score: float
    seconds: float
    epochs: int
    stop_reason: str
    hyperparameters: Optional[Hyperparameters]
    params: Dict[str, Any]         # the searched values, as the space's entries
    history: Dict[str, Any] = field(repr=False, default_factory=dict)
    error: str = ""
    score_loss: float = math.nan   # the validation cost over the scored epochs: breaks ties of the score
    score_se: float = math.nan     # the score's standard error (folds, or per-sample results); NaN if unknown


#: the user attribute of a trial that holds everything nnfast recorded of it, and of a
#: study that holds its settings (one JSON document each, so storage writes one row)
RESULT_ATTR = SETTINGS_ATTR = "nnfast"


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _record(frozen: optuna.trial.FrozenTrial) -> TrialRecord:
    attrs = frozen.user_attrs.get(RESULT_ATTR) or {}
    state = frozen.state
    if state == optuna.trial.TrialState.COMPLETE:
        name = "complete"
    elif state == optuna.trial.TrialState.PRUNED:
        name = "diverged" if attrs.get("stop_reason") == "diverged" else "pruned"
    elif state == optuna.trial.TrialState.FAIL:
        name = "failed"
    else:
        name = state.name.lower()
    hp = attrs.get("hyperparameters")
    ours = RESULT_ATTR in frozen.user_attrs  # else a trial of Optuna's own: its value and params
    score = attrs.get("score") if ours else frozen.value
    hyperparameters = Hyperparameters.from_dict(hp) if hp else None
    params = dict(attrs.get("searched", {}) if ours else frozen.params)
    if hyperparameters is not None and isinstance(params.get("class_weight"), dict) \
            and isinstance(hyperparameters.class_weight, tuple):  # JSON made its labels strings: {'0': 2.0}
        params["class_weight"] = dict(hyperparameters.class_weight)
    return TrialRecord(
        number=frozen.number, state=name, score=_number(score),
        seconds=_number(attrs.get("seconds")), epochs=int(attrs.get("epochs") or 0),
        stop_reason=attrs.get("stop_reason", ""), hyperparameters=hyperparameters,
        params=params, history=attrs.get("history", {}),
        error=attrs.get("error", ""),
        score_loss=_number(attrs.get("score_loss")), score_se=_number(attrs.get("score_se")))


@dataclass(frozen=True)
class Rescored:
    """A trial's configuration scored again by :meth:`Study.rescore`: on fresh folds, the
    mean ``score`` of ``folds`` (one score per fold) and its standard error ``score_se``."""

    trial: TrialRecord
    score: float
    score_se: float
    folds: List[float]


class Study:
    """The results of :func:`nnfast.tune.search`, backed by Optuna storage.

    Attributes
    ----------
    optuna : optuna.Study
        The underlying Optuna study (for its own tools and optuna-dashboard).
    objective : str
        The per-epoch value optimised, e.g. ``"val_accuracy"``.
    direction : str
        ``"maximize"`` or ``"minimize"``.
    """

    def __init__(self, optuna_study: optuna.Study, location: Optional[str] = None) -> None:
        self.optuna = optuna_study
        self._location = location
        attrs = self.attrs
        self.objective: str = attrs.get("objective", "")
        if "sign" in attrs:
            self.direction: str = "maximize" if attrs["sign"] > 0 else "minimize"
        else:  # a study nnfast did not write: Optuna's own direction
            self.direction = optuna_study.direction.name.lower()
        self.model: Optional[Sequential] = None  # the model refit() trained, kept for test()

    @property
    def name(self) -> str:
        """The study's name in its storage."""
        return self.optuna.study_name

    @property
    def sign(self) -> float:
        """+1 when a larger score is better (accuracy, R²), -1 when smaller is (a cost)."""
        return 1.0 if self.direction == "maximize" else -1.0

    @property
    def attrs(self) -> Dict[str, Any]:
        """The study's settings (space, base, strategy, objective, data, ...) and what was
        recorded after the search (refit, test_looks)."""
        stored = self.optuna.user_attrs
        return {**(stored.get(SETTINGS_ATTR) or {}),
                **{k: v for k, v in stored.items() if k != SETTINGS_ATTR and not k.startswith(LEASE_PREFIX)}}

    @property
    def storage(self) -> Optional[str]:
        """str or None: where the study is kept now: the file or URL it was loaded from
        (:func:`load_study`), else where it was created (``attrs["storage"]``, recorded
        then); None in memory. A study file copied or moved elsewhere and loaded from
        there is that new place."""
        return self._location if self._location is not None else self.attrs.get("storage")

    def storage_text(self) -> str:
        """:attr:`storage` for people: the path, saying where the study was created when
        that was another place (a copied or moved file); "in memory" without storage."""
        here, created = self.storage, self.attrs.get("storage")
        if here is None:
            return "in memory"
        if created and created != here:
            return f"{here} (created as {created})"
        return here

    @property
    def base(self) -> Hyperparameters:
        """The hyperparameters every trial starts from, before the space's values."""
        return Hyperparameters.from_dict(self.attrs["base"])

    @property
    def trials(self) -> List[TrialRecord]:
        """Every trial, in the order it was started."""
        return [_record(t) for t in self.optuna.get_trials(deepcopy=False)]

    def _scored(self) -> List[TrialRecord]:
        return [t for t in self.trials if t.state == "complete" and not math.isnan(t.score)]

    def best(self, max_seconds: Optional[float] = None) -> TrialRecord:
        """The best completed trial, optionally among those that trained within ``max_seconds``.

        Raises
        ------
        ValueError
            If the study has no completed trial with a score (none yet, or all pruned,
            diverged or failed), or none that trained within ``max_seconds`` seconds.
        """
        pool = [t for t in self._scored() if max_seconds is None or t.seconds <= max_seconds]
        if not pool:
            within = "" if max_seconds is None else f" within {max_seconds} s"
            raise ValueError(f"no completed trial{within} in study {self.name!r}")
        return min(pool, key=self._rank)

    def _rank(self, t: TrialRecord) -> Tuple[float, float, int]:
        """Sort key, best first: the score, then (ties are common for accuracy on a few
        hundred rows) the lower validation cost, then the earlier trial; never the time,
        which differs between runs."""
        loss = t.score_loss if not math.isnan(t.score_loss) else math.inf
        return (-self.sign * t.score, loss, t.number)

    def contenders(self) -> List[TrialRecord]:
        """The completed trials whose score is within one standard error of the best's,
        best first (the best included): ``|best.score - t.score| <= best.score_se``.

        The validation data cannot tell these configurations apart: on other data, or
        other folds, any of them may come out first. More than one contender is a reason to
        :meth:`rescore` them before trusting :meth:`best` (which keeps its answer). The
        rule is the "one standard error rule" of Breiman et al., *Classification and
        Regression Trees* (1984), section 3.4.3, read as a test of distinguishability. A
        best trial without a standard error (a study written before nnfast recorded it)
        has no contenders but itself.
        """
        best = self.best()
        if math.isnan(best.score_se):
            return [best]
        pool = [t for t in self._scored() if self.sign * (best.score - t.score) <= best.score_se]
        return sorted(pool, key=self._rank)

    def fastest_contender(self) -> TrialRecord:
        """The contender (:meth:`contenders`) that trained in the least time (``seconds``;
        ties by rank): what the validation data cannot tell from the best, for less time.
        The "one standard error rule" picks the simplest model within one standard error of
        the best (Hastie, Tibshirani and Friedman, *The Elements of Statistical Learning*,
        2nd ed., section 7.10); here the cheapest to train.

        Raises
        ------
        ValueError
            If no trial completed.
        """
        contenders = self.contenders()
        timed = [t for t in contenders if not math.isnan(t.seconds)]
        return min(timed, key=lambda t: (t.seconds, self._rank(t))) if timed else contenders[0]

    def rescores(self) -> List[Dict[str, Any]]:
        """What :meth:`rescore` recorded, oldest first (as stored: JSON data)."""
        return list(self.attrs.get("rescores") or [])

    def rescore(self, X: Any, y: Any, *, k: Optional[int] = None, cv: int = 5, seed: Optional[int] = None,
                n_jobs: int = 1, executor: Union[str, cf.Executor, None] = None) -> List["Rescored"]:
        """Score the top ``k`` configurations again on ``cv`` fresh folds of X, y, and record
        the result in the study (in its storage, if it has one).

        When the validation data cannot tell the best trials apart (:meth:`contenders`),
        more data can: each configuration is trained once per fold on the other folds,
        scored on its fold as the search scored it (the objective's mean over the last
        epochs), and its score is the folds' mean with their standard error
        (``merge_folds``). All configurations see the same folds.

        Parameters
        ----------
        X, y : array-like of shape (n_samples, n_features) and (n_samples,) or (n_samples, n_outputs)
            The data the study searched on (train + validation, or the cross-validated
            training data); never the test set. X is converted once, before the folds are
            cut, to the configurations' dtype when they share one, else to float64.
        k : int, optional
            How many of the best trials; default: the contenders, at least 2.
        cv : int
            Folds, at least 2.
        seed : int, optional
            Seeds the folds; default: the study's seed + 1 + the number of earlier
            rescores, so the folds are fresh (a cross-validated study's own folds used the
            study's seed).
        n_jobs, executor
            As in :func:`nnfast.tune.search`: folds side by side.

        Returns
        -------
        list of Rescored
            Best first (by score, then trial number). :meth:`best` is not changed; refit
            a rescored winner with ``study.refit(X, y, trial=result[0].trial)``.

        Raises
        ------
        ValueError
            For a study without completed trials, a bad ``k``, ``cv`` or data, the
            study's test set (recognised by the fingerprint :meth:`test` recorded), or
            data unlike the study's own (another number of feature columns, other
            DataFrame column names, or targets of another task than the study recorded
            when it was created; named in the message, before any training).
        """
        from .search import check_same_data, describe_data, score_configurations

        self._refuse_test_rows("rescore", (X, y))
        print_ = data_fingerprint(X, y)
        ranked = sorted(self._scored(), key=self._rank)
        if not ranked:
            raise ValueError(f"study {self.name!r} has no completed trial to rescore")
        if k is None:
            k = max(2, len(self.contenders()))
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer or None, got {k!r}")
        top = [t for t in ranked if t.hyperparameters is not None][:int(k)]
        if not top:
            raise ValueError(f"study {self.name!r} has no configuration to rescore (its trials failed before training)")
        check_same_data(self.attrs.get("described"), describe_data(top[0].hyperparameters, X, y), "rescore", self.name)
        earlier = self.rescores()
        if seed is None:
            seed = int(self.attrs.get("seed") or 0) + 1 + len(earlier)
        results, splitter = score_configurations([t.hyperparameters for t in top], X, y, cv=cv, seed=seed,
                                                 objective=self.objective or "auto", n_jobs=n_jobs,
                                                 executor=executor)
        pairs = [(Rescored(t, r.score, r.score_se,
                           [math.nan if f["score"] is None else f["score"] for f in r.history.get("folds", [])]), r)
                 for t, r in zip(top, results)]
        pairs.sort(key=lambda p: (-self.sign * p[0].score if not math.isnan(p[0].score) else math.inf,
                                  p[0].trial.number))
        entry = {"at": _now(), "cv": int(cv), "seed": int(seed), "folds": splitter, "data": print_,
                 "objective": self.objective,
                 "trials": [{"trial": r.trial.number, "score": _json_number(r.score),
                             "score_se": _json_number(r.score_se), "folds": [_json_number(v) for v in r.folds],
                             "state": res.state, "error": res.error} for r, res in pairs]}
        out = [r for r, _ in pairs]
        self.optuna.set_user_attr("rescores", earlier + [entry])
        return out

    def pareto(self) -> List[TrialRecord]:
        """The trials no other trial beats on both score and training time, fastest first."""
        front: List[TrialRecord] = []
        for t in sorted(self._scored(), key=lambda t: (t.seconds, -self.sign * t.score)):
            if not front or self.sign * t.score > self.sign * front[-1].score:
                front.append(t)
        return front

    def table(self) -> Union[pd.DataFrame, List[Dict[str, Any]]]:
        """Every trial as a row: a pandas DataFrame indexed by trial number when pandas is
        installed, else a list of dicts."""
        rows = self._table_rows()
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame(rows).set_index("trial") if rows else pd.DataFrame()

    def _table_rows(self) -> List[Dict[str, Any]]:
        """The rows of :meth:`table` as dicts (without importing pandas)."""
        rows = []
        for t in self.trials:
            row = {"trial": t.number, "state": t.state, self.objective or "score": t.score,
                   "score_se": t.score_se, "seconds": t.seconds, "epochs": t.epochs}
            row.update({k: (list(v) if isinstance(v, tuple) else v) for k, v in t.params.items()})
            if t.error:
                row["error"] = t.error
            rows.append(row)
        return rows

    def importances(self) -> Dict[str, float]:
        """How much each searched hyperparameter explains the score: PED-ANOVA (Watanabe et
        al., IJCAI 2023) over the completed trials, computed by ``nnfast.tune.importance.ped_anova``
        (not Optuna's evaluator, whose import costs seconds), normalised to sum to 1, largest
        first; empty when fewer than 4 trials completed or none differs in its searched values."""
        from .importance import ped_anova

        complete = optuna.trial.TrialState.COMPLETE
        trials = []
        for frozen in self.optuna.get_trials(deepcopy=False, states=(complete,)):
            record = _record(frozen)
            if not math.isnan(record.score) and frozen.params:
                trials.append((record.score, frozen.params, frozen.distributions))
        return ped_anova(trials, self.sign)

    # --- plots (matplotlib, imported when drawn; see nnfast.tune.plots) ---------------------------

    def plot_history(self, ax: Optional[Axes] = None) -> Figure | SubFigure:
        """Each trial's score by trial number, marked by how it ended, with the best so far.
        Returns the matplotlib Figure (drawn into ``ax`` when given; else a new pyplot
        figure, on the Agg backend unless one was chosen). See ``nnfast.tune.plots.plot_history``."""
        from .plots import plot_history

        return plot_history(self, ax=ax)

    def plot_curves(self, top: int = 5, ax: Optional[Axes] = None) -> Figure | SubFigure:
        """Training (dashed) and validation (solid) cost per epoch of the ``top`` best completed
        trials; returns the Figure. See ``nnfast.tune.plots.plot_curves``."""
        from .plots import plot_curves

        return plot_curves(self, top=top, ax=ax)

    def plot_pareto(self, ax: Optional[Axes] = None) -> Figure | SubFigure:
        """Score against training time (seconds, log scale) with the Pareto front of
        :meth:`pareto`; returns the Figure. See ``nnfast.tune.plots.plot_pareto``."""
        from .plots import plot_pareto

        return plot_pareto(self, ax=ax)

    def plot_importances(self, ax: Optional[Axes] = None) -> Figure | SubFigure:
        """The :meth:`importances` as horizontal bars, the largest on top; returns the Figure.
        See ``nnfast.tune.plots.plot_importances``."""
        from .plots import plot_importances

        return plot_importances(self, ax=ax)

    # --- after the search ---------------------------------------------------------------------

    def refit(self, X: Any, y: Any, *, trial: Optional[TrialRecord] = None, epochs: Optional[int] = None,
              sample_weight: Any = None, verbose: bool | str = False) -> Sequential:
        """Train the best configuration (or ``trial``'s) on all of X, y (train + validation;
        for a cross-validated study, all the training data its folds were cut from).

        The refit runs the very procedure the trial was scored on, ``nnfast.train(hp, X, y)``,
        now on more data: the same epochs, and the same early stopping (on the training
        cost, or on the rows ``validation_split`` holds out), which finds its own length on
        the larger data. A trial the study's ``trial_timeout`` stopped was scored on the
        epochs it had: its refit trains at most that many (the refit itself has no time
        limit). ``epochs`` trains for exactly that many epochs instead, without early
        stopping. Returns the model, which :meth:`test` then evaluates.
        ``X`` has shape (n_samples, n_features), ``y`` (n_samples,) or (n_samples, n_outputs);
        ``sample_weight`` (n_samples,); ``epochs`` is a count of epochs. X is read as the
        trial's dtype (float32 unless its ``dtype`` is "float64"), as :func:`nnfast.train` does.

        Raises
        ------
        ValueError
            For data unlike the study's own (another number of feature columns, other
            DataFrame column names, another task), before any training; for the test set
            or rows of it, once :meth:`test` has looked; or a bad ``epochs``.
        """
        chosen = trial or self.best()
        if chosen.hyperparameters is None:
            raise ValueError(f"trial {chosen.number} has no configuration to refit (it failed before training)")
        hp = chosen.hyperparameters
        from .search import check_same_data, describe_data

        check_same_data(self.attrs.get("described"), describe_data(hp, X, y), "refit", self.name)
        self._refuse_test_rows("refit", (X, y))
        if epochs is not None:
            if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
                raise ValueError(f"epochs must be a positive integer or None, got {epochs!r}")
            hp = hp.replace(epochs=int(epochs), patience=None, validation_split=0.0)
        elif chosen.stop_reason == "timed_out" and 0 < chosen.epochs < hp.epochs:
            hp = hp.replace(epochs=chosen.epochs)  # the epochs its score was measured on, not the unreached rest
        self.model, history = train(hp, X, y, sample_weight=sample_weight, verbose=verbose)
        self.optuna.set_user_attr("refit", {"trial": chosen.number, "epochs": history.epochs,
                                            "stop_reason": history.stop_reason, "data": data_fingerprint(X, y),
                                            "at": _now()})
        return self.model

    def test(self, X: Any, y: Any, *, force: bool = False) -> Dict[str, float]:
        """Evaluate the refit model on the test set, once.

        The look is recorded in the study; a second look raises unless ``force=True``
        (and that look is recorded too), so a test score can't quietly become a
        validation score. ``X`` has shape (n_samples, n_features), ``y`` (n_samples,) or (n_samples, n_outputs); returns
        ``{"loss": ..., "accuracy" or "r2": ...}`` as :meth:`nnfast.Sequential.evaluate` does
        (X read as the refitted model's dtype).

        Raises
        ------
        RuntimeError
            Before :meth:`refit`, or for a second look without ``force``.
        ValueError
            For a test set unlike the study's data (another number of feature columns,
            other DataFrame column names, another task), before the look is recorded.
        """
        if self.model is None:
            raise RuntimeError("call refit() first: the test set is for the final model only")
        from .search import check_same_data, describe_data

        check_same_data(self.attrs.get("described"), describe_data(self.base, X, y), "test", self.name)
        looks = list(self.attrs.get("test_looks", []))
        if looks and not force:
            first = looks[0]
            raise RuntimeError(f"the test set of study {self.name!r} was already looked at ({first['at']}: "
                               f"{first['scores']}); pass force=True to look again, which is recorded")
        scores = self.model.evaluate(X, y)
        # a test row equal to a row the study searched on is not one rescore can tell apart from
        # the search data's own: recorded, it refused the study's data with duplicate rows
        searched = set(self.optuna.user_attrs.get(SEARCH_ROWS_ATTR) or ())
        looks.append({"at": _now(), "scores": scores, "forced": bool(looks), "data": data_fingerprint(X, y),
                      "trial": self.attrs.get("refit", {}).get("trial"),
                      "rows": sorted(set(_row_digests(X)) - searched)[:_TEST_ROWS_KEPT]})
        self.optuna.set_user_attr("test_looks", looks)
        return scores

    def _refuse_test_rows(self, method: str, *pairs: Tuple[Any, Any]) -> None:
        """ValueError when a pair (X, y) is the test set :meth:`test` looked at, or holds
        rows of it (recognised by their digests: shuffled, cut or mixed in)."""
        looks = self.attrs.get("test_looks", [])
        kept = {digest for look in looks for digest in look.get("rows") or []}
        advice = (f"the test set is looked at once, at the end; {method} on the data the study searched on "
                  f"(train + validation)" if method in ("rescore", "refit") else
                  f"the test set is looked at once, at the end; {method} on other data than it")
        for X, y in pairs:
            given = data_fingerprint(X, y)
            if any(look.get("data") == given for look in looks):
                raise ValueError(f"{method} was given the study's test set: {advice}")
            shared = len(kept.intersection(_row_digests(X))) if kept else 0
            if shared:
                raise ValueError(f"{method} was given rows of the study's test set ({shared} of the {len(kept)} "
                                 f"test rows test() recorded are among them): {advice}")

    def rerun(self, X: Any, y: Any, *, validation: Optional[Tuple[Any, Any]] = None, k: int = 5,
              name: Optional[str] = None, n_jobs: int = 1, executor: Union[str, cf.Executor, None] = None,
              validation_size: float = 0.2) -> "Study":
        """Re-run the top ``k`` configurations on new data, as a new study in the same storage.

        Hyperparameters that were best on old data are worth re-checking when the data,
        the hardware or the code change. ``X`` has shape (n_samples, n_features), ``y`` (n_samples,) or (n_samples, n_outputs); ``validation``, if given, a pair
        of the same widths; ``validation_size`` a fraction of the rows, in (0, 1). X (and
        the validation X) is converted once to the trials' dtype when they share one, else
        to float64.

        Raises
        ------
        ValueError
            If ``k`` is not a positive integer, if the study has no completed trial (nothing
            to re-run), if X or the validation X is the study's test set or holds rows of
            it (as :meth:`test` recorded them), and for bad data or settings as
            :func:`~nnfast.tune.run_configurations` raises.
        """
        from .search import run_configurations

        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        top = sorted(self._scored(), key=self._rank)[:int(k)]
        if not top:
            raise ValueError(f"study {self.name!r} has no completed trial to re-run")
        self._refuse_test_rows("rerun", (X, y), *([] if validation is None else [tuple(validation)]))
        if name is None:  # a new name, also for two re-runs within one second
            taken = set(optuna.get_all_study_names(open_storage(storage_url(self.storage)))) if self.storage else set()
            name = stem = f"{self.name}-rerun-{_stamp()}"
            suffix = 1
            while name in taken:
                suffix += 1
                name = f"{stem}-{suffix}"
        return run_configurations([t.hyperparameters for t in top], X, y, validation=validation,
                                  storage=self.storage, name=name,
                                  objective=self.objective, n_jobs=n_jobs, executor=executor,
                                  validation_size=validation_size, source=self.name)

    def summary(self, top: int = 5) -> str:
        """A short text table of the study: counts, the best trials and their settings."""
        trials = self.trials
        counts: Dict[str, int] = {}
        for t in trials:
            counts[t.state] = counts.get(t.state, 0) + 1
        states = f" ({', '.join(f'{n} {s}' for s, n in sorted(counts.items()))})" if counts else ""
        lines = [f"study {self.name!r}: {_count(len(trials), 'trial')}{states}; {self.objective or 'value'}, {self.direction}"]
        scored = sorted(self._scored(), key=self._rank)
        ranked = scored[:top]
        if ranked:
            lines.append(f"{'trial':>5}  {self.objective or 'value':>14}  {'seconds':>8}  {'epochs':>6}  settings")
            for t in ranked:
                settings = ", ".join(f"{k}={_short(v)}" for k, v in t.params.items())
                lines.append(f"{t.number:>5}  {t.score:>14.4f}  {seconds_text(t.seconds):>8}  {t.epochs:>6}  {settings}")
            if len(scored) > top:
                lines.append(f"  (the best {top} of {len(scored)} scored trials; summary(top=k) or "
                             f"`nnfast report --top K` shows more)")
            lines.extend(self.contenders_note())
        failures: Dict[str, List[int]] = {}
        for t in trials:
            if t.state == "failed":
                first = (t.error or "no error recorded").strip().splitlines()
                failures.setdefault(first[0] if first else "no error recorded", []).append(t.number)
        timed_out = [t.number for t in trials if t.stop_reason == "timed_out"]
        if timed_out:
            more = f" and {len(timed_out) - 8} more" if len(timed_out) > 8 else ""
            which = ", ".join(map(str, timed_out[:8])) + more
            budget = self.attrs.get("trial_timeout")
            lines.append(f"timed out: trial{'s' if len(timed_out) > 1 else ''} {which} "
                         f"(trial_timeout {_short(budget)} s), scored on the epochs they had")
        for error, failed in failures.items():
            which = ", ".join(map(str, failed[:8])) + (f" and {len(failed) - 8} more" if len(failed) > 8 else "")
            lines.append(f"failed: trial{'s' if len(failed) > 1 else ''} {which}: {error}")
        return "\n".join(lines)

    def contenders_note(self) -> List[str]:
        """The lines that say the validation data cannot tell the best trials apart (none
        when it can), and what the rescores on record found."""
        lines: List[str] = []
        try:
            contenders = self.contenders()
        except ValueError:
            return lines
        if len(contenders) > 1:
            best = contenders[0]
            cv = self.attrs.get("cv")
            source = f"{cv}-fold cross-validation" if cv else "the validation data"
            numbers_ = ", ".join(str(t.number) for t in contenders[:10]) + (" ..." if len(contenders) > 10 else "")
            lines.append(f"{len(contenders)} configurations (trials {numbers_}) score within one standard error "
                         f"({best.score_se:.4f}) of the best: {source} cannot tell these {len(contenders)} "
                         f"configurations apart. best() keeps trial {best.number}; re-score them on fresh folds "
                         f"with {self.rescore_advice(len(contenders))} before trusting the pick.")
            fastest = self.fastest_contender()
            if fastest.number != best.number and fastest.seconds < best.seconds:
                lines.append(f"fastest within one standard error of the best: trial {fastest.number}, "
                             f"{fastest.score:.4f} in {seconds_text(fastest.seconds)} s (the best, trial "
                             f"{best.number}: {best.score:.4f} in {seconds_text(best.seconds)} s); "
                             f"study.best(max_seconds={self._time_bound(fastest)}) picks it, as does "
                             f"study.fastest_contender().")
        for entry in self.rescores():
            scored = [r for r in entry.get("trials", []) if r.get("score") is not None]
            ranked = ", ".join(f"trial {r['trial']} {r['score']:.4f} ± {_number(r.get('score_se')):.4f}"
                               for r in scored[:5])
            lines.append(f"rescored ({entry.get('at', '?')}) on {entry.get('cv')} fresh folds, seed "
                         f"{entry.get('seed')}: {ranked or 'no configuration completed'}")
        return lines

    def rescore_advice(self, k: int) -> str:
        """How to re-score the top ``k`` configurations, as a phrase: ``study.rescore(X, y,
        k=K, cv=5)``, and for a study started by ``nnfast tune`` (which records its command
        line in ``attrs["metadata"]["cli"]``) first the command ``nnfast rescore STUDY.db
        --top K``, which rereads the study's own data."""
        python = f"study.rescore(X, y, k={k}, cv=5)"
        if not (self.attrs.get("metadata") or {}).get("cli"):
            return python
        storage = self.storage
        if storage is None:
            return (f"nnfast rescore STUDY.db --top {k} (run nnfast tune with --storage STUDY.db to keep the "
                    f"study) or {python} in Python")
        path = sqlite_path(storage) or storage
        here = os.path.join(os.getcwd(), "")
        if path.startswith(here):  # a file below the working directory: as the user would type it
            path = path[len(here):]
        named = f" --study-name {shlex.quote(self.name)}" if self.name != "nnfast" else ""
        return f"nnfast rescore {shlex.quote(path)}{named} --top {k} (or {python} in Python)"

    def _time_bound(self, chosen: TrialRecord) -> str:
        """The shortest decimal ``max_seconds`` for which :meth:`best` picks ``chosen``: at
        least its ``seconds`` and below those of every trial ranked before it (as text,
        exact when no shorter decimal fits)."""
        better = [t.seconds for t in self._scored()
                  if self._rank(t) < self._rank(chosen) and not math.isnan(t.seconds)]
        ceiling = min(better, default=math.inf)
        exact = decimal.Decimal(chosen.seconds)
        for digits in range(1, 18):
            step = decimal.Decimal(1).scaleb(exact.adjusted() - digits + 1)
            for rounding in (decimal.ROUND_HALF_EVEN, decimal.ROUND_CEILING):
                bound = float(exact.quantize(step, rounding=rounding))
                if chosen.seconds <= bound < ceiling:
                    return _shortest(bound)
        return _shortest(chosen.seconds)

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, trials={len(self.optuna.trials)}, objective={self.objective!r})"


def _count(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless ``n`` is 1 (1 trial, 3 trials)."""
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _shortest(value: float) -> str:
    """A float as Python reads it back exactly, without a trailing ``.0`` (2.0 -> 2)."""
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def seconds_text(seconds: float) -> str:
    """A training time for display, in seconds: two decimals from one second up, three
    significant digits below (0.03, 0.0812), so short trials do not all read 0.0."""
    if not isinstance(seconds, numbers.Real) or math.isnan(seconds):
        return "?"
    return f"{seconds:.2f}" if abs(seconds) >= 1 else f"{seconds:.3g}"


def _json_number(value: float) -> Optional[float]:
    return None if value is None or math.isnan(value) else float(value)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(list(value)) if isinstance(value, tuple) else str(value)


#: how many of the test set's rows test() records (by digest, 16 bytes of JSON each), for
#: rescore and rerun to recognise test rows in other data: a shuffled, cut or mixed-in test
#: set, not only the same one; every row of a test set up to this size
_TEST_ROWS_KEPT = 100_000


#: the study's user attribute holding the digests of the rows it searched on (train and
#: validation), up to _TEST_ROWS_KEPT of them: test() does not record a test row that equals
#: one of them, which rescore, rerun and refit would otherwise refuse in the study's own data
SEARCH_ROWS_ATTR = "search_rows"


def search_row_digests(train: Tuple[Any, Any], validation: Optional[Tuple[Any, Any]]) -> Optional[List[str]]:
    """The sorted distinct digests of the rows of ``train``'s X and ``validation``'s X (as
    given, before any conversion), or None past _TEST_ROWS_KEPT rows (not kept)."""
    parts = [train[0]] + ([] if validation is None else [validation[0]])
    if sum(len(part) for part in parts) > _TEST_ROWS_KEPT:
        return None
    return sorted({digest for part in parts for digest in _row_digests(part)})


def _row_digests(X: Any) -> List[str]:
    """One short digest per row of X: a row's identity, whatever the order of the rows or
    what other rows come with it. Of its values rounded to float32, the dtype trials train
    in by default: a test row given again as float32 (or changed in its last float64 bits)
    is the same row to a float32 model, and was let through as another."""
    from .._validation import check_matrix

    with np.errstate(over="ignore"):  # past float32's range: inf, still one digest per row
        rows = np.ascontiguousarray(check_matrix(X, "X", np.dtype(np.float64)).astype(np.float32)) + np.float32(0)
    return [hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest() for row in rows]


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _stamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S")


def check_study_file(storage: str) -> None:
    """Refuse an SQLite study location that holds no study file, before it is opened:
    opening would make a database of it (a stray file where a path was mistyped, or the
    user's empty file changed).

    Raises
    ------
    FileNotFoundError
        If the file does not exist (or is not a regular file): "no study file PATH".
    ValueError
        If the file is empty.
    """
    path = sqlite_path(storage)
    if path is None:
        return
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, f"no study file {path}", path)
    if os.path.getsize(path) == 0:
        raise ValueError(f"{path} is empty, not a study (nnfast tune --storage writes one)")


def load_study(storage: str, name: Optional[str] = None) -> Study:
    """A stored study: ``name``, or when it is None the only one in the storage, not
    counting the re-runs :meth:`Study.rerun` added beside it.

    Raises
    ------
    FileNotFoundError
        If ``storage`` names an SQLite file that does not exist (nothing is created).
    ValueError
        If ``storage`` names an empty file (left as it is), if ``name`` is None and
        ``storage`` does not hold exactly one study besides re-runs, or if it
        holds no study named ``name`` (the message lists the names it holds), or if
        ``storage`` is a file that is not an SQLite database.
    """
    check_study_file(storage)
    backend = open_storage(storage_url(storage))
    names = optuna.get_all_study_names(backend)
    if name is None:
        searched = [n for n in names if len(names) == 1 or not (optuna.load_study(
            study_name=n, storage=backend).user_attrs.get(SETTINGS_ATTR) or {}).get("rerun_of")]
        if len(searched) != 1:
            raise ValueError(f"{storage} holds studies {names}; name the one to load")
        name = searched[0]
    elif name not in names:
        raise ValueError(f"{storage} holds no study named {name!r}; it holds {names}")
    return Study(optuna.load_study(study_name=name, storage=backend), location=storage_url(storage))

"""Search spaces from plain values.

A space maps :class:`~nnfast.Hyperparameters` field names to distributions::

    {"lr": loguniform(1e-4, 0.3),
     "hidden": layers(depth=int(1, 3), width=intlog(16, 256)),
     "optimizer": choice(["adam", "sgd"]),
     "momentum": uniform(0.5, 0.99).when(optimizer="sgd")}

``when`` makes an entry conditional: it is sampled only when the named fields (sampled
earlier, or fixed in the base hyperparameters) have the given value (or one of a list of
values); otherwise the field keeps its base value. Every distribution turns into Optuna
suggestions (random and Bayesian search) and into finite points (grid search:
continuous ranges need explicit ``points``).
"""

from __future__ import annotations

import builtins
import itertools
import json
import math
import numbers
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..layers import SCALED_INITIALIZERS
from ..hyperparams import OPTIMIZER_SETTINGS, SCHEDULE_SETTINGS, Hyperparameters, check_names

if TYPE_CHECKING:
    import optuna

__all__ = ["Distribution", "choice", "uniform", "loguniform", "int", "intlog", "layers", "Space"]

_PRIMITIVES = (type(None), bool, builtins.int, float, str)

#: an entry's conditions: (field name, the values under which the entry is active) pairs
Conditions = Tuple[Tuple[str, Tuple[Any, ...]], ...]


def _encode(value: Any) -> Any:
    """Optuna categorical choices must be primitives: others travel as JSON text; a dict
    as its (key, value) pairs, since JSON turns keys into strings (class_weight {0: 2.0}
    came back as {'0': 2.0}, which no class of integer labels matches)."""
    if isinstance(value, _PRIMITIVES):
        return value
    if isinstance(value, dict):
        return "pairs:" + json.dumps([[k, v] for k, v in value.items()])
    return "json:" + json.dumps(value)


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("pairs:"):
        return {k: v for k, v in json.loads(value[6:])}
    if isinstance(value, str) and value.startswith("json:"):
        loaded = json.loads(value[5:])
        return tuple(loaded) if isinstance(loaded, list) else loaded
    return value


@dataclass(frozen=True)
class Distribution:
    """Base of the search-space entries. ``conditions`` maps field names to the values
    under which this entry is active."""

    conditions: Conditions = field(default=(), kw_only=True)

    def when(self, **conditions: Any) -> "Distribution":
        """This entry, active only when each named field has the given value (or one of a
        list). For ``hidden``, whose values are themselves sequences, a sequence of
        integers is one value (``hidden=(32,)``) and a list of them the alternatives
        (``hidden=[(32,), (64, 32)]``)."""
        def alternatives(name: str, v: Any) -> Tuple[Any, ...]:
            if name == "hidden" and isinstance(v, (list, tuple)):
                if all(isinstance(w, numbers.Integral) and not isinstance(w, bool) for w in v):
                    return (tuple(v),)
                return tuple(tuple(w) if isinstance(w, (list, tuple)) else w for w in v)
            return tuple(v) if isinstance(v, (list, tuple)) else (v,)

        more = tuple((name, alternatives(name, v)) for name, v in conditions.items())
        return replace(self, conditions=self.conditions + more)

    def active(self, values: Mapping[str, Any]) -> bool:
        return all(values.get(name) in allowed for name, allowed in self.conditions)

    # subclasses implement these three
    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        raise NotImplementedError

    def points(self) -> List[Any]:
        raise NotImplementedError

    def params(self, name: str, value: Any) -> Dict[str, Any]:
        """The Optuna parameters that make this entry take ``value`` (for queued trials)."""
        return {name: value}

    def can_take(self, value: Any) -> bool:
        """Whether a trial can draw ``value`` from this entry."""
        raise NotImplementedError

    def to_dict(self) -> Dict[str, Any]:
        """The entry as plain data (JSON-ready): its type, settings and conditions."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "conditions"}
        data = {k: (v.to_dict() if isinstance(v, Distribution) else v) for k, v in data.items()}
        return {"type": type(self).__name__, **data,
                "conditions": {name: list(values) for name, values in self.conditions}}


def _check_range(low: float, high: float, log: bool, what: str) -> None:
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"{what} needs finite low < high, got {low}, {high}")
    if log and low <= 0:
        raise ValueError(f"{what} needs low > 0, got {low}")


@dataclass(frozen=True)
class Choice(Distribution):
    """The entry :func:`~nnfast.tune.choice` returns: one of a fixed set of values.

    Attributes
    ----------
    values : tuple
        The values, in the order given: numbers, strings, booleans, None, or tuples of
        them (layer widths); a single value is fixed, not searched. A grid search tries each.
    """

    values: Tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("choice needs at least one value")
        object.__setattr__(self, "values", tuple(_plain(v) for v in self.values))

    def suggest(self, trial: optuna.Trial, name: str) -> Any:
        if len(self.values) == 1:  # a fixed value is not a search dimension
            return self.values[0]
        return _decode(trial.suggest_categorical(name, [_encode(v) for v in self.values]))

    def points(self) -> List[Any]:
        return list(self.values)

    def params(self, name: str, value: Any) -> Dict[str, Any]:
        return {} if len(self.values) == 1 else {name: _encode(value)}

    def can_take(self, value: Any) -> bool:
        return value in self.values


@dataclass(frozen=True)
class Float(Distribution):
    """The entry :func:`~nnfast.tune.uniform` and :func:`~nnfast.tune.loguniform` return: a real number in [low, high].

    Attributes
    ----------
    low, high : float
        The bounds, both included (finite, low < high; low > 0 when ``log``).
    log : bool
        Drawn uniformly in log scale (:func:`~nnfast.tune.loguniform`), else uniformly.
    grid : tuple of float or None
        The values a grid search tries (``points=``), each within [low, high]; None: a
        grid search refuses the entry (a continuous range has no points).
    """

    low: float = 0.0
    high: float = 1.0
    log: bool = False
    grid: Optional[Tuple[float, ...]] = None

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, self.log, "loguniform" if self.log else "uniform")
        if self.grid is not None:
            object.__setattr__(self, "grid", tuple(float(v) for v in self.grid))
            outside = [v for v in self.grid if not self.low <= v <= self.high]
            if outside or not self.grid:
                kind = "loguniform" if self.log else "uniform"
                raise ValueError(f"{kind}({self.low}, {self.high}) has points outside its range: {outside}"
                                 if outside else f"{kind}({self.low}, {self.high}): points=[] gives no grid point")

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def can_take(self, value: Any) -> bool:
        return _is_real(value) and self.low <= value <= self.high

    def points(self) -> List[Any]:
        if self.grid is None:
            kind = "loguniform" if self.log else "uniform"
            raise ValueError(f"grid search needs explicit points for a continuous range: "
                             f"{kind}({self.low}, {self.high}, points=[...]) or choice([...])")
        return list(self.grid)


@dataclass(frozen=True)
class Int(Distribution):
    """The entry :func:`~nnfast.tune.int` and :func:`~nnfast.tune.intlog` return: an integer in [low, high].

    Attributes
    ----------
    low, high : int
        The bounds, both included (low < high).
    log : bool
        Drawn uniformly in log scale (:func:`~nnfast.tune.intlog`), else uniformly. A grid search tries
        every integer from low to high.
    """

    low: builtins.int = 0
    high: builtins.int = 1
    log: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.low, builtins.int) and isinstance(self.high, builtins.int)):
            raise TypeError("int and intlog take integer bounds")
        _check_range(self.low, self.high, self.log, "intlog" if self.log else "int")

    def suggest(self, trial: optuna.Trial, name: str) -> builtins.int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def points(self) -> List[Any]:
        return list(range(self.low, self.high + 1))

    def can_take(self, value: Any) -> bool:
        return _is_real(value) and float(value).is_integer() and self.low <= value <= self.high


@dataclass(frozen=True)
class Layers(Distribution):
    """The entry :func:`~nnfast.tune.layers` returns: hidden-layer widths ``round(width * shrink**i)``
    for ``i < depth`` (each at least 1 unit), a tuple of int.

    Attributes
    ----------
    depth, width, shrink : Distribution
        The entries the number of hidden layers, the first layer's width and the ratio of
        each next width to the previous are drawn from (Optuna parameters
        ``NAME.depth``, ``NAME.width``, ``NAME.shrink``); ``shrink`` is ``choice([1.0])``
        when :func:`~nnfast.tune.layers` is not given one. A grid search tries their product.
    """

    depth: Distribution
    width: Distribution
    shrink: Distribution

    def __post_init__(self) -> None:
        for part in ("depth", "width", "shrink"):
            if not isinstance(getattr(self, part), Distribution):
                raise TypeError(f"layers({part}=...) takes a distribution such as int(1, 3) or choice([...])")

    @staticmethod
    def compose(depth: builtins.int, width: builtins.int, shrink: float) -> Tuple[builtins.int, ...]:
        return tuple(max(1, builtins.int(round(width * shrink**i))) for i in range(depth))

    def suggest(self, trial: optuna.Trial, name: str) -> Tuple[builtins.int, ...]:
        return self.compose(self.depth.suggest(trial, name + ".depth"), self.width.suggest(trial, name + ".width"),
                            self.shrink.suggest(trial, name + ".shrink"))

    def points(self) -> List[Any]:
        return list(itertools.product(self.depth.points(), self.width.points(), self.shrink.points()))

    def params(self, name: str, value: Any) -> Dict[str, Any]:
        depth, width, shrink = value
        return {**self.depth.params(name + ".depth", depth), **self.width.params(name + ".width", width),
                **self.shrink.params(name + ".shrink", shrink)}

    def decode_point(self, point: Tuple[Any, Any, Any]) -> Tuple[builtins.int, ...]:
        return self.compose(*point)

    def can_take(self, value: Any) -> bool:
        if not isinstance(value, (tuple, list)) or not self.depth.can_take(len(value)):
            return False
        if len(value) == 0:
            return True
        if not self.width.can_take(value[0]):
            return False
        shrinks = list(self.shrink.values) if isinstance(self.shrink, Choice) else [
            value[1] / value[0] if len(value) > 1 else 1.0]
        return any(self.shrink.can_take(r) and self.compose(len(value), value[0], r) == tuple(value) for r in shrinks)


def choice(values: Sequence[Any]) -> Choice:
    """One of ``values`` (numbers, strings, booleans, or tuples such as layer widths)."""
    return Choice(values=tuple(values))


def uniform(low: float, high: float, points: Optional[Sequence[float]] = None) -> Float:
    """A real number in [low, high]; ``points`` are its values in a grid search."""
    return Float(low=float(low), high=float(high), grid=None if points is None else tuple(points))


def loguniform(low: float, high: float, points: Optional[Sequence[float]] = None) -> Float:
    """A positive real in [low, high], uniform in log scale (learning rates, penalties)."""
    return Float(low=float(low), high=float(high), log=True, grid=None if points is None else tuple(points))


def int(low: builtins.int, high: builtins.int) -> Int:  # noqa: A001 (the name users expect)
    """An integer in [low, high]."""
    return Int(low=low, high=high)


def intlog(low: builtins.int, high: builtins.int) -> Int:
    """An integer in [low, high], uniform in log scale (layer widths, batch sizes)."""
    return Int(low=low, high=high, log=True)


def layers(depth: Distribution, width: Distribution, shrink: Optional[Distribution] = None) -> Layers:
    """Hidden-layer widths: ``depth`` layers, the first ``width`` wide, each next one
    ``shrink`` times the previous (1.0, the default, keeps them equal)."""
    return Layers(depth=depth, width=width, shrink=shrink if shrink is not None else Choice(values=(1.0,)))


#: int: the most points a grid may have (a grid is enumerated before its first trial)
MAX_GRID_POINTS = 1_000_000


def _point_count(dist: Distribution) -> float:
    """How many points the entry gives a grid (a continuous range has to have points)."""
    if isinstance(dist, Choice):
        return len(dist.values)
    if isinstance(dist, Int):
        return dist.high - dist.low + 1
    if isinstance(dist, Float):
        return len(dist.points())  # which says that a range needs points for a grid
    if isinstance(dist, Layers):
        return math.prod(_point_count(part) for part in (dist.depth, dist.width, dist.shrink))
    return math.inf


def _plain(value: Any) -> Any:
    """A choice value as plain Python data: NumPy scalars become numbers, lists and arrays
    tuples (a study keeps its space as JSON)."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # NumPy scalars and arrays
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def _is_real(value: Any) -> bool:
    return isinstance(value, (builtins.int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: fields that decide which other fields apply: owner -> {owner's value: the fields it reads}
_OWNERS: Dict[str, Mapping[str, Tuple[str, ...]]] = {"optimizer": OPTIMIZER_SETTINGS, "schedule": SCHEDULE_SETTINGS,
           "init": {name: ("init_scale",) for name in SCALED_INITIALIZERS}}


def _ends(dist: Distribution) -> List[Any]:
    """The extreme values of a distribution (all of a choice)."""
    if isinstance(dist, Choice):
        return list(dist.values)
    if isinstance(dist, (Float, Int)):
        return [dist.low, dist.high, *(getattr(dist, "grid", None) or ())]
    return []


def _either(values: Sequence[Any]) -> str:
    texts = list(dict.fromkeys(_short(v) for v in values))
    return texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]


def _short(value: Any) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _from_dict(data: Dict[str, Any]) -> Distribution:
    data = dict(data)
    kind = data.pop("type")
    conditions = tuple((k, tuple(v)) for k, v in data.pop("conditions", {}).items())
    if kind == "Layers":
        data = {k: _from_dict(v) for k, v in data.items()}
    elif kind == "Choice":
        data["values"] = tuple(data["values"])
    elif kind == "Float" and data.get("grid") is not None:
        data["grid"] = tuple(data["grid"])
    classes: Dict[str, type[Distribution]] = {"Choice": Choice, "Float": Float, "Int": Int, "Layers": Layers}
    cls = classes[kind]
    return cls(**data, conditions=conditions)


class Space:
    """A validated search space over the fields of a base :class:`~nnfast.Hyperparameters`.

    Parameters
    ----------
    entries : mapping of field name -> distribution
        A distribution (``choice``, ``uniform``, ``loguniform``, ``int``, ``intlog``,
        ``layers``) or a plain list of values (a choice) per field of ``base``.
    base : Hyperparameters
        The configuration the entries change.

    Raises
    ------
    TypeError
        If an entry is neither a distribution nor a list or tuple of values, or if a
        value it can take has a type its field refuses (the message names the entry).
    ValueError
        If ``entries`` is empty; if a key, or a field a condition names, is not a
        hyperparameter; if ``layers(...)`` is given for a field other than ``hidden``,
        or its depth, width or shrink is out of range; if a value an entry can take (a
        choice, the ends of a range, a grid point) is outside its field's domain, also
        under each dtype the search tries; if the conditions form a cycle or one never
        holds; or if a setting of one optimizer or schedule (``momentum``, ``decay_rate``,
        ...) is searched where another is also tried, without a condition.
    """

    def __init__(self, entries: Mapping[str, Any], base: Hyperparameters) -> None:
        self.base = base
        self.entries: Dict[str, Distribution] = {}
        for name, dist in entries.items():
            check_names({name: None}, "in the search space")
            if isinstance(dist, (list, tuple)):
                dist = choice(dist)  # a plain list of values is a choice
            if not isinstance(dist, Distribution):
                raise TypeError(f"search entry {name!r} must be a distribution (choice, uniform, ...) or a list")
            if isinstance(dist, Layers) and name != "hidden":
                raise ValueError("layers(...) describes 'hidden' only")
            self.entries[name] = dist
        if not self.entries:
            raise ValueError("the search space is empty")
        self.order = self._resolve_order()
        self._check()

    # --- checked before any trial runs ------------------------------------------------------

    def _check(self) -> None:
        """Every entry against :class:`~nnfast.Hyperparameters`: its values (each choice, the
        ends of each range, every grid point) and the fields and values its conditions name,
        with the messages a hyperparameter given by hand gets; and settings that belong to
        one optimizer or schedule must be searched only where it is chosen."""
        for name in self.order:
            dist = self.entries[name]
            for field_name, allowed in dist.conditions:
                check_names({field_name: None}, f"in the condition of search entry {name!r}")
                for value in allowed:
                    self._check_value(field_name, value, f"the condition of search entry {name!r}")
                ranged = self.entries.get(field_name)
                if isinstance(ranged, Float) and not any(v in (ranged.grid or ()) for v in allowed):
                    # a grid search tries a range's points; other searches draw from the whole range
                    raise ValueError(f"search entry {name!r} is searched only when {field_name} is "
                                     f"{_either(allowed)}, but {field_name} is searched over a continuous range, "
                                     f"where a trial draws any one value with probability 0: make {field_name} a "
                                     f"choice, or condition on another field")
                if not any(self._can_take(field_name, v) for v in allowed):
                    raise ValueError(f"search entry {name!r} is searched only when {field_name} is "
                                     f"{_either(allowed)}, which never happens: {field_name} takes "
                                     f"{self._describe(field_name)} in this search")
            # a value can be fine in float64 and underflow in float32: each dtype the search tries
            dtypes = [None] if name == "dtype" else list(dict.fromkeys(self._possible("dtype")))
            for value in self._representatives(name, dist):
                for dtype in dtypes:
                    extra = () if dtype is None else (("dtype", (dtype,)),)
                    self._check_value(name, value, f"search entry {name!r}", (*extra, *dist.conditions))
            self._check_applies(name, dist)

    def range_conditions(self) -> List[Tuple[str, str]]:
        """(entry, field) for each condition on a field searched over a continuous range:
        only a grid search, which tries the range's points, can meet one."""
        return [(name, field_name) for name, dist in self.entries.items() for field_name, _ in dist.conditions
                if isinstance(self.entries.get(field_name), Float)]

    def _representatives(self, name: str, dist: Distribution) -> List[Any]:
        """Values that stand for the whole entry: a field's domain is an interval or a set,
        so a range whose ends are valid is valid throughout."""
        if isinstance(dist, Choice):
            return list(dist.values)
        if isinstance(dist, Float):
            return [dist.low, dist.high, *(dist.grid or ())]
        if isinstance(dist, Int):
            return [dist.low, dist.high]
        if isinstance(dist, Layers):
            for part, low in (("depth", 0), ("width", 1)):
                for value in _ends(getattr(dist, part)):
                    if isinstance(value, bool) or not isinstance(value, builtins.int) or value < low:
                        raise ValueError(f"search entry 'hidden': layers {part} must be integers >= {low}, "
                                         f"got {value!r}")
            for value in _ends(dist.shrink):
                if isinstance(value, bool) or not isinstance(value, (builtins.int, float)) or not 0 < value < math.inf:
                    raise ValueError(f"search entry 'hidden': layers shrink must be a positive number, got {value!r}")
            return [dist.compose(d, w, r) for d in _ends(dist.depth) for w in _ends(dist.width)
                    for r in _ends(dist.shrink)]
        return []

    def _can_take(self, name: str, value: Any) -> bool:
        """Whether field ``name`` can take ``value`` in this search (its base value counts
        where its entry is conditional, or not searched)."""
        dist = self.entries.get(name)
        base = getattr(self.base, name)
        if dist is None or dist.conditions:
            if value == base:
                return True
        return dist is not None and dist.can_take(value)

    def _describe(self, name: str) -> str:
        """The values field ``name`` takes, in words."""
        dist, base = self.entries.get(name), getattr(self.base, name)
        if dist is None:
            return _either([base])
        if isinstance(dist, Choice):
            text = _either(list(dist.values))
        elif isinstance(dist, (Float, Int)):
            text = f"{'an integer' if isinstance(dist, Int) else 'a number'} from {dist.low} to {dist.high}"
        else:
            text = "the layer widths layers(...) composes"
        return text + (f", or {base!r} where its conditions do not hold" if dist.conditions else "")

    def _implied(self, conditions: Iterable[Tuple[str, Tuple[Any, ...]]]) -> Dict[str, Tuple[Any, ...]]:
        """An entry's conditions with those they imply: a condition on a field that asks
        for values other than its base value holds only where that field's own entry is
        active, so that entry's conditions hold too."""
        implied: Dict[str, Tuple[Any, ...]] = {}
        pending = list(conditions)
        while pending:
            field_name, allowed = pending.pop()
            if field_name in implied:
                allowed = tuple(v for v in allowed if v in implied[field_name])
            implied[field_name] = tuple(allowed)
            dist = self.entries.get(field_name)
            if dist is not None and getattr(self.base, field_name) not in allowed:
                pending.extend((k, a) for k, a in dist.conditions if k not in implied)
        return implied

    def _possible(self, name: str, under: Optional[Mapping[str, Sequence[Any]]] = None) -> List[Any]:
        """The values field ``name`` can take in this search (a range stands for its ends),
        where the fields in ``under`` take only the values listed there."""
        dist = self.entries.get(name)
        if dist is None:
            return [getattr(self.base, name)]
        values = self._representatives(name, dist)
        under = under or {}
        always = all(k in under and all(v in allowed for v in under[k]) for k, allowed in dist.conditions)
        return values + ([] if always else [getattr(self.base, name)])

    def _enabling(self, name: str, conditions: Iterable[Tuple[str, Tuple[Any, ...]]]) -> Dict[str, Any]:
        """Settings that make field ``name`` applicable, to check its values on their own:
        an owner (optimizer, schedule, init) that reads it, momentum for Nesterov, and the
        entry's conditions."""
        context: Dict[str, Any] = {}
        for owner, table in _OWNERS.items():
            readers = [k for k, settings in table.items() if name in settings]
            if readers and getattr(self.base, owner) not in readers:
                context[owner] = readers[0]
        if name == "nesterov" and not self.base.momentum:
            context["momentum"] = 0.9
        if name == "dropout":
            context["hidden"] = (1,) * max((len(v) for v in self._representatives(name, self.entries[name])
                                            if isinstance(v, tuple)), default=len(self.base.hidden))
        context.update({field_name: allowed[0] for field_name, allowed in conditions})
        return context

    def _check_value(self, name: str, value: Any, where: str, conditions: Conditions = ()) -> None:
        try:
            self.base.replace(**{**self._enabling(name, conditions), name: value})
        except (ValueError, TypeError) as exc:
            raise type(exc)(f"{where}: {exc}") from None

    def _check_applies(self, name: str, dist: Distribution) -> None:
        """A setting that only some values of another field accept (an optimizer's own
        setting, a schedule's, init_scale, Nesterov's momentum, a dropout rate per layer),
        searched where the other field can take a value that refuses it, makes every such
        trial fail: say so now, with the condition that fixes it."""
        conditions = self._implied(dist.conditions)

        def possible(field_name: str) -> List[Any]:
            return list(conditions.get(field_name, self._possible(field_name, conditions)))

        for owner, table in _OWNERS.items():
            readers = [k for k, settings in table.items() if name in settings]
            wrong = [v for v in possible(owner) if v not in readers] if readers else []
            if wrong:
                raise ValueError(f"search entry {name!r} applies to {owner} {_either(readers)}, but this search "
                                 f"also tries {owner} {_either(wrong)}: make the entry conditional, e.g. "
                                 f".when({owner}={readers[0]!r}) or \"when\": {{\"{owner}\": \"{readers[0]}\"}}")
        values = self._representatives(name, dist)
        if name == "nesterov" and True in values:
            weak = [m for m in possible("momentum") if not m]
            if weak:
                raise ValueError(f"search entry 'nesterov': Nesterov momentum needs momentum > 0, but this search "
                                 f"also tries momentum {_either(weak)}")
        if name == "dropout":
            depths = {len(h) for h in possible("hidden")}
            for rates in (v for v in values if isinstance(v, tuple)):
                if depths != {len(rates)}:
                    raise ValueError(f"search entry 'dropout': {list(rates)} has a rate for each of {len(rates)} "
                                     f"hidden layers, but this search also tries "
                                     f"{_either(sorted(d for d in depths if d != len(rates)))} hidden layers; "
                                     f"give one rate for all layers")

    def _resolve_order(self) -> List[str]:
        """Entries with their conditions' fields first, so a condition sees sampled values."""
        order: List[str] = []
        pending = list(self.entries)
        while pending:
            ready = [n for n in pending
                     if all(dep not in self.entries or dep in order for dep, _ in self.entries[n].conditions)]
            if not ready:
                raise ValueError(f"the conditions among {pending} form a cycle")
            order.extend(ready)
            pending = [n for n in pending if n not in ready]
        return order

    def _context(self, values: Dict[str, Any]) -> Dict[str, Any]:
        return {**{f.name: getattr(self.base, f.name) for f in fields(Hyperparameters)}, **values}

    def sample(self, trial: optuna.Trial) -> Dict[str, Any]:
        """Hyperparameter changes suggested for an Optuna trial (active entries only)."""
        values: Dict[str, Any] = {}
        for name in self.order:
            dist = self.entries[name]
            if dist.active(self._context(values)):
                values[name] = dist.suggest(trial, name)
        return values

    def grid_size(self) -> float:
        """An upper bound of the number of grid points (inactive entries multiply too)."""
        return math.prod(_point_count(dist) for dist in self.entries.values())

    def finite(self) -> bool:
        """Whether every entry takes finitely many values (no continuous range)."""
        return not any(isinstance(d, Float) or (isinstance(d, Layers) and isinstance(d.shrink, Float))
                       for d in self.entries.values())

    def grid(self) -> Iterator[Tuple[Dict[str, Any], Dict[str, Any]]]:
        """Every grid point once, as (hyperparameter changes, Optuna params); inactive
        entries do not multiply the points.

        Raises
        ------
        ValueError
            If the grid would have more than :data:`nnfast.tune.space.MAX_GRID_POINTS` points.
        """
        size = self.grid_size()
        if size > MAX_GRID_POINTS:
            raise ValueError(f"the grid has up to {size:.3g} points, more than {MAX_GRID_POINTS:,}: give fewer "
                             f"points (choice([...]), points=[...]) or search at random or by bayes")
        def expand(i: builtins.int, values: Dict[str, Any],
                   params: Dict[str, Any]) -> Iterator[Tuple[Dict[str, Any], Dict[str, Any]]]:
            if i == len(self.order):
                yield dict(values), dict(params)
                return
            name = self.order[i]
            dist = self.entries[name]
            if not dist.active(self._context(values)):
                yield from expand(i + 1, values, params)
                return
            for point in dist.points():
                value = dist.decode_point(point) if isinstance(dist, Layers) else point
                yield from expand(i + 1, {**values, name: value}, {**params, **dist.params(name, point)})

        seen = set()
        for values, params in expand(0, {}, {}):
            key = json.dumps(values, sort_keys=True, default=str)
            if key not in seen:
                seen.add(key)
                yield values, params

    def to_dict(self) -> Dict[str, Any]:
        """The space as plain data (JSON-ready), read back by :meth:`from_dict`."""
        return {name: dist.to_dict() for name, dist in self.entries.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Hyperparameters) -> "Space":
        """The space written by :meth:`to_dict`, checked against ``base``."""
        return cls({name: _from_dict(d) for name, d in data.items()}, base)

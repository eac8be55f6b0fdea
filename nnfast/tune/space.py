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
from dataclasses import dataclass, field, fields, replace
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from ..hyperparams import Hyperparameters

__all__ = ["Distribution", "choice", "uniform", "loguniform", "int", "intlog", "layers", "Space"]

_PRIMITIVES = (type(None), bool, builtins.int, float, str)


def _encode(value: Any) -> Any:
    """Optuna categorical choices must be primitives: others travel as JSON text."""
    return value if isinstance(value, _PRIMITIVES) else "json:" + json.dumps(value)


def _decode(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("json:"):
        loaded = json.loads(value[5:])
        return tuple(loaded) if isinstance(loaded, list) else loaded
    return value


@dataclass(frozen=True)
class Distribution:
    """Base of the search-space entries. ``conditions`` maps field names to the values
    under which this entry is active."""

    conditions: Tuple[Tuple[str, Tuple[Any, ...]], ...] = field(default=(), kw_only=True)

    def when(self, **conditions: Any) -> "Distribution":
        """This entry, active only when each named field has the given value (or one of a list)."""
        more = tuple((name, tuple(v) if isinstance(v, (list, tuple)) else (v,)) for name, v in conditions.items())
        return replace(self, conditions=self.conditions + more)

    def active(self, values: Mapping[str, Any]) -> bool:
        return all(values.get(name) in allowed for name, allowed in self.conditions)

    # subclasses implement these three
    def suggest(self, trial, name: str) -> Any:
        raise NotImplementedError

    def points(self) -> List[Any]:
        raise NotImplementedError

    def params(self, name: str, value: Any) -> Dict[str, Any]:
        """The Optuna parameters that make this entry take ``value`` (for queued trials)."""
        return {name: value}

    def to_dict(self) -> Dict[str, Any]:
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
    values: Tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError("choice needs at least one value")
        object.__setattr__(self, "values", tuple(tuple(v) if isinstance(v, list) else v for v in self.values))

    def suggest(self, trial, name: str) -> Any:
        if len(self.values) == 1:  # a fixed value is not a search dimension
            return self.values[0]
        return _decode(trial.suggest_categorical(name, [_encode(v) for v in self.values]))

    def points(self) -> List[Any]:
        return list(self.values)

    def params(self, name: str, value: Any) -> Dict[str, Any]:
        return {} if len(self.values) == 1 else {name: _encode(value)}


@dataclass(frozen=True)
class Float(Distribution):
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    grid: Optional[Tuple[float, ...]] = None

    def __post_init__(self) -> None:
        _check_range(self.low, self.high, self.log, "loguniform" if self.log else "uniform")
        if self.grid is not None:
            object.__setattr__(self, "grid", tuple(float(v) for v in self.grid))

    def suggest(self, trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def points(self) -> List[Any]:
        if self.grid is None:
            kind = "loguniform" if self.log else "uniform"
            raise ValueError(f"grid search needs explicit points for a continuous range: "
                             f"{kind}({self.low}, {self.high}, points=[...]) or choice([...])")
        return list(self.grid)


@dataclass(frozen=True)
class Int(Distribution):
    low: builtins.int = 0
    high: builtins.int = 1
    log: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.low, builtins.int) and isinstance(self.high, builtins.int)):
            raise TypeError("int and intlog take integer bounds")
        _check_range(self.low, self.high, self.log, "intlog" if self.log else "int")

    def suggest(self, trial, name: str) -> builtins.int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def points(self) -> List[Any]:
        return list(range(self.low, self.high + 1))


@dataclass(frozen=True)
class Layers(Distribution):
    """Hidden layers ``width * shrink**i`` for ``i < depth`` (each at least 1 unit)."""

    depth: Distribution = None
    width: Distribution = None
    shrink: Distribution = None

    def __post_init__(self) -> None:
        for part in ("depth", "width", "shrink"):
            if not isinstance(getattr(self, part), Distribution):
                raise TypeError(f"layers({part}=...) takes a distribution such as int(1, 3) or choice([...])")

    @staticmethod
    def compose(depth: builtins.int, width: builtins.int, shrink: float) -> Tuple[builtins.int, ...]:
        return tuple(max(1, builtins.int(round(width * shrink**i))) for i in range(depth))

    def suggest(self, trial, name: str) -> Tuple[builtins.int, ...]:
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
    cls = {"Choice": Choice, "Float": Float, "Int": Int, "Layers": Layers}[kind]
    return cls(**data, conditions=conditions)


class Space:
    """A validated search space over the fields of a base :class:`~nnfast.Hyperparameters`."""

    def __init__(self, entries: Mapping[str, Any], base: Hyperparameters) -> None:
        known = {f.name for f in fields(Hyperparameters)}
        self.base = base
        self.entries: Dict[str, Distribution] = {}
        for name, dist in entries.items():
            if name not in known:
                raise ValueError(f"{name!r} is not a hyperparameter; searchable fields: {', '.join(sorted(known))}")
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

    def sample(self, trial) -> Dict[str, Any]:
        """Hyperparameter changes suggested for an Optuna trial (active entries only)."""
        values: Dict[str, Any] = {}
        for name in self.order:
            dist = self.entries[name]
            if dist.active(self._context(values)):
                values[name] = dist.suggest(trial, name)
        return values

    def grid(self) -> Iterator[Tuple[Dict[str, Any], Dict[str, Any]]]:
        """Every grid point once, as (hyperparameter changes, Optuna params); inactive
        entries do not multiply the points."""
        def expand(i: builtins.int, values: Dict[str, Any], params: Dict[str, Any]):
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
        return {name: dist.to_dict() for name, dist in self.entries.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Hyperparameters) -> "Space":
        return cls({name: _from_dict(d) for name, d in data.items()}, base)

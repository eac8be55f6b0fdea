"""Settings files of the command line: hyperparameters (with the defaults every command
starts from) and search spaces, each as JSON or TOML."""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from .._targets import AUTO_MAX_CLASSES, AUTO_MIN_ROWS_PER_CLASS
from ..hyperparams import Hyperparameters
from .common import CommandError, require_tune

if TYPE_CHECKING:
    from ..tune.space import Distribution

#: the hyperparameters every command starts from (train, tune, lr-range), beneath an --hp
#: file and --set: more epochs than a quick look needs, stopped early on the validation
#: cost, inputs standardised on the training rows (nnfast's own defaults leave inputs as
#: they are, which trains badly on features of small or mixed scales)
BASE_HYPERPARAMETERS: Dict[str, Any] = {"epochs": 40, "patience": 6, "standardize": True}
#: the name the tuning benchmarks know it by
TUNE_BASE = BASE_HYPERPARAMETERS


def base_text() -> str:
    """The base hyperparameters as ``--set`` would write them: ``epochs=40, patience=6, ...``."""
    return ", ".join(f"{k}={json.dumps(v)}" for k, v in BASE_HYPERPARAMETERS.items())


#: the task rule of nnfast._targets (resolve_task), in the words of --help
TASK_RULE = (f"labels (text, booleans) are classes, floating-point values a regression target, and integers "
             f"classes unless there are more than {AUTO_MAX_CLASSES} distinct values with fewer than "
             f"{AUTO_MIN_ROWS_PER_CLASS} rows each on average (then a regression target, with a warning); "
             f"a CSV target written as 2.0 is floating point, 2 an integer")


def add_hyperparameter_arguments(parser: argparse.ArgumentParser, example: str) -> None:
    """--hp and --set, with the base defaults in their help."""
    parser.add_argument("--hp", help="hyperparameters as a JSON or TOML file, applied over the command line's "
                                     f"defaults ({base_text()}) and nnfast's own")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help=f"override one hyperparameter, e.g. {example} (after --hp; the defaults are "
                             f"{base_text()}). The task: --set task=classification or task=regression; left "
                             f"to auto, {TASK_RULE}")


def command_hyperparameters(args: argparse.Namespace) -> Hyperparameters:
    """The hyperparameters of a command: the base defaults, then --hp, then --set."""
    return read_hyperparameters(args.hp, args.set, base=BASE_HYPERPARAMETERS)


def read_hyperparameters(path: Optional[str], overrides: List[str],
                         base: Optional[Mapping[str, Any]] = None) -> Hyperparameters:
    """Hyperparameters from ``base``, then a JSON or TOML file, then ``key=value`` overrides
    (JSON values; a bare word such as relu is a string)."""
    data = dict(base or {})
    if path:
        document = read_document(path, "hyperparameter file")
        document = document.get("hyperparameters", document)
        if not isinstance(document, dict):
            raise CommandError(f"{path}: 'hyperparameters' must be a JSON object or a TOML table")
        data.update(document)
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise CommandError(f"--set takes key=value, got {item!r}")
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value  # a bare string such as relu
    return Hyperparameters.from_dict(data)


def read_document(path: str, what: str) -> Dict[str, Any]:
    """A JSON or TOML file as a dict (a name ending in .yaml or .yml is refused by name:
    YAML is not read, and its text failed as JSON in words that did not say so)."""
    data: object  # JSON may hold any value at the top: checked below
    if path.lower().endswith((".yaml", ".yml")):
        raise CommandError(f"cannot read {what} {path}: YAML is not read; write it as JSON (.json) or TOML (.toml)")
    try:
        if path.lower().endswith(".toml"):
            if sys.version_info >= (3, 11):
                import tomllib
            else:
                try:
                    import tomli as tomllib
                except ImportError:
                    raise CommandError(f"cannot read {path}: TOML needs Python 3.11+ or `pip install tomli`; "
                                       f"or use JSON") from None
            with open(path, "rb") as f:
                data = tomllib.load(f)
        else:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot read {what} {path}: {exc}") from None
    if not isinstance(data, dict):
        raise CommandError(f"{path}: {what} must be a JSON object or a TOML table, not {type(data).__name__}")
    return data


# --- search spaces -------------------------------------------------------------------------

#: the space ``nnfast tune`` searches when given no --space: the same plain form a space file has
DEFAULT_SPACE = {
    "lr": {"loguniform": [3e-4, 0.1], "points": [1e-3, 3e-3, 1e-2, 3e-2]},
    "hidden": {"layers": {"depth": {"int": [1, 2]}, "width": {"choice": [32, 64, 128, 256]}}},
    "batch_size": [16, 32, 64, 128],
    "optimizer": {"choice": ["adam", "sgd"]},
    "momentum": {"uniform": [0.8, 0.99], "points": [0.9], "when": {"optimizer": "sgd"}},
    "l2": [0.0, 1e-5, 1e-4, 1e-3],
    "dropout": {"uniform": [0.0, 0.4], "points": [0.0, 0.2]},
}

#: the kinds of distribution a space file may name, and what each takes
SPACE_KINDS = {
    "choice": "a list of values",
    "uniform": "[low, high] (and \"points\": [...] for grid search)",
    "loguniform": "[low, high], low > 0 (and \"points\": [...] for grid search)",
    "int": "[low, high], integers",
    "intlog": "[low, high], integers",
    "layers": "{\"depth\": ..., \"width\": ..., \"shrink\": ...} of distributions",
}


def _distribution(spec: Any, where: str, nested: bool = False) -> Distribution:
    """One entry of a space file as a distribution of nnfast.tune.space."""
    from .. import tune  # imported by the caller (require_tune)

    if isinstance(spec, list):
        try:
            return tune.choice(spec)
        except (ValueError, TypeError) as exc:
            raise CommandError(f"{where}: {exc}") from None
    if not isinstance(spec, dict):  # a single value: fixed, not searched
        return tune.choice([spec])
    kinds = [k for k in spec if k not in ("when", "points")]
    unknown = [k for k in kinds if k not in SPACE_KINDS]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), SPACE_KINDS, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CommandError(f"{where}: unknown kind {unknown[0]!r}{hint}; use one of {', '.join(SPACE_KINDS)}, "
                           f"or a list of values")
    if len(kinds) != 1:
        raise CommandError(f"{where}: give exactly one kind of {', '.join(SPACE_KINDS)}, "
                           f"got {', '.join(kinds) if kinds else 'none'}")
    kind, args = kinds[0], spec[kinds[0]]
    if "points" in spec and kind not in ("uniform", "loguniform"):
        raise CommandError(f"{where}: 'points' applies to uniform and loguniform only (a {kind} has its own points)")
    if "when" in spec and nested:
        raise CommandError(f"{where}: 'when' belongs to a whole entry, not to a part of layers")
    dist: Distribution
    try:
        if kind == "choice":
            if not isinstance(args, list):
                raise CommandError(f"{where}: choice takes a list of values")
            dist = tune.choice(args)
        elif kind == "layers":
            if not isinstance(args, dict) or not {"depth", "width"} <= set(args) <= {"depth", "width", "shrink"}:
                raise CommandError(f"{where}: layers takes {SPACE_KINDS['layers']} (shrink optional)")
            parts = {name: _distribution(value, f"{where} {name}", nested=True) for name, value in args.items()}
            dist = tune.layers(**parts)
        else:
            if not (isinstance(args, list) and len(args) == 2):
                raise CommandError(f"{where}: {kind} takes {SPACE_KINDS[kind]}, got {json.dumps(args)}")
            low, high = args
            if kind in ("int", "intlog"):
                if not all(isinstance(v, int) and not isinstance(v, bool) for v in args):
                    raise CommandError(f"{where}: {kind} takes integer bounds, got {json.dumps(args)}")
                dist = {"int": tune.int, "intlog": tune.intlog}[kind](low, high)
            else:
                if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in args):
                    raise CommandError(f"{where}: {kind} takes numbers, got {json.dumps(args)}")
                points = spec.get("points")
                if points is not None and not (isinstance(points, list) and points):
                    raise CommandError(f"{where}: points must be a list of numbers")
                dist = {"uniform": tune.uniform, "loguniform": tune.loguniform}[kind](low, high, points=points)
        when = spec.get("when")
        if when is not None:
            if not isinstance(when, dict) or not when:
                raise CommandError(f"{where}: 'when' maps hyperparameter names to a value or a list of values, "
                                   f"e.g. {{\"optimizer\": \"sgd\"}}")
            dist = dist.when(**when)
    except (ValueError, TypeError) as exc:
        raise CommandError(f"{where}: {exc}") from None
    return dist


def space_from_data(data: Any, source: str = "space") -> Dict[str, Distribution]:
    """A search space from plain data (see :func:`read_space`)."""
    require_tune()
    from .. import tune
    if not isinstance(data, dict) or not data:
        raise CommandError(f"{source}: the space is empty; it maps hyperparameter names to distributions, "
                           f"e.g. {{\"lr\": {{\"loguniform\": [1e-4, 0.3]}}, \"batch_size\": [16, 32, 64]}}")
    return {str(name): _distribution(spec, f"{source}: entry {name!r}") for name, spec in data.items()}


def read_space(path: str) -> Dict[str, Distribution]:
    """A search space from a JSON or TOML file: hyperparameter name -> distribution.

    Each entry is a list of values (a choice), a single value (fixed), or an object
    naming one kind: ``{"choice": [...]}``, ``{"uniform": [low, high]}``,
    ``{"loguniform": [low, high]}`` (both optionally with ``"points": [...]`` for grid
    search), ``{"int": [low, high]}``, ``{"intlog": [low, high]}``, or for ``hidden``
    ``{"layers": {"depth": ..., "width": ..., "shrink": ...}}``; any entry may add
    ``"when": {"optimizer": "sgd"}`` to be searched only under that condition. The
    entries may also sit under a top-level ``"space"`` key.
    """
    data = read_document(path, "space file")
    if isinstance(data.get("space"), dict):
        data = data["space"]
    return space_from_data(data, path)

"""Typed job configurations: each setting declared once, with its default, check and help.

A job's configuration is a frozen dataclass deriving from :class:`JobConfig` whose fields are
declared with :func:`setting`::

    @dataclass(frozen=True)
    class SimulationConfig(JobConfig):
        job: ClassVar[str] = "simulate"
        n_exc: int = setting(800, low=0, help="excitatory neurons")
        p: float | None = setting(None, low=0.0, high=1.0, help="connection probability")

From that one declaration come:

* the checks: a value of the wrong type raises ``TypeError``, one out of range or not among
  the choices ``ValueError``, both naming the setting and what is allowed (``check`` adds a
  job's cross-field rules);
* the command line: :meth:`JobConfig.add_arguments` adds ``--n-exc`` (help text, default,
  range), and :meth:`JobConfig.from_args` builds the configuration from what was given;
* ``config.json``: :meth:`JobConfig.to_dict` / :meth:`JobConfig.from_dict` (unknown keys
  refused), and the fingerprint the run folder is protected by;
* sweeps and searches, which set fields by name.

Kinds of settings, from the field's annotation: ``int``, ``float``, ``bool``, ``str``,
``tuple[int, ...]`` (``800,800`` on the command line), ``tuple[float, ...]`` (``200,300.5``),
``float | list[float]`` (one value or one per layer), and ``dict`` (free-form options,
``--option NAME=VALUE``), each optionally ``| None``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import numbers
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

__all__ = ["JobConfig", "name_list", "setting"]

_MISSING = dataclasses.MISSING


def name_list(
    setting_name: str, text: str, known: Sequence[str], *, order: str = "given"
) -> tuple[str, ...]:
    """The names of a comma-separated list (a ``str`` setting such as ``"mc,narma10"``), each
    once: in the order given (``order="given"``) or in the order of ``known`` (``"known"``).

    Raises:
        ValueError: an empty list, or names not in ``known`` (named with the setting and what
            it takes).
    """
    given = [part.strip() for part in text.split(",") if part.strip()]
    if not given:
        raise ValueError(
            f"{setting_name} must name at least one of {', '.join(known)}; got {text!r}"
        )
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(
            f"{setting_name} must be from {', '.join(known)}; unknown name(s) "
            f"{', '.join(map(repr, unknown))}"
        )
    if order == "known":
        return tuple(name for name in known if name in given)
    return tuple(dict.fromkeys(given))


def setting(
    default: Any = _MISSING,
    *,
    help: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    choices: Sequence[Any] | None = None,
    cli: bool = True,
    flag: str | None = None,
    metavar: str | None = None,
    default_factory: Any = _MISSING,
) -> Any:
    """A field of a :class:`JobConfig`.

    Args:
        default: the value when none is given (``None``: unset, or filled in by the job's
            :meth:`JobConfig.resolve` from other settings).
        help: one line for ``--help`` and the docs; units in it where they matter.
        low, high: bounds of a number, of each element of a list of numbers, or of each size
            of a ``tuple[int, ...]``; ``low_open`` / ``high_open`` exclude the bound.
        choices: the allowed values of a string setting.
        cli: offer the setting on the command line.
        flag: its option there (default ``--`` and the name with dashes).
        metavar: the value's name in ``--help``.
        default_factory: instead of ``default``, for mutable defaults.
    """
    metadata = {
        "help": help,
        "low": low,
        "high": high,
        "low_open": low_open,
        "high_open": high_open,
        "choices": tuple(choices) if choices is not None else None,
        "cli": cli,
        "flag": flag,
        "metavar": metavar,
    }
    if default_factory is not _MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class _Kind:
    """What a field's annotation allows: ``base`` is int, real, bool, str, ints, floats,
    reals or dict; ``nullable`` adds None."""

    base: str
    nullable: bool


def _kind_of(annotation: Any) -> _Kind:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = tuple(a for a in args if a is not type(None))
        nullable = len(rest) < len(args)
        if set(rest) == {float, list[float]}:
            return _Kind("reals", nullable)
        if len(rest) == 1:
            return _Kind(_kind_of(rest[0]).base, nullable)
        raise TypeError(f"unsupported setting annotation {annotation!r}")
    if origin is tuple and args[-1] is Ellipsis and args[0] is int:
        return _Kind("ints", False)
    if origin is tuple and args[-1] is Ellipsis and args[0] is float:
        return _Kind("floats", False)
    if origin is dict or annotation is dict:
        return _Kind("dict", False)
    simple = {int: "int", float: "real", bool: "bool", str: "str"}
    if annotation in simple:
        return _Kind(simple[annotation], False)
    raise TypeError(f"unsupported setting annotation {annotation!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class JobConfig:
    """Base of the typed configurations; subclasses are frozen dataclasses of :func:`setting`
    fields and set ``job``, the job's name."""

    job: ClassVar[str] = ""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, self._checked(f, getattr(self, f.name)))
        resolved = self.resolve()
        for name, value in resolved.items():
            object.__setattr__(self, name, self._checked(self._field(name), value))
        object.__setattr__(self, "_resolved", tuple(resolved))
        self.check()

    # -- hooks of the subclasses --------------------------------------------------------------

    def resolve(self) -> dict[str, Any]:
        """Values for settings left unset whose defaults depend on other settings (a job
        overrides it); returned as ``{name: value}``, checked like given values."""
        return {}

    def check(self) -> None:
        """Rules between settings (a job overrides it); raise ValueError naming them."""

    # -- checks --------------------------------------------------------------------------------

    @classmethod
    def _hints(cls) -> dict[str, Any]:
        cached = cls.__dict__.get("_hints_cache")
        if cached is None:
            cached = typing.get_type_hints(cls)
            cls._hints_cache = cached
        return cached

    @classmethod
    def _field(cls, name: str) -> dataclasses.Field:
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f
        raise KeyError(name)

    @classmethod
    def _checked(cls, f: dataclasses.Field, value: Any) -> Any:
        kind = _kind_of(cls._hints()[f.name])
        if value is None:
            if kind.nullable or f.default is None:
                return None
            raise TypeError(f"{f.name} must be set ({_describe(kind, f.metadata)}); got None")
        checker = _CHECKERS[kind.base]
        return checker(f.name, value, f.metadata, kind)

    # -- serialisation -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON types (tuples become lists)."""
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else _plain(value)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobConfig:
        """The configuration of a dict such as :meth:`to_dict` returns; unknown keys raise
        ``ValueError`` naming them and the known ones."""
        if not isinstance(data, Mapping):
            raise TypeError(f"a {cls.__name__} is read from a mapping; got {type(data).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(
                f"unknown {cls.job or cls.__name__} setting(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(names))}"
            )
        return cls(**dict(data))

    def replace(self, **changes: Any) -> JobConfig:
        """A copy with ``changes`` applied (and checked)."""
        return self.from_dict({**self.given(), **changes})

    def given(self) -> dict[str, Any]:
        """The settings as they were given, with those a job resolves left unset (so that
        a copy with another value of what they depend on resolves them again)."""
        data = self.to_dict()
        for name in self._resolved_names():
            data[name] = None
        return data

    def _resolved_names(self) -> tuple[str, ...]:
        return tuple(getattr(self, "_resolved", ()))

    def differences(self, other: JobConfig) -> list[str]:
        """``"name: mine != theirs"`` for every setting that differs from ``other``'s."""
        mine, theirs = self.to_dict(), other.to_dict()
        return [f"{k}: {mine[k]!r} != {theirs.get(k)!r}" for k in mine if mine[k] != theirs.get(k)]

    # -- the command line ----------------------------------------------------------------------

    @classmethod
    def add_arguments(
        cls, parser: argparse.ArgumentParser, *, groups: Mapping[str, Sequence[str]] = {}
    ) -> None:
        """Add one option per command-line setting to ``parser``; ``groups`` maps a group
        title to the settings shown under it (the others go to the parser itself).

        Each option's default is ``None`` (not given), so that :meth:`from_args` can tell what
        was typed from what was not (``--resume`` keeps the saved value of what was not)."""
        placed = {name: title for title, names in groups.items() for name in names}
        targets: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if not f.metadata.get("cli", False):
                continue
            title = placed.get(f.name)
            if title is not None and title not in targets:
                targets[title] = parser.add_argument_group(title)
            target = targets[title] if title is not None else parser
            cls._add_option(target, f)

    @classmethod
    def _add_option(cls, target: Any, f: dataclasses.Field) -> None:
        kind = _kind_of(cls._hints()[f.name])
        flag = f.metadata.get("flag") or "--" + f.name.replace("_", "-")
        text = f.metadata["help"]
        if f.default is not _MISSING and f.default is not None:
            text += f" (default {_shown(f.default)})"
        if kind.base == "bool":
            target.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text
            )
            return
        if kind.base == "dict":
            target.add_argument(
                "--option",
                dest=f.name,
                type=_parse_option,
                action="append",
                default=None,
                metavar="NAME=VALUE",
                help=f"{f.metadata['help']} (VALUE read as JSON; repeatable)",
            )
            return
        choices = f.metadata.get("choices")
        target.add_argument(
            flag,
            dest=f.name,
            type=_PARSERS[kind.base](flag),
            choices=choices,
            default=None,
            metavar=f.metadata.get("metavar")
            or (None if choices else flag.lstrip("-").replace("-", "_").upper()),
            help=text,
        )

    @classmethod
    def given_in_args(cls, args: argparse.Namespace) -> dict[str, Any]:
        """The settings given on the command line (``None`` means not given)."""
        given = {}
        for f in dataclasses.fields(cls):
            if not f.metadata.get("cli", False) or getattr(args, f.name, None) is None:
                continue
            value = getattr(args, f.name)
            if _kind_of(cls._hints()[f.name]).base == "dict":
                value = dict(value)
            given[f.name] = value
        return given

    @classmethod
    def from_args(cls, args: argparse.Namespace, base: Mapping[str, Any] | None = None):
        """The configuration the options describe, on top of ``base`` (e.g. a saved run's
        settings) for what was not given."""
        return cls.from_dict({**(base or {}), **cls.given_in_args(args)})


# ---------------------------------------------------------------------------------------------
# Checks of one value


def _describe(kind: _Kind, meta: Mapping[str, Any]) -> str:
    base = {
        "int": "an integer",
        "real": "a finite number",
        "bool": "true or false",
        "str": "a string",
        "ints": "sizes, e.g. 800,800",
        "floats": "numbers, e.g. 200,300.5",
        "reals": "a number or one per layer",
        "dict": "a mapping of names to values",
    }[kind.base]
    if meta.get("choices"):
        base = "one of " + ", ".join(map(str, meta["choices"]))
    bounds = _bounds(meta)
    return f"{base} {bounds}".strip()


def _bounds(meta: Mapping[str, Any]) -> str:
    low, high = meta.get("low"), meta.get("high")
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if meta.get('low_open') else '>='} {_shown(low)}"
    if low is None:
        return f"{'<' if meta.get('high_open') else '<='} {_shown(high)}"
    left = "(" if meta.get("low_open") else "["
    right = ")" if meta.get("high_open") else "]"
    return f"in {left}{_shown(low)}, {_shown(high)}{right}"


def _in_bounds(value: float, meta: Mapping[str, Any]) -> bool:
    low, high = meta.get("low"), meta.get("high")
    if low is not None and (value < low or (meta.get("low_open") and value == low)):
        return False
    return not (high is not None and (value > high or (meta.get("high_open") and value == high)))


def _refuse(name: str, value: Any, kind: _Kind, meta: Mapping[str, Any], error=ValueError):
    raise error(f"{name} must be {_describe(kind, meta)}; got {value!r}")


def _check_int(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind) -> int:
    if not _is_int(value):
        _refuse(name, value, kind, meta, TypeError)
    if not _in_bounds(value, meta):
        _refuse(name, value, kind, meta)
    return int(value)


def _check_real(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind) -> float:
    if not _is_real(value):
        _refuse(name, value, kind, meta, TypeError)
    try:
        number = float(value)
    except OverflowError:
        _refuse(name, value, kind, meta)
    if not math.isfinite(number) or not _in_bounds(number, meta):
        _refuse(name, value, kind, meta)
    return number


def _check_bool(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind) -> bool:
    if not isinstance(value, bool):
        _refuse(name, value, kind, meta, TypeError)
    return value


def _check_str(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind) -> str:
    if not isinstance(value, str):
        _refuse(name, value, kind, meta, TypeError)
    choices = meta.get("choices")
    if choices and value not in choices:
        _refuse(name, value, kind, meta)
    return value


def _check_ints(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        _refuse(name, value, kind, meta, TypeError)
    if not value or not all(_is_int(v) and _in_bounds(v, meta) for v in value):
        _refuse(name, value, kind, meta)
    return tuple(int(v) for v in value)


def _check_floats(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind) -> tuple[float, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        _refuse(name, value, kind, meta, TypeError)
    if not all(_is_real(v) for v in value):
        _refuse(name, value, kind, meta, TypeError)
    try:
        numbers = tuple(float(v) for v in value)
    except OverflowError:
        _refuse(name, value, kind, meta)
    if not numbers or not all(math.isfinite(v) and _in_bounds(v, meta) for v in numbers):
        _refuse(name, value, kind, meta)
    return numbers


def _check_reals(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind):
    if _is_real(value):
        return _check_real(name, value, meta, kind)
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        _refuse(name, value, kind, meta, TypeError)
    return [_check_real(name, v, meta, kind) for v in value]


def _check_dict(name: str, value: Any, meta: Mapping[str, Any], kind: _Kind) -> dict:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        _refuse(name, value, kind, meta, TypeError)
    return dict(value)


_CHECKERS = {
    "int": _check_int,
    "real": _check_real,
    "bool": _check_bool,
    "str": _check_str,
    "ints": _check_ints,
    "floats": _check_floats,
    "reals": _check_reals,
    "dict": _check_dict,
}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(_shown(v) for v in value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return f"{value:g}"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Parsing option text


def _parse_int(flag: str):
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"needs an integer; got {text!r}") from None

    return parse


def _parse_real(flag: str):
    def parse(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"needs a number; got {text!r}") from None

    return parse


def _parse_str(flag: str):
    return str


def _parse_list(convert, example: str, noun: str):
    """A parser of comma-separated ``convert`` values (at least one) into a tuple."""

    def parse(text: str) -> tuple:
        try:
            values = tuple(convert(part) for part in text.split(",") if part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"needs comma-separated {noun}s, e.g. {example}; got {text!r}"
            ) from None
        if not values:
            raise argparse.ArgumentTypeError(f"needs at least one {noun}; got {text!r}")
        return values

    return parse


def _parse_ints(flag: str):
    return _parse_list(int, "800,800", "integer")


def _parse_floats(flag: str):
    return _parse_list(float, "200,300.5", "number")


def _parse_reals(flag: str):
    def parse(text: str) -> float | list[float]:
        try:
            values = [float(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"needs a number or comma-separated numbers; got {text!r}"
            ) from None
        if not values:
            raise argparse.ArgumentTypeError(f"needs a number; got {text!r}")
        return values[0] if len(values) == 1 else values

    return parse


_PARSERS = {
    "int": _parse_int,
    "real": _parse_real,
    "str": _parse_str,
    "ints": _parse_ints,
    "floats": _parse_floats,
    "reals": _parse_reals,
}

_PYTHON_LITERALS = {"True": True, "False": False, "None": None}


def _parse_option(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` -> ``(name, value)``; VALUE read as JSON, or Python's True/False/None,
    else kept as a string (its type is checked where the option is used)."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--option must be NAME=VALUE; got {text!r}")
    name, raw = (part.strip() for part in text.split("=", 1))
    if not name:
        raise argparse.ArgumentTypeError(f"--option needs a name before '='; got {text!r}")
    if raw in _PYTHON_LITERALS:
        return name, _PYTHON_LITERALS[raw]
    try:
        value = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return name, raw
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"--option {name}: {raw} is not a value")
    return name, value

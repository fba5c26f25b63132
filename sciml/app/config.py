"""Typed configurations: a tree of dataclasses read from YAML plus dotted overrides.

One mechanism serves every configuration of the application layer (the run of
``sciml train``, :class:`~sciml.app.RunConfig`; the rollout of ``sciml simulate``,
:class:`~sciml.app.SimulationConfig`). :func:`read_config` reads a YAML file with the
safe loader over the defaults of the tree, applies overrides such as
``optimizer.lr=3e-4`` or ``model.n_modes=[12,12]`` (values parsed as YAML), and builds
the tree:

* an unknown key is rejected with its section and the known keys
  (``unknown key 'substep' in stepper; known: kind, substeps, ...; did you mean
  'substeps'?``);
* a value of the wrong type is rejected with its dotted key
  (``trainer.max_epochs: expected int, got 1.5``); ints are accepted for floats,
  ``typing.Literal`` fields list their choices, ``X | None`` accepts ``null``;
* a value out of its range is rejected when its section is built: every section
  checks its values in ``__post_init__`` through :mod:`sciml.validation` wrapped by
  :func:`checked` (``trainer.batch_size must be a positive int, got 0``);
* YAML tags (``!!python/object``) and malformed YAML are rejected with the line and
  column, in one line;
* free-form sections (``dict[str, Any]``: a model's or a problem's keywords) are
  checked later against the signature of what they configure (:func:`build_section`).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from pathlib import Path
from typing import Any, Callable, TypeVar

__all__ = ["ConfigError", "build_section", "checked", "checked_optional", "merge", "parse_overrides", "read_config",
           "to_dict"]

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the key."""


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _convert(value, tp, key: str):
    """Check ``value`` against the annotation ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _convert(value, option, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if len(errors) == 1 else f"{key}: {value!r} matches none of "
                          f"{' | '.join(_type_name(o) for o in options)}")
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices or isinstance(value, bool):
            raise ConfigError(f"{key}: expected one of {', '.join(map(repr, choices))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping of {tp.__name__} fields, got {type(value).__name__}")
        return _build(tp, value, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = typing.get_args(tp)
        return [_convert(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        k_tp, v_tp = typing.get_args(tp)
        return {_convert(k, k_tp, key): _convert(v, v_tp, f"{key}.{k}") for k, v in value.items()}
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if tp is str and isinstance(value, (bool, int, float)):
        raise ConfigError(f"{key}: expected str, got {value!r} ({type(value).__name__}); quote it ('{value}') to "
                          f"use it as text")
    if tp in (int, float) and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r} ({type(value).__name__})")
    return value


def _reject_unknown(data: dict, names: list[str], prefix: str) -> None:
    """A :class:`ConfigError` for the keys of ``data`` that are not in ``names``, with a close match."""
    unknown = sorted(set(data) - set(names), key=str)
    if unknown:
        where = f" in {prefix}" if prefix else ""
        close = difflib.get_close_matches(str(unknown[0]), names, n=1)
        guess = f"; did you mean {close[0]!r}?" if close and len(unknown) == 1 else ""
        raise ConfigError(f"unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}{where}; "
                          f"known: {', '.join(names)}{guess}")


def _yaml_problem(err) -> str:
    """One line for a YAML error: the problem, its line and column, and the fix for tags."""
    problem = " ".join(str(getattr(err, "problem", None) or err).split())
    mark = getattr(err, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    fix = ("; YAML tags (!!python/..., !name) are not allowed: a config holds plain mappings, lists, numbers and "
           "strings" if "constructor for the tag" in problem else "")
    return f"{problem}{where}{fix}"


def _build(cls: type[T], data: dict, prefix: str = "") -> T:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    _reject_unknown(data, names, prefix)
    kwargs = {name: _convert(value, hints[name], f"{prefix}.{name}" if prefix else name)
              for name, value in data.items()}
    return cls(**kwargs)


def parse_overrides(overrides: list[str]) -> dict:
    """``["a.b=1", "c=[1, 2]"]`` -> ``{"a": {"b": 1}, "c": [1, 2]}`` (values parsed as YAML)."""
    import yaml

    tree: dict = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r} must look like dotted.key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: the value is not valid YAML ({_yaml_problem(err)}); quote text "
                              f"values that hold YAML syntax") from None
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override of {part!r}")
        node[parts[-1]] = value
    return tree


def merge(base: dict, extra: dict) -> dict:
    """``extra`` over ``base``, recursively for mappings present in both."""
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def read_config(cls: type[T], path: str | Path | None = None, overrides: list[str] = (),
                base: dict | None = None) -> T:
    """The configuration ``cls`` (a dataclass with defaults): its defaults, then ``base``,
    then the YAML file ``path`` (safe loader), then the dotted ``overrides``, validated."""
    import yaml

    data = merge(dataclasses.asdict(cls()), base or {})
    if path is not None:
        path = Path(path)
        if path.is_dir():
            raise ConfigError(f"config file {path} is a directory; give a YAML file (see configs/)")
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        try:
            loaded = yaml.safe_load(path.read_text())
        except UnicodeDecodeError:
            raise ConfigError(f"config file {path} is not a text file; give a YAML file (see configs/)") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(err)}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path} must hold a mapping at the top level, got {type(loaded).__name__}")
        data = merge(data, loaded or {})
    data = merge(data, parse_overrides(list(overrides)))
    return _build(cls, data)


def checked(check: Callable[..., T], *args, **kwargs) -> T:
    """``check(*args, **kwargs)`` (a :mod:`sciml.validation` check) with its error raised
    as a :class:`ConfigError`, e.g. ``checked(check_int, "initial.n", cfg.initial.n)``."""
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(str(err)) from None


def checked_optional(check: Callable[..., T], name: str, value, **kwargs) -> T | None:
    """``None`` for ``None``, else ``checked(check, name, value, **kwargs)`` (an optional key)."""
    return None if value is None else checked(check, name, value, **kwargs)


def build_section(key: str, factory: Callable[..., T], kwargs: dict) -> T:
    """``factory(**kwargs)`` for the free-form section ``key`` (a problem's or a loss's
    keywords): unknown and missing keywords, and the ``ValueError`` of the factory's
    argument checks, become a :class:`ConfigError` that names the key
    (``problem.resolution must be an int >= 4, got 0``)."""
    params = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        _reject_unknown(kwargs, [n for n, p in params.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL], key)
    missing = [n for n, p in params.items() if p.default is inspect.Parameter.empty and n not in kwargs
               and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
    if missing:
        raise ConfigError(f"{key} needs {', '.join(f'{key}.{n}' for n in missing)}")
    try:
        return factory(**kwargs)
    except ValueError as err:
        message = " ".join(str(err).split())
        named = message.split(" ", 1)[0] in params
        raise ConfigError(f"{key}.{message}" if named else f"{key}: {message}") from None


def to_dict(config) -> dict:
    """The configuration as plain data (for YAML/JSON and checkpoints)."""
    return dataclasses.asdict(config)

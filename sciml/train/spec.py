"""Constructor specs: how a model was built, recorded once, so a checkpoint can rebuild it.

A registered model class or factory is decorated with :func:`record_spec`; every call
then attaches to the module it returns its spec ::

    {"name": "mgno", "kwargs": {"in_channels": 1, "channels": 24, ...}}

with every constructor argument bound by name and defaults filled in (the full spec, so
a later change of a default does not change what a checkpoint rebuilds). Tuples are
stored as lists, so the spec is plain data for ``torch.load(weights_only=True)``, YAML
and JSON. A call with an argument that is not plain data (a tensor, a module, a
function) records nothing: such a model cannot be rebuilt from keywords.

:func:`model_spec` reads the spec of a module; for a
:class:`~sciml.data.NormalizedModel` it is the spec of the wrapped core plus the
constructor keywords of its normalisers,
``{"name", "kwargs", "normalizers": {"input": {"pointwise": True, "eps": 1e-6} | None,
"output": ...}}``. The :class:`~sciml.train.Trainer` writes it to
``metadata["model"]`` of every checkpoint; ``sciml.app.load`` rebuilds the model from
it through the registry ``sciml.operators.MODELS``.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any, Callable

from torch import nn

from sciml.data import NormalizedModel

__all__ = ["model_spec", "record_spec"]

_ATTRIBUTE = "_sciml_constructor_spec"
_NOT_PLAIN = object()


def _plain(value: Any) -> Any:
    """``value`` as plain data (tuples become lists), or ``_NOT_PLAIN``."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items) else items
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = {k: _plain(v) for k, v in value.items()}
        return _NOT_PLAIN if any(v is _NOT_PLAIN for v in items.values()) else items
    return _NOT_PLAIN


def _spec(name: str, signature: inspect.Signature, args: tuple, kwargs: dict) -> dict | None:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    recorded = _plain(dict(bound.arguments))
    return None if recorded is _NOT_PLAIN else {"name": name, "kwargs": recorded}


def record_spec(name: str) -> Callable:
    """Decorator for a model class (an ``nn.Module`` subclass) or a factory returning a
    module: every construction records ``{"name": name, "kwargs": ...}`` on the module
    (read it with :func:`model_spec`). ``name`` is the model's key in the registry
    ``sciml.operators.MODELS``. A subclass of a decorated class records nothing unless
    it is decorated itself."""

    def decorate(target):
        signature = inspect.signature(target)
        variadic = [p.name for p in signature.parameters.values() if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if variadic:
            raise TypeError(f"record_spec({name!r}) needs a constructor with named parameters only; "
                            f"{target.__qualname__} takes *{variadic[0]}")
        if isinstance(target, type):
            init = target.__init__

            @functools.wraps(init)
            def __init__(self, *args, **kwargs):
                init(self, *args, **kwargs)
                if type(self) is target:
                    object.__setattr__(self, _ATTRIBUTE, _spec(name, signature, args, kwargs))

            target.__init__ = __init__
            return target

        @functools.wraps(target)
        def factory(*args, **kwargs):
            module = target(*args, **kwargs)
            object.__setattr__(module, _ATTRIBUTE, _spec(name, signature, args, kwargs))
            return module

        return factory

    return decorate


def model_spec(model: nn.Module) -> dict | None:
    """The constructor spec recorded for ``model`` (see the module doc), or ``None`` when
    it was not built through a :func:`record_spec` constructor with plain arguments."""
    if isinstance(model, NormalizedModel):
        if isinstance(model.model, NormalizedModel):
            return None
        core = model_spec(model.model)
        return None if core is None else {**core, "normalizers": model.normalizer_specs()}
    spec = getattr(model, _ATTRIBUTE, None)
    return None if spec is None else copy.deepcopy(spec)

"""A call's arguments as ``{parameter name: value}``, bound once per function, fast per call."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

_PLAIN_KINDS = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
_SKIPPED_FIRST = ("self", "cls")


class InputBinder:
    """Binds call arguments to a signature, with defaults, leaving out ``self``/``cls``.

    The signature is read once, at decoration. Functions whose parameters are all plain
    (no ``*args``, ``**kwargs`` or keyword-only) take a fast path of a few dict operations;
    the rest use ``inspect.Signature.bind``. A call that does not fit the signature (the
    call itself is about to raise ``TypeError``), and a callable without a signature, give
    ``{"args": [...], "kwargs": {...}}`` (each key only when non-empty). Never raises.

    Example:
        >>> def ask(question, model="gpt-4o"): ...
        >>> InputBinder(ask).bind(("hi",), {})
        {'question': 'hi', 'model': 'gpt-4o'}
    """

    __slots__ = ("_defaults", "_names", "_positional_only", "_signature", "_skip_first", "_slow")

    def __init__(self, func: Callable[..., Any]) -> None:
        try:
            self._signature: inspect.Signature | None = inspect.signature(func)
        except Exception:  # builtins and some C callables have none; odd __signature__s
            self._signature = None
        parameters = list(self._signature.parameters.values()) if self._signature else []
        self._skip_first = bool(
            parameters
            and parameters[0].name in _SKIPPED_FIRST
            and parameters[0].kind in _PLAIN_KINDS
        )
        self._slow = any(p.kind not in _PLAIN_KINDS for p in parameters)
        self._names = tuple(p.name for p in parameters)
        self._positional_only = frozenset(
            p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_ONLY
        )
        self._defaults = {
            p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty
        }

    def bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Return the call's inputs; arguments that do not fit come back as args/kwargs."""
        try:
            if self._signature is None:
                return _unbound(args, kwargs)
            if self._slow or len(args) > len(self._names):
                return self._bind_slow(args, kwargs)
            inputs: dict[str, Any] = {}
            n_args = len(args)
            used_keywords = 0
            for index, name in enumerate(self._names):
                if index < n_args:
                    inputs[name] = args[index]
                elif name in kwargs and name not in self._positional_only:
                    inputs[name] = kwargs[name]
                    used_keywords += 1
                elif name in self._defaults:
                    inputs[name] = self._defaults[name]
                else:
                    return _unbound(args, kwargs)  # a required argument is missing
            if used_keywords != len(kwargs):
                # An unknown or duplicated keyword, or a positional-only one: let bind judge.
                return self._bind_slow(args, kwargs)
            if self._skip_first:
                del inputs[self._names[0]]
            return inputs
        except Exception:  # pragma: no cover - a hostile Mapping for kwargs
            return _unbound(args, kwargs)

    def _bind_slow(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
        assert self._signature is not None
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError:
            return _unbound(args, kwargs)  # the call itself will raise the user's TypeError
        bound.apply_defaults()
        inputs = dict(bound.arguments)
        if self._skip_first:
            inputs.pop(self._names[0], None)
        return inputs


def _unbound(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if args:
        inputs["args"] = list(args)
    if kwargs:
        inputs["kwargs"] = dict(kwargs)
    return inputs

"""``@genai_trace.trace``: one wrapper per kind of callable, chosen at decoration time.

Sync functions, coroutines, generators and async generators each get a wrapper of the same
nature (``inspect.iscoroutinefunction`` and friends answer as before). Generator spans open
at the first ``next()`` and end at exhaustion, at an exception, or when the consumer stops
early (``break``, ``close()``, garbage collection); the span is current only while the
generator's own body runs.

A call's arguments become the span's inputs through :class:`InputBinder`, at the bottom of
this module: it reads the signature once, at decoration, and binds each call cheaply. It is
the decorator's own "decide once" half (nothing else binds arguments), so it lives here.

Layer: ``_api``; imports ``span`` (the shared :class:`SpanScope` path), ``_runtime`` and
``_semantics``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from typing import Any, NamedTuple, TypeVar, overload

from genai_trace._api.span import NOTHING, SpanScope, static_attributes
from genai_trace._errors import log_internal_error
from genai_trace._runtime.live import live
from genai_trace._semantics import semconv as sc
from genai_trace._semantics.capture import clean_text

F = TypeVar("F", bound=Callable[..., Any])


class _TraceSpec:
    """What a decoration decided once: span name, fixed attributes, binding, capture."""

    __slots__ = ("attributes", "binder", "capture_inputs", "capture_outputs", "name", "reducer")

    def __init__(
        self,
        func: Callable[..., Any],
        name: str,
        attributes: dict[str, Any],
        reducer: Callable[[list[Any]], Any] | None,
        capture_inputs: bool,
        capture_outputs: bool,
    ) -> None:
        self.name = clean_text(name)
        self.attributes = attributes
        self.binder = InputBinder(func) if capture_inputs else None
        self.reducer = reducer
        self.capture_inputs = capture_inputs
        self.capture_outputs = capture_outputs

    def open(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> SpanScope | None:
        inputs = self.inputs(args, kwargs)
        return SpanScope.open(self.name, dict(self.attributes), inputs)

    def inputs(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
        if self.binder is None:
            return NOTHING
        try:
            return self.binder.bind(args, kwargs)
        except Exception:
            log_internal_error("binding inputs")
            return NOTHING

    def outputs(self, value: Any) -> Any:
        return value if self.capture_outputs else NOTHING

    def reduce(self, items: list[Any]) -> Any:
        if not self.capture_outputs:
            return NOTHING
        if self.reducer is None:
            return items
        try:
            return self.reducer(items)
        except Exception:
            log_internal_error("output_reducer")
            return items


@overload
def trace(func: F) -> F: ...


@overload
def trace(
    func: None = None,
    *,
    name: str | None = None,
    span_type: sc.SpanType | str = sc.SpanType.CHAIN,
    attributes: Mapping[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    capture_inputs: bool = True,
    capture_outputs: bool = True,
) -> Callable[[F], F]: ...


def trace(
    func: F | None = None,
    *,
    name: str | None = None,
    span_type: sc.SpanType | str = sc.SpanType.CHAIN,
    attributes: Mapping[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
    capture_inputs: bool = True,
    capture_outputs: bool = True,
) -> F | Callable[[F], F]:
    """Trace every call of a function as a span: inputs, outputs, errors, timing.

    Works bare or with options, on functions, ``async def`` functions, generators, async
    generators, methods, classmethods and staticmethods.

    Args:
        func: The function (when used bare).
        name: The span's name; defaults to the function's ``__name__``.
        span_type: A :class:`SpanType` or a custom string.
        attributes: Fixed attributes for every span of this function.
        output_reducer: For generators: turns the list of yielded items into the recorded
            output (for example, joining streamed chunks into one string).
        capture_inputs: Record the call's arguments (bound to the signature, defaults
            applied, ``self``/``cls`` left out).
        capture_outputs: Record the return value (for generators, the yielded items).

    Example:
        >>> @genai_trace.trace(span_type=SpanType.LLM)
        ... def complete(prompt: str, temperature: float = 0.2) -> str: ...
        >>> @genai_trace.trace(output_reducer="".join)
        ... def stream(prompt: str): yield from ["Hel", "lo"]
    """
    options = _TraceOptions(
        name, span_type, attributes, output_reducer, capture_inputs, capture_outputs
    )
    if func is None:
        return lambda inner: _decorate(inner, options)
    return _decorate(func, options)  # type: ignore[no-any-return]


class _TraceOptions(NamedTuple):
    name: str | None
    span_type: sc.SpanType | str
    attributes: Mapping[str, Any] | None
    output_reducer: Callable[[list[Any]], Any] | None
    capture_inputs: bool
    capture_outputs: bool


def _decorate(func: Any, options: _TraceOptions) -> Any:
    if isinstance(func, (classmethod, staticmethod)):
        return type(func)(_decorate(func.__func__, options))  # same descriptor kind back
    if not callable(func):
        raise TypeError(f"@trace decorates a callable, got {func!r}")
    if options.name is not None and not isinstance(options.name, str):
        raise TypeError(f"@trace(name=...) must be a str, got {options.name!r}")
    reducer = options.output_reducer
    if reducer is not None and not callable(reducer):
        raise TypeError(f"@trace(output_reducer=...) must be callable, got {reducer!r}")
    spec = _TraceSpec(
        func,
        options.name or str(getattr(func, "__name__", type(func).__name__)),
        static_attributes(options.span_type, options.attributes),
        reducer,
        options.capture_inputs,
        options.capture_outputs,
    )
    if inspect.isasyncgenfunction(func):
        wrapper: Callable[..., Any] = _async_generator_wrapper(func, spec)
    elif inspect.iscoroutinefunction(func):
        wrapper = _coroutine_wrapper(func, spec)
    elif inspect.isgeneratorfunction(func):
        wrapper = _generator_wrapper(func, spec)
    else:
        wrapper = _function_wrapper(func, spec)
    return functools.wraps(func)(wrapper)


def _function_wrapper(func: Callable[..., Any], spec: _TraceSpec) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if live.disabled:
            return func(*args, **kwargs)
        scope = spec.open(args, kwargs)
        if scope is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            scope.fail(exc)
            raise
        scope.finish(spec.outputs(result))
        return result

    return wrapper


def _coroutine_wrapper(func: Callable[..., Any], spec: _TraceSpec) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        if live.disabled:
            return await func(*args, **kwargs)
        scope = spec.open(args, kwargs)
        if scope is None:
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            scope.fail(exc)
            raise
        scope.finish(spec.outputs(result))
        return result

    return wrapper


def _generator_wrapper(func: Callable[..., Any], spec: _TraceSpec) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        if live.disabled:
            return (yield from func(*args, **kwargs))
        # Inputs are captured at the call, before the caller can mutate them; the span
        # opens when iteration starts, which is when this body first runs.
        inputs = spec.inputs(args, kwargs)
        generator = func(*args, **kwargs)
        scope = SpanScope.open(spec.name, dict(spec.attributes), inputs)
        if scope is None:
            return (yield from generator)
        items: list[Any] = []
        to_send: Any = None
        to_throw: BaseException | None = None
        first = True
        while True:
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = generator.throw(exc)
                else:
                    item = generator.send(to_send)
            except StopIteration as stop:
                scope.finish(spec.reduce(items))
                return stop.value
            except BaseException as exc:
                scope.fail(exc)
                raise
            if first:
                first = False
                scope.mark_first_item()
            if spec.capture_outputs:
                items.append(item)
            scope.suspend()
            try:
                to_send = yield item
            except GeneratorExit:
                _close_early(scope, generator.close, spec, items)
                raise
            except BaseException as exc:  # consumer's .throw(): forward into the generator
                to_throw, to_send = exc, None
            scope.resume()

    return wrapper


def _async_generator_wrapper(func: Callable[..., Any], spec: _TraceSpec) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        if live.disabled:
            async for item in func(*args, **kwargs):
                yield item
            return
        inputs = spec.inputs(args, kwargs)
        generator = func(*args, **kwargs)
        scope = SpanScope.open(spec.name, dict(spec.attributes), inputs)
        items: list[Any] = []
        to_send: Any = None
        to_throw: BaseException | None = None
        first = True
        while True:
            try:
                if to_throw is not None:
                    exc, to_throw = to_throw, None
                    item = await generator.athrow(exc)
                else:
                    item = await generator.asend(to_send)
            except StopAsyncIteration:
                if scope is not None:
                    scope.finish(spec.reduce(items))
                return
            except BaseException as exc:
                if scope is not None:
                    scope.fail(exc)
                raise
            if scope is not None:
                if first:
                    first = False
                    scope.mark_first_item()
                if spec.capture_outputs:
                    items.append(item)
                scope.suspend()
            try:
                to_send = yield item
            except GeneratorExit:
                if scope is None:
                    await generator.aclose()
                else:
                    await _aclose_early(scope, generator, spec, items)
                raise
            except BaseException as exc:
                to_throw, to_send = exc, None
            if scope is not None:
                scope.resume()

    return wrapper


def _close_early(
    scope: SpanScope, close: Callable[[], None], spec: _TraceSpec, items: list[Any]
) -> None:
    """The consumer stopped early: close the user's generator inside the span, end it."""
    scope.resume()
    try:
        close()
    except BaseException as exc:  # the generator's own cleanup failed: that is the story
        scope.fail(exc)
        raise
    scope.finish(spec.reduce(items), event=sc.GENERATOR_CLOSED_EVENT)


async def _aclose_early(
    scope: SpanScope, generator: AsyncGenerator[Any, Any], spec: _TraceSpec, items: list[Any]
) -> None:
    scope.resume()
    try:
        await generator.aclose()
    except BaseException as exc:
        scope.fail(exc)
        raise
    scope.finish(spec.reduce(items), event=sc.GENERATOR_CLOSED_EVENT)


# --- a call's arguments as the span's inputs ----------------------------------------------

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

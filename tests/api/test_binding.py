"""A call's arguments as the span's inputs (``genai_trace._api.decorator.InputBinder``)."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from genai_trace._api.decorator import InputBinder


def plain(question: str, model: str = "gpt-4o", temperature: float = 0.0) -> None: ...


def positional_only(a: int, b: int = 2, /, c: int = 3) -> None: ...


def variadic(first: int, *rest: int, flag: bool = False, **options: Any) -> None: ...


def keyword_only(query: str, *, k: int = 5, rerank: bool) -> None: ...


def no_parameters() -> None: ...


class Service:
    def method(self, prompt: str, n: int = 1) -> None: ...

    @classmethod
    def factory(cls, name: str, size: int = 3) -> None: ...

    @staticmethod
    def helper(x: int, y: int = 0) -> None: ...

    def variadic_method(self, *items: int, **extra: Any) -> None: ...


def bind(func: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    return InputBinder(func).bind(args, kwargs)


@pytest.mark.parametrize(
    ("func", "args", "kwargs", "expected"),
    [
        pytest.param(
            plain,
            ("hi",),
            {},
            {"question": "hi", "model": "gpt-4o", "temperature": 0.0},
            id="defaults applied",
        ),
        pytest.param(
            plain,
            ("hi", "o1", 0.5),
            {},
            {"question": "hi", "model": "o1", "temperature": 0.5},
            id="all positional",
        ),
        pytest.param(
            plain,
            (),
            {"temperature": 1.0, "question": "hi"},
            {"question": "hi", "model": "gpt-4o", "temperature": 1.0},
            id="keywords out of order, signature order kept",
        ),
        pytest.param(
            plain,
            ("hi",),
            {"temperature": 1.0},
            {"question": "hi", "model": "gpt-4o", "temperature": 1.0},
            id="mixed",
        ),
        pytest.param(positional_only, (1,), {}, {"a": 1, "b": 2, "c": 3}, id="positional-only"),
        pytest.param(
            positional_only,
            (1, 5),
            {"c": 9},
            {"a": 1, "b": 5, "c": 9},
            id="positional-only with a keyword after the slash",
        ),
        pytest.param(no_parameters, (), {}, {}, id="no parameters"),
        pytest.param(
            variadic,
            (1, 2, 3),
            {"flag": True, "mode": "x"},
            {"first": 1, "rest": (2, 3), "flag": True, "options": {"mode": "x"}},
            id="*args, keyword-only and **kwargs",
        ),
        pytest.param(
            variadic,
            (1,),
            {},
            {"first": 1, "rest": (), "flag": False, "options": {}},
            id="empty *args and **kwargs",
        ),
        pytest.param(
            keyword_only,
            ("q",),
            {"rerank": True},
            {"query": "q", "k": 5, "rerank": True},
            id="keyword-only with a default",
        ),
    ],
)
def test_arguments_bind_to_parameter_names_in_signature_order(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    inputs = InputBinder(func).bind(args, kwargs)
    assert inputs == expected
    assert list(inputs) == list(expected)


@pytest.mark.parametrize(
    ("func", "args", "kwargs"),
    [
        pytest.param(plain, ("a", "b", 1.0, "extra"), {}, id="too many positional"),
        pytest.param(plain, ("hi",), {"unknown": 1}, id="unknown keyword"),
        pytest.param(plain, ("hi",), {"question": "again"}, id="duplicated argument"),
        pytest.param(plain, (), {}, id="missing required argument"),
        pytest.param(plain, (), {"model": "o1"}, id="missing required, with a keyword"),
        pytest.param(positional_only, (), {"a": 1}, id="positional-only passed by keyword"),
        pytest.param(keyword_only, ("q",), {}, id="missing keyword-only"),
        pytest.param(keyword_only, ("q", 5), {"rerank": True}, id="keyword-only positionally"),
        pytest.param(no_parameters, (1,), {}, id="argument to a function without parameters"),
    ],
)
def test_a_call_that_does_not_fit_falls_back_to_args_and_kwargs(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    expected: dict[str, Any] = {}
    if args:
        expected["args"] = list(args)
    if kwargs:
        expected["kwargs"] = kwargs
    assert InputBinder(func).bind(args, kwargs) == expected
    with pytest.raises(TypeError):
        func(*args, **kwargs)  # the call itself raises: the binder only mirrors it


def test_self_is_left_out_of_a_method_bound_through_the_class() -> None:
    service = Service()
    binder = InputBinder(Service.method)
    assert binder.bind((service, "p"), {}) == {"prompt": "p", "n": 1}
    assert binder.bind((service,), {"n": 2, "prompt": "p"}) == {"prompt": "p", "n": 2}
    assert binder.bind((service, "p", 2, 3), {}) == {"args": [service, "p", 2, 3]}


def test_self_is_left_out_on_the_slow_path_too() -> None:
    service = Service()
    binder = InputBinder(Service.variadic_method)
    assert binder.bind((service, 1, 2), {"k": "v"}) == {"items": (1, 2), "extra": {"k": "v"}}


def test_cls_is_left_out_of_a_classmethod() -> None:
    underlying = Service.__dict__["factory"].__func__
    assert bind(underlying, Service, "n") == {"name": "n", "size": 3}
    # Through the class the method is already bound: cls is not a parameter any more.
    assert bind(Service.factory, "n", size=4) == {"name": "n", "size": 4}


def test_a_staticmethod_keeps_its_first_parameter() -> None:
    assert bind(Service.helper, 1) == {"x": 1, "y": 0}
    assert bind(Service.__dict__["helper"].__func__, 1, y=2) == {"x": 1, "y": 2}


def test_a_bound_method_binds_without_self() -> None:
    assert bind(Service().method, "p", n=3) == {"prompt": "p", "n": 3}


def test_only_a_first_parameter_is_taken_for_self() -> None:
    def odd(prompt: str, self: int = 0) -> None: ...

    def star_self(*self: int) -> None: ...

    assert bind(odd, "p") == {"prompt": "p", "self": 0}
    assert bind(star_self, 1, 2) == {"self": (1, 2)}


def test_a_partial_binds_its_remaining_parameters() -> None:
    partial = functools.partial(plain, model="o1")
    assert bind(partial, "hi") == {"question": "hi", "model": "o1", "temperature": 0.0}


def test_a_builtin_without_a_signature_gives_args_and_kwargs() -> None:
    assert bind(max, 1, 2) == {"args": [1, 2]}
    assert bind(max, [1], key=abs) == {"args": [[1]], "kwargs": {"key": abs}}
    assert bind(max) == {}


def test_a_builtin_with_a_signature_binds() -> None:
    assert bind(str.join, ",", ["a"]) == {"iterable": ["a"]}  # its first parameter is self
    assert bind(len, "abc") == {"obj": "abc"}


def test_a_callable_whose_signature_raises_gives_args_and_kwargs() -> None:
    class Odd:
        @property
        def __signature__(self) -> Any:
            raise RuntimeError("no signature")

        def __call__(self, x: int) -> None: ...

    assert bind(Odd(), 1) == {"args": [1]}


def test_defaults_are_the_objects_themselves_not_copies() -> None:
    sentinel: list[int] = []

    def uses_default(items: list[int] = sentinel) -> None: ...

    assert bind(uses_default)["items"] is sentinel


def test_a_binder_is_reusable_across_calls() -> None:
    binder = InputBinder(plain)
    assert binder.bind(("a",), {}) == {"question": "a", "model": "gpt-4o", "temperature": 0.0}
    assert binder.bind((), {"unknown": 1}) == {"kwargs": {"unknown": 1}}
    assert binder.bind(("b",), {"model": "m"}) == {
        "question": "b",
        "model": "m",
        "temperature": 0.0,
    }

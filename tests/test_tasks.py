"""The @task decorator and Task: options, validation, binding, names and cache keys."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any

import pytest

from orchestrator import InvalidArgument, TaskRunPolicy
from orchestrator._core._tasks import Task, task


@task
def add(x: int, y: int = 10) -> int:
    """Add two numbers."""
    return x + y


@task(name="fetch", retries=2, retry_delay_seconds=[1, 10], tags=["io"])
async def fetch(url: str) -> str:
    return f"got {url}"


def test_bare_decorator_defaults() -> None:
    assert isinstance(add, Task)
    assert add.name == "add"
    assert add.task_key == f"{add.fn.__module__}.add"
    assert add.retries == 0
    assert add.policy == TaskRunPolicy(retries=0)
    assert add.retry_delay_seconds is None
    assert add.retry_jitter_factor is None
    assert add.tags == frozenset()
    assert add.cache_key_fn is None
    assert add.cache_expiration is None
    assert add.timeout_seconds is None
    assert add.task_run_name is None
    assert add.refresh_cache is False
    assert add.is_async is False
    assert add.takes_parameters is True


def test_the_task_looks_like_its_function() -> None:
    assert add.__name__ == "add"
    assert add.__doc__ == "Add two numbers."
    assert list(inspect.signature(add).parameters) == ["x", "y"]
    assert repr(add) == "Task('add', key='" + add.task_key + "', retries=0)"


def test_task_key_is_module_and_qualname_even_for_nested_functions() -> None:
    def inner() -> None:
        pass

    made = task(inner)
    assert made.task_key == f"{__name__}.{inner.__qualname__}"
    assert made.task_key.endswith(
        "test_task_key_is_module_and_qualname_even_for_nested_functions.<locals>.inner"
    )
    assert task(inner).task_key == made.task_key  # deterministic


def test_calling_the_task_runs_the_plain_function() -> None:
    assert add(1) == 11
    assert add(1, y=2) == 3


async def test_calling_an_async_task_returns_its_coroutine() -> None:
    assert fetch.is_async is True
    assert await fetch("a") == "got a"


def test_an_object_with_an_async_call_is_async() -> None:
    class Caller:
        async def __call__(self, x: int) -> int:
            return x

    made = Task(Caller(), name="caller", task_key="caller")
    assert made.is_async is True
    assert made.task_key == "caller"


def test_options_are_kept() -> None:
    def key_fn(params: dict[str, Any]) -> str:
        return f"k-{params['x']}"

    made = task(
        name="named",
        task_key="my.key",
        retries=3,
        retry_delay_seconds=5,
        retry_jitter_factor=0.5,
        tags=("a", "b"),
        cache_key_fn=key_fn,
        cache_expiration=60,
        timeout_seconds=2,
        task_run_name="run-{x}",
        refresh_cache=True,
    )(lambda x: x)
    assert made.name == "named"
    assert made.task_key == "my.key"
    assert made.policy == TaskRunPolicy(retries=3, retry_delay=5.0, retry_jitter_factor=0.5)
    assert made.retries == 3
    assert made.retry_delay_seconds == 5.0
    assert made.retry_jitter_factor == 0.5
    assert made.tags == frozenset({"a", "b"})
    assert made.cache_key_fn is key_fn
    assert made.cache_expiration == timedelta(seconds=60)
    assert made.timeout_seconds == 2.0
    assert made.task_run_name == "run-{x}"
    assert made.refresh_cache is True


def test_retry_delay_list_and_callable() -> None:
    assert fetch.policy == TaskRunPolicy(retries=2, retry_delay=(1.0, 10.0))
    calls: list[int] = []

    def backoff(retries: int) -> list[float]:
        calls.append(retries)
        return [2.0**n for n in range(retries)]

    made = task(retries=4, retry_delay_seconds=backoff)(add.fn)
    assert made.retry_delay_seconds == [1.0, 2.0, 4.0, 8.0]
    assert calls == [4]
    # A copy with other retries asks the function again.
    assert made.with_options(retries=2).retry_delay_seconds == [1.0, 2.0]
    assert calls == [4, 2]


def test_cache_expiration_accepts_a_timedelta() -> None:
    made = task(cache_expiration=timedelta(minutes=5))(add.fn)
    assert made.cache_expiration == timedelta(minutes=5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "retries must be an integer >= 0, got -1"),
        ({"retries": 1.5}, "retries must be an integer >= 0, got 1.5"),
        ({"retries": True}, "retries must be an integer >= 0, got True"),
        ({"retry_delay_seconds": [1] * 51}, "Can not configure more than 50 retry delays"),
        (
            {"retries": 51, "retry_delay_seconds": lambda n: [1] * n},
            "Can not configure more than 50 retry delays",
        ),
        (
            {"retry_delay_seconds": -1},
            "retry_delay_seconds must be a finite number of seconds >= 0, or a list of them",
        ),
        (
            {"retry_delay_seconds": [1, -1]},
            "every delay in retry_delay_seconds must be a finite number of seconds >= 0, got -1",
        ),
        ({"retry_delay_seconds": "5"}, "retry_delay_seconds must be seconds, a list"),
        ({"retry_delay_seconds": lambda n: 5}, r"retry_delay_seconds\(0\) must return a list"),
        (
            {"retry_jitter_factor": -0.5},
            "retry_jitter_factor must be None or a finite number >= 0, got -0.5",
        ),
        (
            {"retry_jitter_factor": "1"},
            "retry_jitter_factor must be None or a finite number >= 0, got '1'",
        ),
        ({"tags": "db"}, "tags must be a collection of strings, such as"),
        ({"tags": ["ok", ""]}, "every tag must be a non-empty string, got ''"),
        ({"tags": [1]}, "every tag must be a non-empty string, got 1"),
        ({"cache_key_fn": "key"}, "cache_key_fn must be a function"),
        ({"retries": 1, "retry_delay_seconds": {1: 2}}, "retry_delay_seconds must be seconds"),
        ({"cache_expiration": "1h"}, "cache_expiration must be a timedelta or a number"),
        ({"cache_expiration": float("inf")}, "cache_expiration must be a timedelta or a number"),
        ({"timeout_seconds": 0}, r"timeout_seconds must be a number of seconds > 0 \(or None\)"),
        ({"timeout_seconds": -3}, "timeout_seconds must be a number of seconds > 0"),
        ({"timeout_seconds": float("nan")}, "timeout_seconds must be a number of seconds > 0"),
        ({"timeout_seconds": "10"}, "timeout_seconds must be a number of seconds > 0"),
        ({"task_run_name": 5}, "task_run_name must be a format string or a function"),
        ({"task_run_name": "run-{"}, "task_run_name 'run-{' is not a valid format string"),
        ({"task_run_name": "run-{}"}, "uses a positional field"),
        ({"task_run_name": "run-{0}"}, "uses a positional field"),
        (
            {"task_run_name": "run-{z}"},
            "names 'z', which is not a parameter of the function; its parameters are x, y",
        ),
        ({"name": ""}, "name must be a non-empty string"),
        ({"task_key": ""}, "task_key must be a non-empty string"),
        ({"refresh_cache": 1}, "refresh_cache must be True or False, got 1"),
        ({"retry": 3}, "unknown @task option"),
    ],
)
def test_bad_options_are_refused_clearly(options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        task(**options)(add.fn)


def test_decorating_something_that_is_not_callable_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="@task decorates a function, got 'add'"):
        task("add")  # type: ignore[call-overload]


def test_unreadable_signature_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="cannot read the signature of"):
        Task(max, name="max", task_key="max")


def test_with_options_returns_a_changed_copy() -> None:
    copy = fetch.with_options(retries=5, tags=["net"], timeout_seconds=3)
    assert copy is not fetch
    assert copy.fn is fetch.fn
    assert copy.retries == 5
    assert copy.retry_delay_seconds == [1.0, 10.0]
    assert copy.tags == frozenset({"net"})
    assert copy.timeout_seconds == 3.0
    assert copy.name == "fetch"
    assert copy.task_key == fetch.task_key
    # The original is unchanged.
    assert fetch.retries == 2
    assert fetch.tags == frozenset({"io"})
    assert fetch.timeout_seconds is None
    # None clears an option.
    assert copy.with_options(timeout_seconds=None, tags=None).timeout_seconds is None
    assert copy.with_options(tags=None).tags == frozenset()


def test_with_options_shows_which_options_it_leaves_alone() -> None:
    parameter = inspect.signature(Task.with_options).parameters["retries"]
    assert repr(parameter.default) == "<unset>"


def test_with_options_validates_and_leaves_the_original_alone() -> None:
    with pytest.raises(InvalidArgument, match="retries must be an integer >= 0"):
        fetch.with_options(retries=-2)
    assert fetch.retries == 2


def test_bind_parameters_fills_defaults() -> None:
    assert add.bind_parameters(1) == {"x": 1, "y": 10}
    assert add.bind_parameters(y=2, x=1) == {"x": 1, "y": 2}


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        ((), {}, "missing a required argument: 'x'"),
        ((1, 2, 3), {}, "too many positional arguments"),
        ((1,), {"z": 3}, "got an unexpected keyword argument 'z'"),
        ((1,), {"x": 3}, "multiple values for argument 'x'"),
    ],
)
def test_bind_parameters_raises_the_signatures_type_error(
    args: tuple[Any, ...], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError) as info:
        add.bind_parameters(*args, **kwargs)
    assert str(info.value) == message


def test_call_with_parameters_handles_every_kind_of_parameter() -> None:
    def everything(a: int, /, b: int, *rest: int, c: int, **extra: int) -> tuple[Any, ...]:
        return (a, b, rest, c, extra)

    made = task(everything)
    params = made.bind_parameters(1, 2, 3, 4, c=5, d=6)
    assert params == {"a": 1, "b": 2, "rest": (3, 4), "c": 5, "extra": {"d": 6}}
    assert made.call_with_parameters(params) == (1, 2, (3, 4), 5, {"d": 6})


def test_render_run_name_from_a_template() -> None:
    class Point:
        x = 7

    made = task(task_run_name="add-{x}-{y.x}-{z[0]}")(lambda x, y, z: None)
    assert made.render_run_name({"x": 1, "y": Point(), "z": [9]}) == "add-1-7-9"
    assert add.render_run_name({"x": 1, "y": 2}) is None


def test_render_run_name_with_kwargs_templates_may_name_anything() -> None:
    def open_ended(**kwargs: Any) -> None:
        pass

    made = task(task_run_name="run-{anything}")(open_ended)
    with pytest.raises(InvalidArgument) as info:
        made.render_run_name({"kwargs": {}})
    assert str(info.value) == (
        "task_run_name 'run-{anything}' cannot be rendered with parameters ['kwargs']: "
        "KeyError('anything')"
    )


def test_render_run_name_from_a_function() -> None:
    made = task(task_run_name=lambda params: f"sum-{params['x'] + params['y']}")(add.fn)
    assert made.render_run_name({"x": 1, "y": 2}) == "sum-3"
    empty = task(name="empty", task_run_name=lambda params: "")(add.fn)
    with pytest.raises(
        InvalidArgument,
        match="the task_run_name function of 'empty' must return a non-empty string, got ''",
    ):
        empty.render_run_name({"x": 1, "y": 2})


def test_cache_key() -> None:
    made = task(cache_key_fn=lambda params: f"add-{params['x']}")(add.fn)
    assert made.cache_key({"x": 1, "y": 2}) == "add-1"
    assert add.cache_key({"x": 1, "y": 2}) is None
    declines = task(cache_key_fn=lambda params: None)(add.fn)
    assert declines.cache_key({"x": 1}) is None
    bad = task(name="bad", cache_key_fn=lambda params: 5)(add.fn)  # type: ignore[arg-type]
    with pytest.raises(
        InvalidArgument, match="the cache_key_fn of 'bad' must return a string or None, got 5"
    ):
        bad.cache_key({"x": 1})


def test_a_function_without_parameters() -> None:
    made = task(lambda: 1)
    assert made.takes_parameters is False
    assert made.bind_parameters() == {}
    assert made.name == "<lambda>"


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, 2), {}), ((1, 2, 3), {}), ((1,), {"c": 4}), ((), {"a": 1, "b": 2})],
)
def test_the_fast_binding_agrees_with_the_signature(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    def plain(a: int, b: int = 2, c: int = 3) -> None:
        pass

    bound = inspect.signature(plain).bind(*args, **kwargs)
    bound.apply_defaults()
    params = task(plain).bind_parameters(*args, **kwargs)
    assert params == bound.arguments
    assert list(params) == ["a", "b", "c"]

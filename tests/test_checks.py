"""The argument-check vocabulary: what each check accepts, and what a refusal says."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from orchestrator import ArgumentTypeError, ArgumentValueError, InvalidArgument
from orchestrator._core._checks import (
    NO_TAGS,
    UNSET,
    check_bool,
    check_count,
    check_id,
    check_name,
    check_names,
    check_number,
    check_optional_count,
    check_optional_int,
    check_optional_seconds,
    check_optional_text,
    check_page,
    check_port,
    check_positive_int,
    check_seconds,
    check_tags,
    check_text,
    is_integer,
    is_number,
    wrong_type,
    wrong_value,
)
from orchestrator._core._checks_objects import (
    check_args,
    check_choice,
    check_datetime,
    check_ids,
    check_instance,
    check_mapping,
    check_mapping_of_str,
    check_optional_datetime,
)

NAN = float("nan")
INF = float("inf")
ID = uuid.UUID(int=7)


def refused(check: Callable[[], object], message: str) -> None:
    """Assert ``check()`` raises InvalidArgument whose message is exactly ``message``."""
    with pytest.raises(InvalidArgument, match=f"^{re.escape(message)}$"):
        check()


# -- accepted values come back in the form callers keep ----------------------------------------


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        pytest.param(lambda: check_bool(True, "paused"), True, id="bool-true"),
        pytest.param(lambda: check_bool(False, "paused"), False, id="bool-false"),
        pytest.param(lambda: check_count(0, "offset"), 0, id="count-zero"),
        pytest.param(lambda: check_count(5, "page", minimum=5), 5, id="count-at-minimum"),
        pytest.param(lambda: check_count(-2, "delta", minimum=-3), -2, id="count-negative-min"),
        pytest.param(lambda: check_positive_int(1, "max_buckets"), 1, id="positive-one"),
        pytest.param(lambda: check_optional_count(None, "limit"), None, id="optional-none"),
        pytest.param(lambda: check_optional_count(0, "limit"), 0, id="optional-zero"),
        pytest.param(lambda: check_port(0, "port"), 0, id="port-zero"),
        pytest.param(lambda: check_port(65535, "port"), 65535, id="port-max"),
        pytest.param(lambda: check_page(None, 0), (None, 0), id="page-unlimited"),
        pytest.param(lambda: check_page(10, 20), (10, 20), id="page"),
        pytest.param(lambda: check_seconds(0, "delay"), 0.0, id="seconds-zero"),
        pytest.param(lambda: check_seconds(2.5, "delay", positive=True), 2.5, id="seconds"),
        pytest.param(lambda: check_seconds(INF, "lease", finite=False), INF, id="seconds-inf"),
        pytest.param(lambda: check_optional_seconds(None, "timeout"), None, id="opt-seconds"),
        pytest.param(lambda: check_optional_seconds(3, "timeout"), 3.0, id="opt-seconds-int"),
        pytest.param(lambda: check_text("k", "task_key"), "k", id="text"),
        pytest.param(lambda: check_name("pool-1", "work_pool_name"), "pool-1", id="name"),
        pytest.param(lambda: check_names(None, "work_queues", item="q"), None, id="names-none"),
        pytest.param(
            lambda: check_names(["a", "b"], "work_queues", item="q"), ("a", "b"), id="names"
        ),
        pytest.param(lambda: check_tags(["a", "b", "a"]), frozenset({"a", "b"}), id="tags"),
        pytest.param(lambda: check_tags(iter(("a",))), frozenset({"a"}), id="tags-iterator"),
        pytest.param(lambda: check_id(ID, "id"), ID, id="id"),
        pytest.param(lambda: check_id(str(ID), "id", text=True), ID, id="id-text"),
    ],
)
def test_accepted_values_are_returned(check: Callable[[], object], expected: object) -> None:
    assert check() == expected


def test_counts_keep_the_int_given_and_seconds_become_floats() -> None:
    assert type(check_count(3, "n")) is int
    assert type(check_seconds(3, "s")) is float
    assert type(check_optional_seconds(3, "s")) is float


def test_no_tags_is_one_shared_empty_set() -> None:
    assert check_tags(None) is NO_TAGS
    assert check_tags([]) is NO_TAGS
    assert check_tags(()) is NO_TAGS


def test_unset_is_a_named_singleton() -> None:
    assert repr(UNSET) == "UNSET"
    assert UNSET is type(UNSET).UNSET


@pytest.mark.parametrize(
    ("value", "integer", "number"),
    [
        (1, True, True),
        (1.5, False, True),
        (NAN, False, True),
        (True, False, False),
        ("1", False, False),
        (None, False, False),
    ],
)
def test_predicates(value: object, integer: bool, number: bool) -> None:
    assert (is_integer(value), is_number(value)) == (integer, number)


# -- refusals name the parameter, show what it got and say what to pass ------------------------


@pytest.mark.parametrize(
    ("check", "message"),
    [
        # booleans
        pytest.param(
            lambda: check_bool(1, "paused"), "paused must be True or False, got 1", id="bool-int"
        ),
        pytest.param(
            lambda: check_bool(None, "paused"), "paused must be True or False, got None", id="none"
        ),
        pytest.param(
            lambda: check_bool("yes", "paused"),
            "paused must be True or False, got 'yes'",
            id="bool-str",
        ),
        # counts: a bool is not an int here, nor a float or a string
        pytest.param(
            lambda: check_count(True, "retries"),
            "retries must be an integer >= 0, got True",
            id="count-bool",
        ),
        pytest.param(
            lambda: check_count(1.0, "retries"),
            "retries must be an integer >= 0, got 1.0",
            id="count-float",
        ),
        pytest.param(
            lambda: check_count("3", "retries"),
            "retries must be an integer >= 0, got '3'",
            id="count-str",
        ),
        pytest.param(
            lambda: check_count(-1, "offset"),
            "offset must be an integer >= 0, got -1",
            id="count-negative",
        ),
        pytest.param(
            lambda: check_count(2, "page", minimum=3),
            "page must be an integer >= 3, got 2",
            id="count-below-minimum",
        ),
        pytest.param(
            lambda: check_positive_int(0, "max_buckets"),
            "max_buckets must be an integer >= 1, got 0",
            id="positive-zero",
        ),
        pytest.param(
            lambda: check_positive_int(False, "max_buckets"),
            "max_buckets must be an integer >= 1, got False",
            id="positive-bool",
        ),
        pytest.param(
            lambda: check_optional_count(-1, "limit"),
            "limit must be None or an integer >= 0, got -1",
            id="optional-negative",
        ),
        pytest.param(
            lambda: check_optional_count(True, "limit", minimum=1),
            "limit must be None or an integer >= 1, got True",
            id="optional-bool",
        ),
        pytest.param(
            lambda: check_port(65536, "port"),
            "port must be a port number 0..65535, got 65536",
            id="port-high",
        ),
        pytest.param(
            lambda: check_port(True, "port"),
            "port must be a port number 0..65535, got True",
            id="port-bool",
        ),
        pytest.param(
            lambda: check_page(1.5, 0),
            "limit must be None or an integer >= 0, got 1.5",
            id="page-limit",
        ),
        pytest.param(
            lambda: check_page(None, -1), "offset must be an integer >= 0, got -1", id="page-offset"
        ),
        # seconds: finite numbers, NaN never, infinity only when asked for
        pytest.param(
            lambda: check_seconds(-1, "delay"),
            "delay must be a number of seconds >= 0, got -1",
            id="seconds-negative",
        ),
        pytest.param(
            lambda: check_seconds(0, "lease_seconds", positive=True),
            "lease_seconds must be a number of seconds > 0, got 0",
            id="seconds-zero",
        ),
        pytest.param(
            lambda: check_seconds(NAN, "delay"),
            "delay must be a number of seconds >= 0, got nan",
            id="seconds-nan",
        ),
        pytest.param(
            lambda: check_seconds(NAN, "lease", positive=True, finite=False),
            "lease must be a number of seconds > 0, got nan",
            id="seconds-nan-infinite-allowed",
        ),
        pytest.param(
            lambda: check_seconds(INF, "delay"),
            "delay must be a number of seconds >= 0, got inf",
            id="seconds-inf",
        ),
        pytest.param(
            lambda: check_seconds(-INF, "delay", finite=False),
            "delay must be a number of seconds >= 0, got -inf",
            id="seconds-minus-inf",
        ),
        pytest.param(
            lambda: check_seconds(True, "delay"),
            "delay must be a number of seconds >= 0, got True",
            id="seconds-bool",
        ),
        pytest.param(
            lambda: check_seconds("5", "delay"),
            "delay must be a number of seconds >= 0, got '5'",
            id="seconds-str",
        ),
        pytest.param(
            lambda: check_optional_seconds(0, "timeout", positive=True),
            "timeout must be None or a number of seconds > 0, got 0",
            id="optional-seconds",
        ),
        # text, names and tags
        pytest.param(
            lambda: check_text("", "task_key"),
            "task_key must be a non-empty string, got ''",
            id="text-empty",
        ),
        pytest.param(
            lambda: check_text(3, "a cache key"),
            "a cache key must be a non-empty string, got 3",
            id="text-int",
        ),
        pytest.param(
            lambda: check_name("a/b", "work_pool_name"),
            "work_pool_name must be a string without '/' or '%', got 'a/b'",
            id="name-slash",
        ),
        pytest.param(
            lambda: check_name("50%", "name"),
            "name must be a string without '/' or '%', got '50%'",
            id="name-percent",
        ),
        pytest.param(
            lambda: check_name(None, "work_pool_name"),
            "work_pool_name must be a non-empty string, got None",
            id="name-none",
        ),
        pytest.param(
            lambda: check_names("default", "work_queues", item="a work queue name"),
            "work_queues must be a list of names, not the string 'default'",
            id="names-string",
        ),
        pytest.param(
            lambda: check_names(3, "work_queues", item="a work queue name"),
            "work_queues must be a list of names, got 3",
            id="names-int",
        ),
        pytest.param(
            lambda: check_names(["ok", ""], "work_queues", item="a work queue name"),
            "a work queue name must be a non-empty string, got ''",
            id="names-item",
        ),
        pytest.param(
            lambda: check_tags("db"),
            "tags must be a collection of strings, such as ['db'], not the string 'db'",
            id="tags-string",
        ),
        pytest.param(
            lambda: check_tags(5, "labels"),
            "labels must be a collection of strings, such as ['db'], got 5",
            id="tags-int",
        ),
        pytest.param(
            lambda: check_tags(["ok", ""]), "every tag must be a non-empty string, got ''", id="tag"
        ),
        pytest.param(
            lambda: check_tags([1]), "every tag must be a non-empty string, got 1", id="tag-int"
        ),
        # ids
        pytest.param(
            lambda: check_id(str(ID), "flow_run_id"),
            f"flow_run_id must be a UUID, got '{ID}'",
            id="id-text-refused",
        ),
        pytest.param(
            lambda: check_id("nope", "id", text=True),
            "id must be a UUID (or its string form), got 'nope'",
            id="id-bad-text",
        ),
        pytest.param(
            lambda: check_id(7, "id", text=True),
            "id must be a UUID (or its string form), got 7",
            id="id-int",
        ),
    ],
)
def test_refusals_say_what_was_wrong(check: Callable[[], object], message: str) -> None:
    refused(check, message)


@pytest.mark.parametrize(
    ("check", "message"),
    [
        pytest.param(
            lambda: check_count(-1, "a concurrency limit", context="for tag 'db'"),
            "a concurrency limit must be an integer >= 0, got -1 for tag 'db'",
            id="context",
        ),
        pytest.param(
            lambda: check_positive_int(0, "max_idle_jumps", expected="an int >= 1"),
            "max_idle_jumps must be an int >= 1, got 0",
            id="expected-count",
        ),
        pytest.param(
            lambda: check_optional_seconds(NAN, "t", expected="None or real seconds > 0"),
            "t must be None or real seconds > 0, got nan",
            id="expected-seconds",
        ),
    ],
)
def test_wording_can_be_adjusted_without_changing_the_check(
    check: Callable[[], object], message: str
) -> None:
    refused(check, message)


@pytest.mark.parametrize(
    "check",
    [
        pytest.param(lambda: check_count(True, "n"), id="count"),
        pytest.param(lambda: check_optional_count(False, "n"), id="optional-count"),
        pytest.param(lambda: check_positive_int(True, "n"), id="positive"),
        pytest.param(lambda: check_port(False, "n"), id="port"),
        pytest.param(lambda: check_seconds(True, "n"), id="seconds"),
        pytest.param(lambda: check_optional_seconds(True, "n"), id="optional-seconds"),
        pytest.param(lambda: check_page(True, 0), id="page-limit"),
        pytest.param(lambda: check_page(None, False), id="page-offset"),
    ],
)
def test_no_numeric_check_takes_a_bool(check: Callable[[], object]) -> None:
    with pytest.raises(InvalidArgument, match=r"got (True|False)$"):
        check()


@pytest.mark.parametrize("value", [NAN, INF, -INF, -1, -0.5])
@pytest.mark.parametrize("positive", [False, True])
def test_seconds_refuse_nan_infinity_and_negatives(value: float, positive: bool) -> None:
    with pytest.raises(InvalidArgument, match=r"^delay must be a number of seconds"):
        check_seconds(value, "delay", positive=positive)


def test_int_subclasses_are_counts() -> None:
    class Small(int):
        pass

    assert check_count(Small(2), "n") == 2
    assert check_port(Small(80), "port") == 80


def test_refusals_are_invalid_arguments_and_value_errors() -> None:
    for error in (wrong_type("x", 1, "a string"), wrong_value("x", 1, "2")):
        assert isinstance(error, InvalidArgument)
        assert isinstance(error, ValueError)
    assert str(wrong_value("x", 1, "2", context="here")) == "x must be 2, got 1 here"


def test_wrong_type_is_a_type_error_and_wrong_value_a_value_error() -> None:
    kind_error: Exception = wrong_type("x", 1, "a string")
    value_error: Exception = wrong_value("x", 1, "2")
    assert isinstance(kind_error, ArgumentTypeError)
    assert isinstance(kind_error, TypeError)
    assert isinstance(value_error, ArgumentValueError)
    assert not issubclass(ArgumentValueError, TypeError)


# -- the checks of non-scalar values (_checks_objects) ------------------------------------------

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("check", "expected"),
    [
        pytest.param(lambda: check_optional_int(-3, "seed"), -3, id="int-negative"),
        pytest.param(lambda: check_optional_int(None, "seed"), None, id="int-none"),
        pytest.param(lambda: check_number(0, "factor"), 0.0, id="number-zero"),
        pytest.param(lambda: check_number(2.5, "factor"), 2.5, id="number"),
        pytest.param(lambda: check_optional_text(None, "name"), None, id="text-none"),
        pytest.param(lambda: check_optional_text("", "v", empty=True), "", id="text-empty-ok"),
        pytest.param(
            lambda: check_datetime(datetime(2026, 1, 1, 2, tzinfo=PLUS_TWO), "when"),
            datetime(2026, 1, 1, tzinfo=UTC),
            id="datetime-to-utc",
        ),
        pytest.param(lambda: check_optional_datetime(None, "when"), None, id="datetime-none"),
        pytest.param(lambda: check_mapping({"x": 1}, "parameters"), {"x": 1}, id="mapping"),
        pytest.param(lambda: check_mapping_of_str({"A": "1"}, "env"), {"A": "1"}, id="str-map"),
        pytest.param(
            lambda: check_mapping_of_str({"A": None}, "labels", none_values=True),
            {"A": None},
            id="str-map-none",
        ),
        pytest.param(lambda: check_ids([ID, str(ID)], "ids", item="an id"), (ID, ID), id="ids"),
        pytest.param(lambda: check_args([1, 2]), (1, 2), id="args-list"),
        pytest.param(lambda: check_args((1,)), (1,), id="args-tuple"),
        pytest.param(
            lambda: check_choice("trio", "backend", ("asyncio", "trio")), "trio", id="choice"
        ),
        pytest.param(lambda: check_instance(3, int, "n"), 3, id="instance"),
    ],
)
def test_object_checks_return_the_value_to_keep(
    check: Callable[[], object], expected: object
) -> None:
    assert check() == expected


@pytest.mark.parametrize(
    ("check", "kind", "message"),
    [
        pytest.param(
            lambda: check_optional_int(1.0, "seed"),
            ArgumentTypeError,
            "seed must be None or an integer, got 1.0",
            id="int-float",
        ),
        pytest.param(
            lambda: check_number(NAN, "factor"),
            ArgumentValueError,
            "factor must be a finite number >= 0, got nan",
            id="number-nan",
        ),
        pytest.param(
            lambda: check_number(INF, "factor"),
            ArgumentValueError,
            "factor must be a finite number >= 0, got inf",
            id="number-inf",
        ),
        pytest.param(
            lambda: check_number(True, "factor"),
            ArgumentTypeError,
            "factor must be a finite number >= 0, got True",
            id="number-bool",
        ),
        pytest.param(
            lambda: check_optional_text("", "name"),
            ArgumentValueError,
            "name must be None or a non-empty string, got ''",
            id="text-empty",
        ),
        pytest.param(
            lambda: check_optional_text(5, "cache_key", empty=True),
            ArgumentTypeError,
            "cache_key must be None or a string, got 5",
            id="text-int",
        ),
        pytest.param(
            lambda: check_datetime("2026-01-01", "history_start"),
            ArgumentTypeError,
            "history_start must be an aware datetime, such as datetime(2026, 1, 1, tzinfo=UTC), "
            "got '2026-01-01'",
            id="datetime-string",
        ),
        pytest.param(
            lambda: check_datetime(datetime(2026, 1, 1), "start"),
            ArgumentValueError,
            "start 2026-01-01T00:00:00 has no timezone; pass an aware datetime, for example "
            "datetime(..., tzinfo=datetime.UTC)",
            id="datetime-naive",
        ),
        pytest.param(
            lambda: check_optional_datetime(date(2026, 1, 1), "when"),
            ArgumentTypeError,
            "when must be an aware datetime or None, such as datetime(2026, 1, 1, tzinfo=UTC), "
            "got datetime.date(2026, 1, 1)",
            id="datetime-date",
        ),
        pytest.param(
            lambda: check_mapping([("x", 1)], "parameters"),
            ArgumentTypeError,
            "parameters must be a mapping with string keys, such as {'x': 1}, got [('x', 1)]",
            id="mapping-list",
        ),
        pytest.param(
            lambda: check_mapping({1: "x"}, "parameters"),
            ArgumentTypeError,
            "every key of parameters must be a string, got 1",
            id="mapping-key",
        ),
        pytest.param(
            lambda: check_mapping_of_str(["a"], "labels"),
            ArgumentTypeError,
            "labels must be a mapping of strings to strings, such as {'team': 'a'}, got ['a']",
            id="str-map-list",
        ),
        pytest.param(
            lambda: check_mapping_of_str({"A": 1}, "environ"),
            ArgumentTypeError,
            "environ['A'] must be a string, got 1",
            id="str-map-value",
        ),
        pytest.param(
            lambda: check_mapping_of_str({"A": None}, "environ"),
            ArgumentTypeError,
            "environ['A'] must be a string, got None",
            id="str-map-none-refused",
        ),
        pytest.param(
            lambda: check_ids("ab", "slot_override", item="an id"),
            ArgumentTypeError,
            "slot_override must be a collection of ids, such as [run.id], not the string 'ab'",
            id="ids-string",
        ),
        pytest.param(
            lambda: check_ids({ID: 1}, "slot_override", item="an id"),
            ArgumentTypeError,
            f"slot_override must be a collection of ids, such as [run.id], got {{UUID('{ID}'): 1}}",
            id="ids-mapping",
        ),
        pytest.param(
            lambda: check_ids(["x"], "slot_override", item="every id in slot_override"),
            ArgumentValueError,
            "every id in slot_override must be a UUID (or its string form), got 'x'",
            id="ids-entry",
        ),
        pytest.param(
            lambda: check_args(5),
            ArgumentTypeError,
            "args must be a list or tuple of positional arguments, got 5",
            id="args-int",
        ),
        pytest.param(
            lambda: check_args("ab"),
            ArgumentTypeError,
            "args must be a list or tuple of positional arguments, not the string 'ab'",
            id="args-string",
        ),
        pytest.param(
            lambda: check_choice("uvloop", "backend", ("asyncio", "trio")),
            ArgumentValueError,
            "backend must be 'asyncio' or 'trio', got 'uvloop'",
            id="choice-unknown",
        ),
        pytest.param(
            lambda: check_choice(1, "backend", ("asyncio", "trio")),
            ArgumentTypeError,
            "backend must be 'asyncio' or 'trio', got 1",
            id="choice-int",
        ),
        pytest.param(
            lambda: check_instance("3", int, "n"),
            ArgumentTypeError,
            "n must be an int, got '3'",
            id="instance-article",
        ),
    ],
)
def test_object_checks_refuse_with_the_right_kind(
    check: Callable[[], object], kind: type[InvalidArgument], message: str
) -> None:
    with pytest.raises(kind, match=f"^{re.escape(message)}$"):
        check()


def test_an_integer_too_large_for_a_float_is_refused_not_overflowing() -> None:
    huge = 10**400
    checks: list[Callable[[], object]] = [
        lambda: check_seconds(huge, "delay"),
        lambda: check_seconds(huge, "lease", finite=False),
        lambda: check_optional_seconds(huge, "timeout"),
        lambda: check_number(huge, "factor"),
    ]
    for check in checks:
        with pytest.raises(ArgumentValueError, match="got 1000"):
            check()
    assert check_seconds(10**20, "delay") == 1e20

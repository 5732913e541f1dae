"""Cases of Prefect's ``tests/test_flows.py``, ported: only the imports changed where we can.

Ported groups here: the flow object and decorator, ``with_options``. The rest of the file
is in ``test_port_flows_calls.py`` (calls, final states, subflows) and
``test_port_flows_runs.py`` (timeouts, retries, run names).

Left out (they need what this project does not have): instance/class/static method
flows, hooks (on_completion, on_failure, ...), deployments, ``serve``, ``from_source``,
entrypoint loading.

Deliberate differences (each test below asserts OUR behaviour):

============================================  ==========================================
Prefect                                       orchestrator, and why
============================================  ==========================================
default flow name ``my-fn`` (``_`` -> ``-``)  ``my_fn``: the function's name as written,
                                              as tasks already are named
bad options raise ``TypeError`` /             :class:`InvalidArgument` subclasses (also
``ReservedArgumentError``                     TypeError / ValueError), naming the option
``with_options(timeout_seconds=0)`` unsets    0 is refused: ``timeout_seconds=None``
                                              unsets (one spelling, never a zero limit)
============================================  ==========================================
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import InvalidArgument, ThreadPoolTaskRunner, Workflow, flow

# -- the flow object -------------------------------------------------------------------------


def test_initializes_with_its_options() -> None:
    f = Workflow(
        name="test", fn=lambda **kwargs: 42, version="A", description="B", flow_run_name="hi"
    )
    assert (f.name, f.fn(), f.version, f.description, f.flow_run_name) == (
        "test",
        42,
        "A",
        "B",
        "hi",
    )


def test_initializes_with_callable_flow_run_name() -> None:
    f = Workflow(name="test", fn=lambda **kwargs: 42, flow_run_name=lambda: "hi")
    assert callable(f.flow_run_name)
    assert f.flow_run_name() == "hi"


def test_raises_on_bad_funcs() -> None:
    with pytest.raises(TypeError):
        Workflow(name="test", fn={})  # type: ignore[arg-type]


def test_default_description_is_from_docstring() -> None:
    def my_fn() -> None:
        """
        Hello
        """

    assert Workflow(name="test", fn=my_fn).description == "Hello"


def test_default_name_is_the_function_name() -> None:
    def my_fn() -> None:
        pass

    assert Workflow(fn=my_fn).name == "my_fn"  # Prefect: "my-fn" (see the table)


def test_invalid_run_name_is_refused() -> None:
    class InvalidFlowRunNameArg:
        def format(self, *args: Any, **kwargs: Any) -> None:
            pass

    with pytest.raises(TypeError, match="flow_run_name"):
        Workflow(fn=lambda: 1, name="hello", flow_run_name=InvalidFlowRunNameArg())  # type: ignore[arg-type]


def test_return_state_in_the_flow_definition_is_reserved() -> None:
    with pytest.raises(InvalidArgument, match="return_state"):
        Workflow(name="test", fn=lambda return_state: 42)


@pytest.mark.parametrize("name", [1, lambda: "test-todays_date"])
def test_flow_name_non_string_raises(name: Any) -> None:
    with pytest.raises(TypeError, match="name"):
        Workflow(name=name, fn=lambda **kwargs: 42)


def test_flow_decorator_initializes() -> None:
    @flow(name="foo", version="B", flow_run_name="hi")
    def my_flow() -> str:
        return "bar"

    assert isinstance(my_flow, Workflow)
    assert (my_flow.name, my_flow.version, my_flow.fn(), my_flow.flow_run_name) == (
        "foo",
        "B",
        "bar",
        "hi",
    )


def test_flow_decorator_initializes_with_callable_flow_run_name() -> None:
    @flow(flow_run_name=lambda: "hi")
    def my_flow() -> str:
        return "bar"

    assert my_flow.fn() == "bar"
    assert callable(my_flow.flow_run_name)
    assert my_flow.flow_run_name() == "hi"


# -- with_options ------------------------------------------------------------------------------


def test_with_options_allows_override_of_flow_settings() -> None:
    @flow(name="Initial flow", description="before", flow_run_name="OG", timeout_seconds=10)
    def initial_flow() -> None:
        pass

    runner = ThreadPoolTaskRunner(max_workers=3)
    copied = initial_flow.with_options(
        name="Copied flow",
        description="A copied flow",
        flow_run_name=lambda: "new-name",
        task_runner=runner,
        retries=3,
        retry_delay_seconds=20,
        timeout_seconds=5,
        validate_parameters=False,
    )
    assert (copied.name, copied.description) == ("Copied flow", "A copied flow")
    assert callable(copied.flow_run_name)
    assert copied.flow_run_name() == "new-name"
    assert copied.task_runner is runner
    assert (copied.timeout_seconds, copied.retries, copied.retry_delay_seconds) == (5, 3, 20)
    assert copied.validate_parameters is False


def test_with_options_uses_existing_settings_when_no_override() -> None:
    @flow(
        name="Initial flow",
        description="before",
        timeout_seconds=10,
        retries=3,
        retry_delay_seconds=20,
    )
    def initial_flow() -> None:
        pass

    copied = initial_flow.with_options()
    assert copied is not initial_flow
    assert (copied.name, copied.description, copied.timeout_seconds) == (
        "Initial flow",
        "before",
        10,
    )
    assert (copied.retries, copied.retry_delay_seconds, copied.validate_parameters) == (3, 20, True)
    assert isinstance(copied.task_runner, ThreadPoolTaskRunner)


def test_with_options_unsets_timeout_seconds_with_none_and_refuses_zero() -> None:
    @flow(timeout_seconds=1)
    def initial_flow() -> None:
        pass

    assert initial_flow.with_options(timeout_seconds=None).timeout_seconds is None
    with pytest.raises(InvalidArgument, match="timeout_seconds"):
        initial_flow.with_options(timeout_seconds=0)  # Prefect: unsets (see the table)


def test_with_options_can_unset_retries_and_retry_delay_with_zero() -> None:
    @flow(retries=3, retry_delay_seconds=3)
    def initial_flow() -> None:
        pass

    assert initial_flow.with_options(retries=0).retries == 0
    assert initial_flow.with_options(retry_delay_seconds=0).retry_delay_seconds == 0


def test_with_options_keeps_the_flow_run_name_function() -> None:
    def generate_flow_run_name() -> str:
        return "new-name"

    @flow(retry_delay_seconds=3, flow_run_name=generate_flow_run_name)
    def initial_flow() -> None:
        pass

    assert initial_flow.with_options().flow_run_name is generate_flow_run_name

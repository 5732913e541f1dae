"""A claimed run's parameters, read from the result store where its submission left them."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final

from .._core._errors import InvalidArgument, ObjectNotFound
from .._store._results import read_parameters, should_try_to_read_parameters

if TYPE_CHECKING:
    from .._core._tasks import Task
    from .._store._results import ResultStore
    from ._claims import Claim

__all__ = ["NO_PARAMETERS", "UnreadableParameters", "claimed_parameters"]

#: The parameters of a run that has none.
NO_PARAMETERS: Final[Mapping[str, Any]] = MappingProxyType({})


class UnreadableParameters(Exception):
    """A claimed run's parameters cannot be had (the message says why); it fails unstarted."""


def claimed_parameters(
    claim: Claim, task: Task[..., Any], results: ResultStore
) -> Mapping[str, Any]:
    """The parameters to call ``task`` with for ``claim``'s run.

    Raises:
        UnreadableParameters: the run stored none and the task needs some, or they
            cannot be read.
    """
    run = claim.run
    if not should_try_to_read_parameters(task, run):
        if task.takes_parameters:
            try:
                task.signature.bind()
            except TypeError as exc:
                raise UnreadableParameters(
                    f"task run {run.id} has no stored parameters (its state carries no "
                    f"task_parameters_id) but {task.name!r} needs some: {exc}"
                ) from None
        return NO_PARAMETERS
    parameters_id = claim.state.details.task_parameters_id
    assert parameters_id is not None  # should_try_to_read_parameters checked it
    try:
        return read_parameters(results, parameters_id)
    except (ObjectNotFound, InvalidArgument) as exc:
        raise UnreadableParameters(
            f"the parameters of task run {run.id} cannot be read: {exc}"
        ) from None

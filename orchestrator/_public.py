"""Every public name of ``orchestrator``, imported at once.

``orchestrator/__init__.py`` imports this module the first time a public name is asked
for (``orchestrator.Orchestrator``, ``from orchestrator import task``), so a bare
``import orchestrator``, and pytest loading the plugin in a project that never uses it,
cost almost nothing. Everything the package exports is listed here, once.
"""

from __future__ import annotations

import contextlib

from ._core._cache_keys import task_input_hash as task_input_hash
from ._core._clock import Clock as Clock
from ._core._clock import SystemClock as SystemClock
from ._core._clock import VirtualClock as VirtualClock
from ._core._errors import ArgumentTypeError as ArgumentTypeError
from ._core._errors import ArgumentValueError as ArgumentValueError
from ._core._errors import HistoryTooLarge as HistoryTooLarge
from ._core._errors import InvalidArgument as InvalidArgument
from ._core._errors import NoFlowRunning as NoFlowRunning
from ._core._errors import ObjectAlreadyExists as ObjectAlreadyExists
from ._core._errors import ObjectNotFound as ObjectNotFound
from ._core._errors import OrchestratorError as OrchestratorError
from ._core._errors import OrchestratorTimeout as OrchestratorTimeout
from ._core._errors import QueueFull as QueueFull
from ._core._errors import StopTaskWorker as StopTaskWorker
from ._core._errors import TaskRunFailed as TaskRunFailed
from ._core._errors import TaskRunStalled as TaskRunStalled
from ._core._errors import TemplateError as TemplateError
from ._core._errors import UnfinishedRun as UnfinishedRun
from ._core._errors import WorkerError as WorkerError
from ._core._events import Decision as Decision
from ._core._events import Observer as Observer
from ._core._models import ConcurrencyLimit as ConcurrencyLimit
from ._core._models import Deployment as Deployment
from ._core._models import Flow as Flow
from ._core._models import FlowRun as FlowRun
from ._core._models import FlowRunPolicy as FlowRunPolicy
from ._core._models import TaskRun as TaskRun
from ._core._models import TaskRunPolicy as TaskRunPolicy
from ._core._models import WorkPool as WorkPool
from ._core._models import WorkQueue as WorkQueue
from ._core._outcomes import AbortDetails as AbortDetails
from ._core._outcomes import AcceptDetails as AcceptDetails
from ._core._outcomes import OrchestrationResult as OrchestrationResult
from ._core._outcomes import RejectDetails as RejectDetails
from ._core._outcomes import SetStateStatus as SetStateStatus
from ._core._outcomes import SlotWait as SlotWait
from ._core._outcomes import WaitDetails as WaitDetails
from ._core._retention import Retention as Retention
from ._core._run_context import FlowRunContext as FlowRunContext
from ._core._run_context import MissingContextError as MissingContextError
from ._core._run_context import TaskRunContext as TaskRunContext
from ._core._run_context import get_run_context as get_run_context
from ._core._states import AwaitingRetry as AwaitingRetry
from ._core._states import Cached as Cached
from ._core._states import Cancelled as Cancelled
from ._core._states import Cancelling as Cancelling
from ._core._states import Completed as Completed
from ._core._states import Crashed as Crashed
from ._core._states import Failed as Failed
from ._core._states import Late as Late
from ._core._states import Paused as Paused
from ._core._states import Pending as Pending
from ._core._states import Retrying as Retrying
from ._core._states import Running as Running
from ._core._states import Scheduled as Scheduled
from ._core._states import State as State
from ._core._states import StateDetails as StateDetails
from ._core._states import StateType as StateType
from ._core._states import Suspended as Suspended
from ._core._states import TimedOut as TimedOut
from ._core._task_options import exponential_backoff as exponential_backoff
from ._core._tasks import Task as Task
from ._core._tasks import task as task
from ._display import Picture as Picture
from ._display import Table as Table
from ._display import decisions_table as decisions_table
from ._display import history_chart as history_chart
from ._display import history_table as history_table
from ._display import logs_table as logs_table
from ._display import run_table as run_table
from ._display import runs_table as runs_table
from ._display import states_table as states_table
from ._display import timeline as timeline
from ._engine._current_run_logs import get_run_logger as get_run_logger
from ._engine._current_run_logs import read_logs as read_logs
from ._engine._futures import TaskRunFuture as TaskRunFuture
from ._engine._orchestrator import Orchestrator as Orchestrator
from ._engine._orchestrator import OrchestratorStatistics as OrchestratorStatistics
from ._engine._run_logger import RunLogger as RunLogger
from ._engine._run_logs import RunLog as RunLog
from ._engine._task_run_reads import Page as Page
from ._engine._task_runs import CreatedTaskRun as CreatedTaskRun
from ._engine._waiting import DoneAndNotDone as DoneAndNotDone
from ._engine._waiting import as_completed as as_completed
from ._engine._waiting import as_completed_async as as_completed_async
from ._engine._waiting import wait as wait
from ._engine._waiting import wait_async as wait_async
from ._flows._executor_runner import ExecutorTaskRunner as ExecutorTaskRunner
from ._flows._mapping import TaskRunFutureList as TaskRunFutureList
from ._flows._mapping import unmapped as unmapped
from ._flows._task_runners import ThreadPoolTaskRunner as ThreadPoolTaskRunner
from ._flows._workflow import Workflow as Workflow
from ._flows._workflow import flow as flow
from ._journal._errors import JournalCorrupted as JournalCorrupted
from ._journal._errors import JournalError as JournalError
from ._journal._errors import JournalLocked as JournalLocked
from ._journal._errors import JournalSerializationError as JournalSerializationError
from ._journal._errors import JournalVersionError as JournalVersionError
from ._journal._serializers import JsonSerializer as JsonSerializer
from ._journal._serializers import PickleSerializer as PickleSerializer
from ._journal._serializers import Serializer as Serializer
from ._journal._sqlite import SQLiteJournal as SQLiteJournal
from ._pools._job_config import BaseJobConfiguration as BaseJobConfiguration
from ._pools._process_config import ProcessJobConfiguration as ProcessJobConfiguration
from ._queues._registry import MultiQueue as MultiQueue
from ._queues._registry import TaskQueue as TaskQueue
from ._queues._registry import TaskQueues as TaskQueues
from ._rules._context import TransitionContext as TransitionContext
from ._rules._rule import Policy as Policy
from ._rules._rule import Rule as Rule
from ._rules._rule import rule as rule
from ._store._history import HistoryBucket as HistoryBucket
from ._store._history import HistoryStateCount as HistoryStateCount
from ._store._results import ResultStore as ResultStore
from ._store._results import read_parameters as read_parameters
from ._store._results import should_try_to_read_parameters as should_try_to_read_parameters
from ._store._results import store_parameters as store_parameters
from .executors import DaskExecutor as DaskExecutor
from .executors import Executor as Executor
from .executors import ExecutorLost as ExecutorLost
from .executors import ProcessPoolExecutor as ProcessPoolExecutor
from .workers import TaskWorker as TaskWorker
from .workers import TaskWorkerStatus as TaskWorkerStatus
from .workers import serve as serve
from .workers import serve_sync as serve_sync
from .workers._child import read_flow_run_parameters as read_flow_run_parameters
from .workers._process_worker import ProcessWorker as ProcessWorker
from .workers._process_worker import ProcessWorkerResult as ProcessWorkerResult

__all__ = (
    "AbortDetails",
    "AcceptDetails",
    "ArgumentTypeError",
    "ArgumentValueError",
    "AwaitingRetry",
    "BaseJobConfiguration",
    "Cached",
    "Cancelled",
    "Cancelling",
    "Clock",
    "Completed",
    "ConcurrencyLimit",
    "Crashed",
    "CreatedTaskRun",
    "DaskExecutor",
    "Decision",
    "Deployment",
    "DoneAndNotDone",
    "Executor",
    "ExecutorLost",
    "ExecutorTaskRunner",
    "Failed",
    "Flow",
    "FlowRun",
    "FlowRunContext",
    "FlowRunPolicy",
    "HistoryBucket",
    "HistoryStateCount",
    "HistoryTooLarge",
    "InvalidArgument",
    "JournalCorrupted",
    "JournalError",
    "JournalLocked",
    "JournalSerializationError",
    "JournalVersionError",
    "JsonSerializer",
    "Late",
    "MissingContextError",
    "MultiQueue",
    "NoFlowRunning",
    "ObjectAlreadyExists",
    "ObjectNotFound",
    "Observer",
    "OrchestrationResult",
    "Orchestrator",
    "OrchestratorError",
    "OrchestratorStatistics",
    "OrchestratorTimeout",
    "Page",
    "Paused",
    "Pending",
    "PickleSerializer",
    "Picture",
    "Policy",
    "ProcessJobConfiguration",
    "ProcessPoolExecutor",
    "ProcessWorker",
    "ProcessWorkerResult",
    "QueueFull",
    "RejectDetails",
    "ResultStore",
    "Retention",
    "Retrying",
    "Rule",
    "RunLog",
    "RunLogger",
    "Running",
    "SQLiteJournal",
    "Scheduled",
    "Serializer",
    "SetStateStatus",
    "SlotWait",
    "State",
    "StateDetails",
    "StateType",
    "StopTaskWorker",
    "Suspended",
    "SystemClock",
    "Table",
    "Task",
    "TaskQueue",
    "TaskQueues",
    "TaskRun",
    "TaskRunContext",
    "TaskRunFailed",
    "TaskRunFuture",
    "TaskRunFutureList",
    "TaskRunPolicy",
    "TaskRunStalled",
    "TaskWorker",
    "TaskWorkerStatus",
    "TemplateError",
    "ThreadPoolTaskRunner",
    "TimedOut",
    "TransitionContext",
    "UnfinishedRun",
    "VirtualClock",
    "WaitDetails",
    "WorkPool",
    "WorkQueue",
    "WorkerError",
    "Workflow",
    "as_completed",
    "as_completed_async",
    "decisions_table",
    "exponential_backoff",
    "flow",
    "get_run_context",
    "get_run_logger",
    "history_chart",
    "history_table",
    "logs_table",
    "read_flow_run_parameters",
    "read_logs",
    "read_parameters",
    "rule",
    "run_table",
    "runs_table",
    "serve",
    "serve_sync",
    "should_try_to_read_parameters",
    "states_table",
    "store_parameters",
    "task",
    "task_input_hash",
    "timeline",
    "unmapped",
    "wait",
    "wait_async",
)


def _rewrite_module_names() -> None:
    # Show public objects as ``orchestrator.X`` in reprs and docs, as trio does.
    for name in __all__:
        obj = globals()[name]
        if getattr(obj, "__module__", "").startswith("orchestrator."):
            with contextlib.suppress(AttributeError, TypeError):
                obj.__module__ = "orchestrator"


_rewrite_module_names()
del _rewrite_module_names

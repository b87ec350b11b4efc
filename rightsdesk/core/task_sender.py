"""Sending one task's messages often, for less of ``apply_async``'s CPU.

A render submission's task message cost 1.8-2.2 ms of CPU through ``Task.apply_async``
inside a submission here (thread time, on a machine where a health check cost 1.7 ms of
the server's CPU), a sixth of the submission: much of it is what Celery works out again
on every call and what never changes for one task in one process (its options from the
registry, the router's answer, a producer taken from the pool and given back, an
``AsyncResult`` nobody reads). ``TaskSender`` works those out once and keeps its producers
between sends: 1.4-1.6 ms in the same submissions; in a loop of sends alone, 430-530 against
500-580 µs (alternated rounds). The message itself is still made and sent by Celery's own
``create_task_message`` and ``send_task_message``: the same headers, properties and body,
the queue declared, the task's time limits, the publish retried by
``task_publish_retry_policy`` and the ``before_task_publish``/``after_task_publish``
signals sent (tests/core/test_task_sender.py compares it with ``apply_async``'s, as a
worker receives them).

It sends no ETA, countdown, expiry or link, names no parent task and does not check the
arguments against the task's signature: for a task that needs those, use ``apply_async``.
In eager mode (``task_always_eager``) it calls ``apply_async``, which runs the task in
place.

A send takes an idle producer or opens one (one connection each), and puts it back after:
as many as sends ran at once, whatever the threads' lifetimes (a server that starts a
thread a request, as Django's runserver does, reuses them too). They follow Celery's own:
when the application's producer pool is replaced (a changed broker configuration; the
tests' worker namespaces do it) or the process forked, the old ones are dropped and the
next send opens a new one. A send that fails closes its producer's connection, so the one
after reconnects.
"""

import contextlib
import os
import threading
from typing import Any

from celery import Task
from celery.utils import uuid
from celery.utils.saferepr import saferepr

_PER_CALL = ("time_limit", "soft_time_limit", "ignore_result")


class TaskSender:
    def __init__(self, task: Task) -> None:
        self._task = task  # a shared_task's proxy until the first send resolves it
        self._idle: list[tuple[Any, int, Any]] = []  # (Celery's pool, pid, producer)
        self._lock = threading.Lock()
        self._route: tuple[Any, dict, dict] | None = None  # (pool, message options, route)
        os.register_at_fork(after_in_child=self._forget_parents)

    def _forget_parents(self) -> None:
        # A forked child starts with none of its parent's producers (their sockets are the
        # parent's) and a lock no thread of the parent can be holding.
        self._idle, self._lock = [], threading.Lock()

    def send(self, args: tuple, *, argsrepr: str | None = None) -> str:
        """Publish the task with positional ``args``; returns the task id. ``argsrepr``:
        the arguments' text for the worker's log, if the caller has it cheaper than
        Celery's ``saferepr``."""
        task = self.task
        app = task.app
        if app.conf.task_always_eager:
            result = task.apply_async(args, argsrepr=argsrepr, kwargsrepr="{}")
            return result.id
        pool = app.amqp.producer_pool
        route = self._route
        if route is None or route[0] is not pool:
            route = self._route = (pool, *self._options())
        _, per_call, routing = route
        task_id = uuid()
        argsrepr = argsrepr if argsrepr is not None else saferepr(args)
        message = app.amqp.create_task_message(
            task_id,
            task.name,
            args,
            {},
            reply_to=app.thread_oid,
            create_sent_event=app.conf.task_send_sent_event,
            argsrepr=argsrepr,
            kwargsrepr="{}",
            **per_call,
        )
        entry = self._acquire(pool)
        try:
            # The texts go into the properties too, as apply_async's options do.
            app.amqp.send_task_message(
                entry[2], task.name, message, argsrepr=argsrepr, kwargsrepr="{}", **routing
            )
        except BaseException:
            self._close(entry)
            raise
        with self._lock:
            self._idle.append(entry)
        return task_id

    @property
    def task(self) -> Task:
        task = self._task
        resolve = getattr(task, "_get_current_object", None)
        if resolve is not None:
            task = self._task = resolve()
        return task

    def _options(self) -> tuple[dict, dict]:
        """What ``Celery.send_task`` derives from the task's options and the router, with
        no ETA, expiry or parent: the message's own fields, then the publish's."""
        task, app = self.task, self.task.app
        options = {k: v for k, v in task._get_exec_options().items() if v is not None}
        options.setdefault("ignore_result", task.ignore_result)  # as apply_async does
        per_call = {name: options.pop(name, None) for name in _PER_CALL}
        unsupported = {"expires", "countdown", "eta", "link", "link_error"} & options.keys()
        if unsupported:
            raise ValueError(f"TaskSender cannot send {sorted(unsupported)}: use apply_async")
        routing = app.amqp.router.route(options, task.name, None, None, task)
        return per_call, routing

    def _acquire(self, pool) -> tuple[Any, int, Any]:
        pid = os.getpid()
        while True:
            with self._lock:
                entry = self._idle.pop() if self._idle else None
            if entry is None:
                break
            if entry[0] is pool and entry[1] == pid:
                return entry
            self._close(entry)  # made for a replaced pool, or by the process forked from
        # A producer of its own on a connection of its own: one taken from Celery's pool
        # and kept would starve it when more sends run at once than the pool holds.
        app = self.task.app
        return pool, pid, app.amqp.Producer(app.connection_for_write(), auto_declare=False)

    def _close(self, entry: tuple[Any, int, Any]) -> None:
        # Another process's connection is left alone: closing it could end the parent's
        # session with the broker (AMQP says goodbye on the shared socket).
        if entry[1] == os.getpid():
            # A broken or stale connection is being dropped: what closing it raises is moot.
            with contextlib.suppress(Exception):
                entry[2].connection.release()

"""TaskSender sends what ``apply_async`` sends, for less CPU (rightsdesk/core/task_sender.py).

The messages are read back from kombu's in-memory broker, as a worker would receive them.
That a worker runs them is proven where renders are submitted and rendered by a real worker
(tests/renders/test_render_worker.py and others): every render task goes through it."""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from kombu.exceptions import OperationalError

from rightsdesk.celery import app as celery_app
from rightsdesk.core import task_sender as task_sender_module
from rightsdesk.core.task_sender import TaskSender
from rightsdesk.renders.tasks import render_request_sender, render_request_task
from tests.celery_worker import _reset_publisher, broker_at, broker_unreachable

MEMORY = "memory://"


@celery_app.task(name="tests.core.test_task_sender.echo")
def echo(value):
    return value


def _drain(queue: str) -> list:
    """Every message waiting in ``queue``, taken off it."""
    messages = []
    with celery_app.connection_for_read() as connection:
        simple = connection.SimpleQueue(queue)
        try:
            while True:
                message = simple.get(block=False)
                message.ack()
                messages.append(message)
        except simple.Empty:
            pass
        finally:
            simple.close()
    return messages


@pytest.fixture
def memory_broker():
    with broker_at(MEMORY):
        _drain("gpu")
        yield
        _drain("gpu")


# What differs between any two sends: the task's own id, and the broker's delivery tag.
PER_MESSAGE = {"id", "root_id", "correlation_id", "delivery_tag"}


def _comparable(message) -> dict:
    headers = {k: v for k, v in message.headers.items() if k not in PER_MESSAGE}
    properties = {k: v for k, v in message.properties.items() if k not in PER_MESSAGE}
    properties["delivery_info"] = {
        k: v for k, v in properties["delivery_info"].items() if k in ("exchange", "routing_key")
    }
    return {
        "headers": headers,
        "properties": properties,
        "body": message.decode(),
        "content_type": message.content_type,
        "content_encoding": message.content_encoding,
    }


def test_the_sender_sends_what_apply_async_sends(memory_broker):
    render_request_task.apply_async((41,), argsrepr="(41,)", kwargsrepr="{}")
    task_id = render_request_sender.send((41,), argsrepr="(41,)")

    by_celery, by_sender = _drain("gpu")
    assert _comparable(by_sender) == _comparable(by_celery)
    # The parts compared are the ones a worker acts on.
    assert by_sender.headers["task"] == render_request_task.name
    assert by_sender.headers["timelimit"] == [render_request_task.time_limit] + [
        render_request_task.soft_time_limit
    ]
    assert by_sender.properties["delivery_info"]["routing_key"] == "gpu"
    assert by_sender.decode()[0] == [41]
    # Its own id, as the task's root, and the message's correlation id.
    assert by_sender.headers["id"] == by_sender.headers["root_id"] == task_id
    assert by_sender.properties["correlation_id"] == task_id
    assert by_celery.headers["id"] != task_id


def test_without_the_arguments_text_the_sender_writes_it_as_celery_does(memory_broker):
    render_request_sender.send(("a", 2))
    [message] = _drain("gpu")
    assert message.headers["argsrepr"] == "('a', 2)"
    assert message.headers["kwargsrepr"] == "{}"


def _idle(sender: TaskSender) -> list:
    return [producer for _, _, producer in sender._idle]


def test_a_new_broker_configuration_gets_a_new_connection(memory_broker):
    sender = TaskSender(echo)
    sender.send((1,))
    [first] = _idle(sender)
    sender.send((2,))
    assert _idle(sender) == [first]  # kept between sends
    _reset_publisher()  # what a changed broker configuration does to Celery's pool
    sender.send((3,))
    [second] = _idle(sender)
    assert second is not first
    assert [m.decode()[0] for m in _drain("default")] == [[1], [2], [3]]


def test_sends_at_once_open_as_many_connections_and_reuse_them(memory_broker):
    sender = TaskSender(echo)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: sender.send((n,)), range(40)))
    opened = _idle(sender)
    assert 1 <= len(opened) <= 4
    # Threads that come and go (a thread a request) take the idle ones.
    for n in range(5):
        thread = threading.Thread(target=sender.send, args=((100 + n,),))
        thread.start()
        thread.join()
    assert set(map(id, _idle(sender))) == set(map(id, opened))
    assert len(_drain("default")) == 45


def test_a_forked_process_opens_its_own_connection(memory_broker, monkeypatch):
    sender = TaskSender(echo)
    sender.send((1,))
    [first] = _idle(sender)
    # A child sees its parent's producers only if it forked without the at-fork hook
    # (another way of making processes): the pid tells them apart.
    monkeypatch.setattr(task_sender_module.os, "getpid", lambda: -1)
    sender.send((2,))
    assert _idle(sender) != [first] and len(_idle(sender)) == 1
    sender._forget_parents()  # what the at-fork hook runs in the child
    assert _idle(sender) == []
    assert len(_drain("default")) == 2


def test_a_forked_child_starts_with_no_producers(memory_broker):
    sender = TaskSender(echo)
    sender.send((1,))
    pid = os.fork()
    if pid == 0:  # the child: report and leave at once
        os._exit(0 if sender._idle == [] and not sender._lock.locked() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert len(_idle(sender)) == 1  # the parent keeps its own
    _drain("default")


def test_a_failed_send_raises_and_closes_its_connection(monkeypatch):
    sender = TaskSender(echo)
    monkeypatch.setitem(
        celery_app.conf, "task_publish_retry_policy", {"max_retries": 0, "interval_start": 0}
    )
    with broker_unreachable():
        with pytest.raises(OperationalError):
            sender.send((1,))
        assert _idle(sender) == []
    with broker_at(MEMORY):
        sender.send((2,))  # reconnects
        assert [m.decode()[0] for m in _drain("default")] == [[2]]


def test_in_eager_mode_the_task_runs_in_place(monkeypatch):
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    with broker_at(MEMORY):
        task_id = TaskSender(echo).send((5,))
        assert task_id
        assert _drain("default") == []


def test_options_it_cannot_send_are_refused(memory_broker):
    @celery_app.task(name="tests.core.test_task_sender.expiring", expires=60)
    def expiring():
        return None

    with pytest.raises(ValueError, match="expires"):
        TaskSender(expiring).send(())

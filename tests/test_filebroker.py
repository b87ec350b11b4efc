"""The embedded file broker never hands a consumer a message that is still being written."""

import os
import threading
from queue import Empty

import pytest
from kombu import Connection
from kombu.utils.json import loads

from rightsdesk import filebroker


@pytest.fixture
def channel(tmp_path):
    folders = {name: tmp_path / name for name in ("in", "processed", "control")}
    for folder in folders.values():
        folder.mkdir()
    options = {
        "data_folder_in": str(folders["in"]),
        "data_folder_out": str(folders["in"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
    }
    with Connection(
        "filesystem://", transport=filebroker.Transport, transport_options=options
    ) as c:
        yield c.default_channel


def test_a_message_being_written_is_invisible_to_consumers(channel, monkeypatch):
    seen_while_writing = []
    replace = os.replace

    def look_then_replace(source, target):
        # The moment before the rename: the bytes are all written, under a hidden name.
        try:
            seen_while_writing.append(channel._get("gpu"))
        except Empty:
            seen_while_writing.append(None)
        replace(source, target)

    monkeypatch.setattr(filebroker.os, "replace", look_then_replace)

    channel._put("gpu", {"body": "render 42"})

    assert seen_while_writing == [None]
    assert channel._get("gpu") == {"body": "render 42"}


def test_messages_keep_kombus_names(channel, tmp_path):
    for number in range(3):
        channel._put("gpu", {"n": number})

    names = sorted(os.listdir(tmp_path / "in"))
    assert all(name.endswith(".gpu.msg") and not name.startswith(".") for name in names)
    assert sorted(loads((tmp_path / "in" / name).read_text())["n"] for name in names) == [0, 1, 2]


def test_an_idle_consumer_wakes_for_a_message_instead_of_sleeping_out_its_interval(tmp_path):
    # A polling interval no test would wait out: only the folder watch can wake the consumer.
    with _connection(tmp_path, polling_interval=600) as connection:
        # Each test its own queue name: kombu keeps exchanges in one process-wide state.
        queue = connection.SimpleQueue("wake")
        got = []
        waiting = threading.Thread(
            target=lambda: got.append(queue.get(timeout=600).payload), daemon=True
        )
        waiting.start()
        with _connection(tmp_path) as producer:
            producer.SimpleQueue("wake").put({"render": 42})
        waiting.join(timeout=60)

        assert not waiting.is_alive()
        assert got == [{"render": 42}]


def test_without_inotify_the_consumer_polls_as_before(tmp_path, monkeypatch):
    monkeypatch.setattr(filebroker, "_inotify_watch", lambda folder: None)
    slept = []
    monkeypatch.setattr(filebroker, "sleep", slept.append)
    with _connection(tmp_path, polling_interval=0.25) as connection:
        queue = connection.SimpleQueue("poll")
        with pytest.raises(Empty):
            queue.get(timeout=0.01)
        queue.put({"render": 43})

        assert queue.get(timeout=1).payload == {"render": 43}
    assert slept and set(slept) == {0.01}  # the interval, capped by the timeout


def _connection(tmp_path, **options) -> Connection:
    folders = {name: tmp_path / name for name in ("in", "processed", "control")}
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    options |= {
        "data_folder_in": str(folders["in"]),
        "data_folder_out": str(folders["in"]),
        "processed_folder": str(folders["processed"]),
        "control_folder": str(folders["control"]),
    }
    return Connection("filesystem://", transport=filebroker.Transport, transport_options=options)

"""The embedded file broker never hands a consumer a message that is still being written."""

import os
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

"""kombu's file broker (the embedded default), with messages that appear whole and are
picked up as they arrive.

kombu's ``filesystem`` transport writes a message straight into the queue folder, while a
consumer moves away and reads any file named ``*.<queue>.msg`` the moment it lists one. A
consumer that lists the folder between the writer's ``open()`` and its ``write()`` reads
an empty file: the message is lost and the reader fails with a JSON error (seen here once
in a few hundred messages at a 10 ms polling interval; at 50 ms the window is only
smaller). Here a message is written under a name consumers skip and renamed into place,
which is atomic on one file system.

An idle consumer sleeps ``polling_interval`` between looks, so a task waited half of it on
average before a worker saw it (5 ms at the 10 ms settings.py uses). On Linux it waits on
inotify for a file renamed or written into the folder instead, and looks as soon as one
is; the polling interval stays the longest wait, so a message that inotify does not
report (a network file system) is still found as before.

Selected in settings.py as ``CELERY_BROKER_TRANSPORT`` whenever the broker URL is
``filesystem://``; everything else is kombu's.
"""

import ctypes
import ctypes.util
import logging
import os
import select
import uuid
from queue import Empty
from time import monotonic, sleep

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

logger = logging.getLogger(__name__)

# <sys/inotify.h>: a file closed after writing, or renamed into the watched folder.
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_TO = 0x00000080
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        # kombu's own name (its readers sort on the leading milliseconds).
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        # A leading dot: the part after the first "." is never "<queue>.msg", so no
        # consumer takes the file before it is complete.
        partial = os.path.join(self.data_folder_out, f".{name}.part")
        try:
            with open(partial, "wb", buffering=0) as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class FolderWatch:
    """Waits, up to a timeout, for a file to arrive in one folder (inotify). ``wait``
    sleeps the whole timeout where inotify is unavailable."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.fd: int | None = None
        self.pid = 0
        self.failed = False

    def arm(self) -> None:
        """Start watching, before the first look: what arrives after it wakes ``wait``."""
        self._fd()

    def wait(self, timeout: float) -> None:
        fd = self._fd()
        if fd is None:
            sleep(timeout)
            return
        # Events that arrived since the last wait are still queued on the descriptor, so
        # a message written after the last look but before this call is not missed.
        ready, _, _ = select.select([fd], [], [], timeout)
        if ready:
            self._drain(fd)

    def close(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            os.close(self.fd)
        self.fd = None

    def _fd(self) -> int | None:
        if self.fd is not None and self.pid == os.getpid():
            return self.fd
        if self.failed:
            return None
        # A forked process must not share its parent's queue of events: its own watch.
        self.fd, self.pid = _inotify_watch(self.folder), os.getpid()
        self.failed = self.fd is None
        return self.fd

    @staticmethod
    def _drain(fd: int) -> None:
        try:
            while os.read(fd, 64 * 1024):
                pass
        except BlockingIOError:
            pass


def _inotify_watch(folder: str) -> int | None:
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
    except (OSError, AttributeError):  # not Linux
        return None
    if fd < 0:
        logger.info("inotify unavailable (errno %s): polling the broker folder", ctypes.get_errno())
        return None
    mask = IN_CLOSE_WRITE | IN_MOVED_TO
    if libc.inotify_add_watch(fd, os.fsencode(folder), mask) < 0:
        logger.info("cannot watch %s (errno %s): polling it", folder, ctypes.get_errno())
        os.close(fd)
        return None
    return fd


class Transport(filesystem.Transport):
    Channel = Channel

    def drain_events(self, connection, timeout=None):
        """kombu's loop, waiting for the folder to change instead of sleeping."""
        started = monotonic()
        polling_interval = self.polling_interval
        if timeout and polling_interval and polling_interval > timeout:
            polling_interval = timeout
        watch = self._watch()
        watch.arm()
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError()  # socket.timeout, as kombu raises
                if polling_interval is not None:
                    watch.wait(polling_interval)
            else:
                break

    def _watch(self) -> FolderWatch:
        watch = getattr(self, "_folder_watch", None)
        if watch is None:
            folder = self.client.transport_options.get("data_folder_in", "data_in")
            watch = self._folder_watch = FolderWatch(folder)
        return watch

    def close_connection(self, connection):
        watch = getattr(self, "_folder_watch", None)
        if watch is not None:
            watch.close()
        super().close_connection(connection)

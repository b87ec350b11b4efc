"""kombu's file broker (the embedded default), with messages that appear whole.

kombu's ``filesystem`` transport writes a message straight into the queue folder, while a
consumer moves away and reads any file named ``*.<queue>.msg`` the moment it lists one. A
consumer that lists the folder between the writer's ``open()`` and its ``write()`` reads
an empty file: the message is lost and the reader fails with a JSON error (seen here once
in a few hundred messages at a 10 ms polling interval; at 50 ms the window is only
smaller). Here a message is written under a name consumers skip and renamed into place,
which is atomic on one file system.

Selected in settings.py as ``CELERY_BROKER_TRANSPORT`` whenever the broker URL is
``filesystem://``; everything else is kombu's.
"""

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


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


class Transport(filesystem.Transport):
    Channel = Channel

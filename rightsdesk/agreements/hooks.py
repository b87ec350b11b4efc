"""Callbacks other apps register to follow an agreement's end.

``licensing`` imports ``agreements``, never the other way round, so agreements cannot end
licences itself. An app that must act when an agreement ends registers a callback here
(from its ``AppConfig.ready()`` or its services module):

    from rightsdesk.agreements.hooks import on_agreement_terminated
    on_agreement_terminated.append(licences_end_for_agreement)

Callbacks run inside the terminating (or expiring) transaction, after the agreement's own
rows are updated and before its audit event, as ``callback(agreement=..., actor=...)``
(``actor`` is None when the daily task expires it). One that raises rolls the whole
termination back: nothing ends half-way. The gate denies on a terminated or expired
agreement whether or not anything is registered.
"""

from collections.abc import Callable
from typing import Any

AgreementHook = Callable[..., Any]

on_agreement_terminated: list[AgreementHook] = []
on_agreement_expired: list[AgreementHook] = []


def run_hooks(hooks: list[AgreementHook], **kwargs: Any) -> None:
    for hook in list(hooks):
        hook(**kwargs)

"""Schemathesis against the app's own OpenAPI schema: no input earns a 5xx.

The schema is loaded from ``/api/schema/`` through the WSGI application in this process,
so the test covers whatever operations the schema holds when it runs, not a list kept
here. For each role (and anonymously) every operation gets a bounded number of generated
requests, schema-valid and schema-violating ones, sent with that role's token
(``Authorization: Token ...``). A path's ``{public_id}`` is, half the time, the id of a
real object of the world (of the kind the path names when one matches), and so, at
random, is any UUID in a body or a query, so the requests reach the services rather than
stopping at "not found".

Each request runs in a savepoint that is rolled back, so every example sees the same
world. The run does not stop at the first 5xx: it collects them all (with the exception
the view raised) and fails once, listing each with a curl command to reproduce it.

``RIGHTSDESK_SCHEMATHESIS_EXAMPLES`` raises the examples per operation and mode (default
4), and ``RIGHTSDESK_SCHEMATHESIS_SEED`` replaces the fixed seed, for a longer hunt.
"""

import os
import re
import traceback
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property

import pytest
import schemathesis
from django.apps import apps
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import got_request_exception, request_finished, request_started
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode

from rightsdesk.ledger.services import ledger_budget_top_up
from rightsdesk.ledger.types import owner_ref
from rightsdesk.licensing.services import licence_propose
from rightsdesk.renders.services import render_request_submit
from rightsdesk.talent.models import TalentProxy
from tests.consent.gate_world import BRIEF, build_gate_world
from tests.factories import (
    AgencyFactory,
    AssetFactory,
    RepresentationFactory,
    TalentFactory,
    TalentProxyFactory,
    UserFactory,
)
from tests.licensing.factories import active_agreement, licence_terms
from tests.talent.conftest import years_ago

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("RIGHTSDESK_SCHEMATHESIS_EXAMPLES", "4"))
SEED = int(os.environ.get("RIGHTSDESK_SCHEMATHESIS_SEED", "20260707"))
ROLES = ["anonymous", "talent", "guardian", "agent", "legal", "campaign_manager", "staff"]
# Path segments whose model name is not the segment in the singular.
SEGMENT_MODELS = {"likenesses": "likenessversion"}
UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


@pytest.fixture(scope="module")
def wsgi_app() -> WSGIHandler:
    return WSGIHandler()


@contextmanager
def _connections_left_open() -> Iterator[None]:
    # Django's own test client keeps a request from closing the test's connection; a raw
    # WSGI call would close it at request_started/finished (inside the test's transaction,
    # or, before the test, touching a database pytest-django has not opened yet).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def schema(wsgi_app):
    with _connections_left_open():
        return schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)


@pytest.fixture
def in_test_transaction():
    with _connections_left_open():
        yield


@dataclass
class ApiWorld:
    users: dict[str, object]
    ids_by_model: dict[str, list[str]] = field(default_factory=dict)

    def token(self, role: str) -> dict[str, str]:
        user = self.users.get(role)
        if user is None:
            return {}
        return {"Authorization": f"Token {Token.objects.get_or_create(user=user)[0].key}"}

    @cached_property
    def all_ids(self) -> list[str]:
        return sorted({i for values in self.ids_by_model.values() for i in values})


def build_api_world() -> ApiWorld:
    """The gate world (a brand with legal and a campaign manager, two verified talents
    with accepted licences) plus an agent with every power over talent X, a minor with a
    guardian, a proposed licence, a queued render request with a draft, and staff."""
    gate = build_gate_world()
    agency = AgencyFactory(name="Atelier Models")
    RepresentationFactory(talent=gate.x.talent, agency=agency)
    minor = TalentFactory(stage_name="Mina Minor", date_of_birth=years_ago(15), jurisdiction="FR")
    guardian = TalentProxyFactory(talent=minor, kind=TalentProxy.Kind.GUARDIAN).user
    agreement = active_agreement(
        talent=gate.x.talent, brand=gate.brand, legal=gate.legal, principal=gate.x.talent.user
    )
    licence_propose(agreement=agreement, terms=licence_terms(), actor=gate.legal)
    ledger_budget_top_up(
        brand=owner_ref("brand", gate.brand.public_id),
        currency="EUR",
        amount_minor=10**9,
        idempotency_key="schemathesis-budget",
        actor=gate.staff,
    )
    render_request = render_request_submit(
        requester=gate.manager,
        licences=[gate.x.licence],
        brief=BRIEF,
        width=64,
        height=64,
        steps=4,
        seed=3,
        num_drafts=1,
        territory="FR",
        medium="paid_social",
    )
    AssetFactory(render_request=render_request, index=0)
    users = {
        "talent": gate.x.talent.user,
        "guardian": guardian,
        "agent": UserFactory(role="agent", organization=agency),
        "legal": gate.legal,
        "campaign_manager": gate.manager,
        "staff": gate.staff,
    }
    return ApiWorld(users=users, ids_by_model=_public_ids())


def _public_ids() -> dict[str, list[str]]:
    ids: dict[str, list[str]] = {}
    for model in apps.get_models():
        if any(f.name == "public_id" for f in model._meta.fields):
            found = model.objects.order_by("pk").values_list("public_id", flat=True)[:20]
            ids[model._meta.model_name] = [str(value) for value in found]
    return {name: values for name, values in ids.items() if values}


def _ids_for(world: ApiWorld, path: str) -> list[str]:
    """Ids of the kind of object ``path`` names (``/api/v1/licences/{public_id}/`` ->
    licences), or of every kind when no model matches the segment."""
    match = re.search(r"/([^/{}]+)/\{public_id\}", path)
    segment = match.group(1) if match else ""
    name = SEGMENT_MODELS.get(segment, re.sub(r"s$", "", segment.replace("-", "")))
    if name in world.ids_by_model:
        return world.ids_by_model[name]
    return world.all_ids


def _with_known_ids(value, ids: list[str], draw):
    """``value`` with each string that is a UUID replaced, half the time, by a known id."""
    if isinstance(value, dict):
        return {key: _with_known_ids(item, ids, draw) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_known_ids(item, ids, draw) for item in value]
    if isinstance(value, str) and UUID_TEXT.fullmatch(value) and draw(st.booleans()):
        return draw(st.sampled_from(ids))
    return value


@dataclass
class ServerError:
    role: str
    operation: str
    status: int
    error: str
    curl: str

    def __str__(self) -> str:
        return f"[{self.role}] {self.operation} -> {self.status}\n{self.error}\n{self.curl}"


class _Exceptions:
    """The exception behind the last 500, from Django's ``got_request_exception``."""

    def __init__(self) -> None:
        self.last = ""

    def __call__(self, sender, request=None, **kwargs) -> None:
        self.last = traceback.format_exc(limit=-6)


def _operations(schema) -> Iterator:
    for result in schema.get_all_operations():
        yield result.ok()


def _run_operation(
    operation, *, world: ApiWorld, role: str, found: list[ServerError], statuses: Counter
) -> None:
    headers = world.token(role)
    known_ids = _ids_for(world, operation.path)
    exceptions = _Exceptions()
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @seed(SEED)
    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=False,
    )
    @given(case=strategy, data=st.data())
    def check(case, data) -> None:
        wants_known_id = known_ids and "public_id" in (case.path_parameters or {})
        if wants_known_id and data.draw(st.booleans()):
            case.path_parameters["public_id"] = data.draw(st.sampled_from(known_ids))
        if data.draw(st.booleans()):
            # Ids in a body or a query (a licence to render under, assets to select...)
            case.body = _with_known_ids(case.body, world.all_ids, data.draw)
            case.query = _with_known_ids(case.query, world.all_ids, data.draw)
        exceptions.last = ""
        with transaction.atomic():
            response = case.call(headers=headers)
            transaction.set_rollback(True)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            found.append(
                ServerError(
                    role=role,
                    operation=f"{operation.method.upper()} {operation.path}",
                    status=response.status_code,
                    error=exceptions.last or response.text[:300],
                    curl=case.as_curl_command(headers=headers),
                )
            )

    got_request_exception.connect(exceptions)
    try:
        check()
    finally:
        got_request_exception.disconnect(exceptions)


@pytest.mark.parametrize("role", ROLES)
def test_no_generated_request_gets_a_server_error(role, schema, in_test_transaction):
    # Given a world with a user of every role and objects for the paths to name
    world = build_api_world()
    found: list[ServerError] = []
    statuses: Counter = Counter()

    # When every operation of the schema gets generated requests as this role
    operations = list(_operations(schema))
    for operation in operations:
        _run_operation(operation, world=world, role=role, found=found, statuses=statuses)

    # Then none of them is answered with a 5xx
    assert len(operations) > 40  # the whole API, not a schema that failed to load
    if role != "anonymous":  # the token was taken: the requests reached the views
        assert sum(n for status, n in statuses.items() if status < 300), statuses
    assert not found, _describe(found)


def _describe(found: list[ServerError]) -> str:
    distinct = {(e.operation, e.error.strip().rsplit("\n", 1)[-1]): e for e in found}
    listed = "\n\n".join(str(e) for e in distinct.values())
    return f"{len(found)} server errors, {len(distinct)} distinct:\n\n{listed}"

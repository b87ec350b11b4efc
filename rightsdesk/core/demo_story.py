"""The demo world and the story the demo tells (``python manage.py demo``).

The story is a list of steps run in order; each returns a few narrated lines. Every step
is idempotent: it finds its objects by a natural key (an e-mail address, an organisation's
name, the talent's user) and calls a service only for what is missing, so running the demo
again changes nothing, not even the audit chain. Later issues append steps to STORY
(licence, render, release, verify...).
"""

import datetime
import io
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone

from rightsdesk.accounts.models import Organization, Role, User
from rightsdesk.accounts.services import organization_create, user_create
from rightsdesk.audit.services import audit_record
from rightsdesk.talent.models import Representation, Talent
from rightsdesk.talent.selectors import POWER_FIELDS, current_q, representation_list_visible_to
from rightsdesk.talent.services import (
    representation_create,
    talent_create,
    talent_verify_identity,
)

DEMO_PASSWORD = "demo-pass-2026"
STAFF_EMAIL = "staff@demo.test"
TALENT_EMAIL = "talent@demo.test"
AGENT_EMAIL = "agent@demo.test"
BRAND = "brand"
AGENCY = "agency"


@dataclass(frozen=True)
class DemoOrganisation:
    key: str
    name: str
    kind: str
    country: str


@dataclass(frozen=True)
class DemoUser:
    email: str
    full_name: str
    role: str
    organisation: str | None = None  # a DemoOrganisation key
    superuser: bool = False


ORGANISATIONS = (
    DemoOrganisation(BRAND, "Maison Demo", Organization.Kind.BRAND, "FR"),
    DemoOrganisation(AGENCY, "Demo Models", Organization.Kind.AGENCY, "FR"),
)
# Staff comes first: it is the actor of everything seeded after it.
USERS = (
    DemoUser(STAFF_EMAIL, "Sasha Staff", Role.STAFF, superuser=True),
    DemoUser(TALENT_EMAIL, "Camille Durand", Role.TALENT),
    DemoUser(AGENT_EMAIL, "Alex Agent", Role.AGENT, AGENCY),
    DemoUser("legal@demo.test", "Lou Legal", Role.LEGAL, BRAND),
    DemoUser("manager@demo.test", "Morgan Manager", Role.CAMPAIGN_MANAGER, BRAND),
)
TALENT_STAGE_NAME = "Demo Model"
TALENT_DATE_OF_BIRTH = datetime.date(1996, 3, 14)
TALENT_JURISDICTION = "FR"
COMMISSION_BPS = 2000
IDENTITY_METHOD = "document_check"


@dataclass
class DemoWorld:
    """What the steps have found or made so far, for the steps after them."""

    organisations: dict[str, Organization] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    talent: Talent | None = None
    representation: Representation | None = None

    @property
    def staff(self) -> User:
        return self.users[STAFF_EMAIL]


class StepFailed(Exception):
    """A step of the story could not be told; the demo stops and exits non-zero."""


@dataclass(frozen=True)
class Step:
    title: str
    run: Callable[[DemoWorld], str]
    # Steps that need the story's own worker, or take long, set this to False: `make demo`
    # then leaves them for the user to do in the browser.
    when_serving: bool = True


# Seeding: one function per kind of object, each "find by natural key, else create".


def seed_organisation(spec: DemoOrganisation, *, actor: User | None) -> tuple[Organization, bool]:
    found = Organization.objects.filter(name=spec.name, kind=spec.kind).order_by("pk").first()
    if found is not None:
        return found, False
    created = organization_create(name=spec.name, kind=spec.kind, country=spec.country, actor=actor)
    return created, True


def seed_user(
    spec: DemoUser, *, organisations: dict[str, Organization], actor: User | None
) -> tuple[User, bool]:
    user = User.objects.filter(email=spec.email).first()
    created = user is None
    if created:
        organisation = organisations[spec.organisation] if spec.organisation else None
        user = user_create(
            email=spec.email,
            role=spec.role,
            password=DEMO_PASSWORD,
            full_name=spec.full_name,
            organization=organisation,
            actor=actor,
        )
    elif not user.check_password(DEMO_PASSWORD):
        # Someone changed a demo password: put it back so that the printed logins work.
        # An unchanged password is left alone (a new hash would be a change).
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
        audit_record(actor=actor, action="demo.password_restored", target=user, payload={})
    if spec.superuser and not user.is_superuser:
        # No service grants superuser (an operator runs createsuperuser); the demo's staff
        # user gets it so that the whole admin is open to the demo.
        user.is_superuser = True
        user.save(update_fields=["is_superuser"])
        audit_record(actor=actor, action="demo.superuser_granted", target=user, payload={})
    return user, created


def seed_talent(*, user: User, actor: User) -> tuple[Talent, bool]:
    found = Talent.objects.filter(user=user).first()
    if found is not None:
        return found, False
    talent = talent_create(
        user=user,
        legal_name=user.full_name,
        stage_name=TALENT_STAGE_NAME,
        date_of_birth=TALENT_DATE_OF_BIRTH,
        jurisdiction=TALENT_JURISDICTION,
        actor=actor,
    )
    return talent, True


def seed_representation(
    *, talent: Talent, agency: Organization, actor: User
) -> tuple[Representation, bool]:
    current = Representation.objects.filter(current_q(timezone.now()), talent=talent, agency=agency)
    found = current.order_by("pk").first()
    if found is not None:
        return found, False
    representation = representation_create(
        talent=talent,
        agency=agency,
        commission_bps=COMMISSION_BPS,
        powers=frozenset(POWER_FIELDS),
        actor=actor,
    )
    return representation, True


def _count(kind: str, created: int, total: int) -> str:
    return f"{total} {kind} ({created} new)" if created else f"{total} {kind} (all there)"


@transaction.atomic
def step_seed(world: DemoWorld) -> str:
    """Two organisations, five users, the talent's profile and the agency's mandate."""
    staff_spec, *other_specs = USERS
    staff, staff_created = seed_user(staff_spec, organisations={}, actor=None)
    world.users[staff.email] = staff
    new_organisations = 0
    for spec in ORGANISATIONS:
        world.organisations[spec.key], created = seed_organisation(spec, actor=staff)
        new_organisations += created
    new_users = int(staff_created)
    for spec in other_specs:
        user, created = seed_user(spec, organisations=world.organisations, actor=staff)
        world.users[user.email] = user
        new_users += created
    world.talent, new_talent = seed_talent(user=world.users[TALENT_EMAIL], actor=staff)
    world.representation, new_representation = seed_representation(
        talent=world.talent, agency=world.organisations[AGENCY], actor=staff
    )
    return "; ".join(
        [
            _count("organisations", new_organisations, len(ORGANISATIONS)),
            _count("users", new_users, len(USERS)),
            _count("talent", int(new_talent), 1),
            _count("representation", int(new_representation), 1),
        ]
    )


def step_verify_identity(world: DemoWorld) -> str:
    """Staff attest the talent's identity, which every capture requires."""
    talent = world.talent
    if talent.identity_verified:
        return (
            f"{talent} was verified on {talent.identity_verified_at:%Y-%m-%d} "
            f"by {talent.identity_verified_by} ({talent.identity_verification_method})"
        )
    world.talent = talent_verify_identity(talent=talent, method=IDENTITY_METHOD, actor=world.staff)
    return f"{world.staff} attested {talent}'s identity ({IDENTITY_METHOD})"


POWER_LABELS = {
    "negotiate": "negotiate and accept uses",
    "approve_outputs": "approve outputs",
    "view_earnings": "view earnings",
}


def step_show_representation(world: DemoWorld) -> str:
    """What the agency may do for the talent, what it takes, and who can see it."""
    representation = world.representation
    powers = [
        label
        for power, label in POWER_LABELS.items()
        if getattr(representation, POWER_FIELDS[power])
    ]
    seen_by = [
        email
        for email, user in world.users.items()
        if representation_list_visible_to(user=user).filter(pk=representation.pk).exists()
    ]
    cap = settings.RIGHTSDESK_MAX_COMMISSION_BPS
    return "\n".join(
        [
            f"{representation.agency.name} represents {representation.talent} at "
            f"{representation.commission_bps / 100:.2f}% commission (the cap is {cap / 100:.2f}%)",
            f"the agency may {', '.join(powers) or 'do nothing yet'}",
            f"seen by {', '.join(seen_by)}; the others get 404",
        ]
    )


def step_verify_audit_chain(world: DemoWorld) -> str:
    """Every step above was audited; the hash chain must still be one intact line."""
    out = io.StringIO()
    try:
        call_command("audit_verify", stdout=out)
    except CommandError as exc:
        raise StepFailed(str(exc))
    return out.getvalue().strip()


STORY: list[Step] = [
    Step("Seed the demo world", step_seed),
    Step("Staff verify the talent's identity", step_verify_identity),
    Step("The agency's representation", step_show_representation),
    Step("Verify the audit chain", step_verify_audit_chain),
]

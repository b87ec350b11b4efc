import pytest
from rest_framework.authtoken.models import Token

from rightsdesk.accounts.errors import EmailTaken, RoleOrganizationMismatch
from rightsdesk.accounts.models import Organization, User
from rightsdesk.accounts.services import organization_create, user_create, user_deactivate
from rightsdesk.audit.models import AuditEvent
from rightsdesk.core.errors import ValidationFailed
from tests.factories import AgencyFactory, OrganizationFactory, UserFactory


@pytest.mark.django_db
def test_organization_create_is_audited(staff_user):
    agency = organization_create(name=" Models Inc ", kind="agency", country="fr", actor=staff_user)
    assert (agency.name, agency.kind, agency.country) == ("Models Inc", "agency", "FR")
    event = AuditEvent.objects.get(action="organization.created")
    assert event.actor == staff_user
    assert event.target_id == str(agency.public_id)


@pytest.mark.django_db
@pytest.mark.parametrize("kind, country", [("studio", "FR"), ("brand", "France")])
def test_organization_create_refuses_bad_values(staff_user, kind, country):
    with pytest.raises(ValidationFailed):
        organization_create(name="X", kind=kind, country=country, actor=staff_user)
    assert not Organization.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role, organization_kind",
    [
        ("agent", "agency"),
        ("legal", "agency"),
        ("legal", "brand"),
        ("campaign_manager", "brand"),
        ("talent", None),
        ("guardian", None),
        ("estate", None),
        ("staff", None),
    ],
)
def test_user_create_accepts_each_role_with_its_organisation(staff_user, role, organization_kind):
    organization = OrganizationFactory(kind=organization_kind) if organization_kind else None
    user = user_create(
        email=f"New.{role}@Example.test",
        role=role,
        password="a-long-passphrase-2026",
        organization=organization,
        actor=staff_user,
    )
    assert user.email == f"new.{role}@example.test"
    assert user.check_password("a-long-passphrase-2026")
    assert user.is_staff is (role == "staff")
    event = AuditEvent.objects.get(action="user.created")
    assert event.payload["role"] == role
    assert "password" not in event.payload_json


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role, organization_kind",
    [
        ("agent", None),
        ("agent", "brand"),
        ("legal", None),
        ("campaign_manager", None),
        ("campaign_manager", "agency"),
        ("talent", "agency"),
        ("guardian", "brand"),
        ("estate", "agency"),
        ("staff", "brand"),
    ],
)
def test_user_create_refuses_a_role_in_the_wrong_organisation(staff_user, role, organization_kind):
    organization = OrganizationFactory(kind=organization_kind) if organization_kind else None
    users_before, events_before = User.objects.count(), AuditEvent.objects.count()

    with pytest.raises(RoleOrganizationMismatch) as refused:
        user_create(
            email="someone@example.test", role=role, organization=organization, actor=staff_user
        )

    assert refused.value.code == "role_organization_mismatch"
    assert (User.objects.count(), AuditEvent.objects.count()) == (users_before, events_before)


@pytest.mark.django_db
def test_user_create_refuses_a_taken_email_whatever_its_case(staff_user):
    UserFactory(email="taken@example.test")
    with pytest.raises(EmailTaken):
        user_create(email="Taken@Example.test", role="talent", actor=staff_user)


@pytest.mark.django_db
def test_user_create_refuses_a_weak_password(staff_user):
    with pytest.raises(ValidationFailed) as refused:
        user_create(email="weak@example.test", role="talent", password="short", actor=staff_user)
    assert "password" in refused.value.extra["fields"]
    assert not User.objects.filter(email="weak@example.test").exists()


@pytest.mark.django_db
def test_a_user_created_without_password_cannot_log_in(staff_user):
    user = user_create(email="nopass@example.test", role="talent", actor=staff_user)
    assert not user.has_usable_password()


@pytest.mark.django_db
def test_user_deactivate_revokes_tokens_and_is_audited(staff_user):
    agent = UserFactory(role="agent", organization=AgencyFactory())
    Token.objects.create(user=agent)

    user_deactivate(user=agent, actor=staff_user)

    agent.refresh_from_db()
    assert not agent.is_active
    assert not Token.objects.filter(user=agent).exists()
    event = AuditEvent.objects.get(action="user.deactivated")
    assert (event.actor, event.payload) == (staff_user, {"tokens_revoked": 1})


@pytest.mark.django_db
def test_deactivating_twice_changes_nothing(staff_user):
    user = UserFactory()
    user_deactivate(user=user, actor=staff_user)
    user_deactivate(user=user, actor=staff_user)
    assert AuditEvent.objects.filter(action="user.deactivated").count() == 1

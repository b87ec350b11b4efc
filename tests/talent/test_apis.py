import pytest

from rightsdesk.audit.models import AuditEvent
from rightsdesk.talent.models import Representation, Talent
from tests.factories import AgencyFactory, RepresentationFactory, TalentFactory, UserFactory

NON_STAFF_ROLES = [
    "talent",
    "minor",
    "guardian",
    "estate",
    "agent",
    "agency_legal",
    "legal",
    "campaign_manager",
]

# What each user may see of agency A's side (agency B's talent is foreign to all of them).
VISIBLE = {
    "talent": {"talent_a"},
    "minor": {"minor_a"},
    "guardian": {"minor_a"},
    "estate": {"deceased_a"},
    "agent": {"talent_a", "minor_a", "deceased_a"},
    "agency_legal": {"talent_a", "minor_a", "deceased_a"},
    "legal": set(),
    "campaign_manager": set(),
}
SECRET_NAMES = ["Alice Adult-Secret", "Mina Minor-Secret", "Dora Deceased-Secret", "Bob Other"]


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", NON_STAFF_ROLES)
def test_every_role_gets_404_for_another_talent_and_organisation(world, as_user, role):
    client = as_user(world.users[role])
    foreign_talents = [world.talent_b] + [
        getattr(world, name)
        for name in ("talent_a", "minor_a", "deceased_a")
        if name not in VISIBLE[role]
    ]

    for talent in foreign_talents:
        response = client.get(f"/api/v1/talents/{talent.public_id}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        verify = client.post(
            f"/api/v1/talents/{talent.public_id}/identity-verification/",
            {"method": "document_check"},
            format="json",
        )
        assert verify.status_code == 404
    response = client.get(f"/api/v1/representations/{world.representation_b.public_id}/")
    assert response.status_code == 404

    listed = {row["public_id"] for row in _results(client.get("/api/v1/talents/"))}
    assert listed == {str(getattr(world, name).public_id) for name in VISIBLE[role]}
    representations = _results(client.get("/api/v1/representations/"))
    assert str(world.representation_b.public_id) not in {r["public_id"] for r in representations}
    assert str(world.talent_b.public_id) not in {r["talent"] for r in representations}


@pytest.mark.django_db
@pytest.mark.parametrize("role", NON_STAFF_ROLES)
def test_a_foreign_talent_answers_like_one_that_does_not_exist(world, as_user, role):
    client = as_user(world.users[role])
    foreign = client.get(f"/api/v1/talents/{world.talent_b.public_id}/")
    missing = client.get("/api/v1/talents/00000000-0000-4000-8000-000000000000/")
    assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json())


@pytest.mark.django_db
@pytest.mark.parametrize("role", [*NON_STAFF_ROLES, "staff"])
def test_lists_never_carry_personal_data(world, as_user, role):
    response = as_user(world.users[role]).get("/api/v1/talents/")
    body = response.content.decode()
    assert response.status_code == 200
    for name in SECRET_NAMES:
        assert name not in body
    assert "date_of_birth" not in body


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role, talent_name, sees_personal_data",
    [
        ("talent", "talent_a", True),
        ("minor", "minor_a", True),
        ("guardian", "minor_a", True),
        ("estate", "deceased_a", True),
        ("agent", "talent_a", True),
        ("agency_legal", "talent_a", True),
    ],
)
def test_detail_shows_personal_data_to_the_talents_own_side(
    world, as_user, role, talent_name, sees_personal_data
):
    talent = getattr(world, talent_name)
    response = as_user(world.users[role]).get(f"/api/v1/talents/{talent.public_id}/")
    assert response.status_code == 200
    personal = response.json()["personal_data"]
    if sees_personal_data:
        assert personal["legal_name"] == talent.legal_name
        assert personal["date_of_birth"] == talent.date_of_birth.isoformat()
    else:
        assert personal is None
        assert talent.legal_name not in response.content.decode()


@pytest.mark.django_db
def test_mother_agency_sees_the_profile_but_not_personal_data(world, as_user):
    mother = AgencyFactory()
    mother_agent = UserFactory(role="agent", organization=mother)
    world.representation_b.mother_agency = mother
    world.representation_b.mother_agency_share_bps = 3000
    world.representation_b.save()

    client = as_user(mother_agent)
    listed = [r["public_id"] for r in _results(client.get("/api/v1/talents/"))]
    detail = client.get(f"/api/v1/talents/{world.talent_b.public_id}/").json()

    assert listed == [str(world.talent_b.public_id)]
    assert detail["personal_data"] is None
    assert detail["viewer"] == {"is_principal": False, "powers": []}


@pytest.mark.django_db
def test_detail_tells_the_viewer_what_they_may_do(world, as_user):
    talent_view = as_user(world.users["talent"]).get(f"/api/v1/talents/{world.talent_a.public_id}/")
    assert talent_view.json()["viewer"] == {"is_principal": True, "powers": []}
    agent_view = as_user(world.users["agent"]).get(f"/api/v1/talents/{world.talent_a.public_id}/")
    assert agent_view.json()["viewer"] == {
        "is_principal": False,
        "powers": ["approve_outputs", "negotiate", "view_earnings"],
    }


@pytest.mark.django_db
def test_staff_reading_a_talent_writes_a_personal_data_audit_event(world, as_user):
    staff = world.users["staff"]
    before = AuditEvent.objects.count()

    response = as_user(staff).get(f"/api/v1/talents/{world.talent_b.public_id}/")

    assert response.status_code == 200
    assert response.json()["personal_data"]["legal_name"] == world.talent_b.legal_name
    event = AuditEvent.objects.get(sequence__gt=before)
    assert event.action == "talent.personal_data_read"
    assert event.actor == staff
    assert (event.target_type, event.target_id) == ("talent.talent", str(world.talent_b.public_id))
    assert event.payload["via"] == "api"
    # The audit chain is never erased, so it must not hold the personal data itself.
    assert world.talent_b.legal_name not in event.payload_json


@pytest.mark.django_db
def test_staff_list_is_not_a_personal_data_read(world, as_user):
    before = AuditEvent.objects.count()
    rows = _results(as_user(world.users["staff"]).get("/api/v1/talents/"))
    assert len(rows) == Talent.objects.count()
    assert AuditEvent.objects.count() == before


@pytest.mark.django_db
def test_talents_list_is_paginated(as_user, staff_user):
    for _ in range(3):
        TalentFactory()
    response = as_user(staff_user).get("/api/v1/talents/?page_size=2")
    body = response.json()
    assert body["count"] == 3
    assert len(body["results"]) == 2
    assert body["next"] is not None


@pytest.mark.django_db
def test_anonymous_gets_401(api_client, world):
    response = api_client.get("/api/v1/talents/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


# Identity verification


@pytest.mark.django_db
def test_staff_attests_identity(world, as_user):
    staff = world.users["staff"]
    response = as_user(staff).post(
        f"/api/v1/talents/{world.talent_b.public_id}/identity-verification/",
        {"method": "in_person"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["attested_by_role"] == "staff"
    world.talent_b.refresh_from_db()
    assert world.talent_b.identity_verified_by == staff
    assert world.talent_b.identity_verification_method == "in_person"
    event = AuditEvent.objects.filter(action="talent.identity_verified").get()
    assert event.actor == staff
    assert event.payload == {"method": "in_person", "attested_by_role": "staff", "agency": None}


@pytest.mark.django_db
def test_representing_agent_attests_identity(world, as_user):
    agent = world.users["agent"]
    response = as_user(agent).post(
        f"/api/v1/talents/{world.talent_a.public_id}/identity-verification/",
        {"method": "document_check"},
        format="json",
    )
    assert response.status_code == 200, response.content
    world.talent_a.refresh_from_db()
    assert world.talent_a.identity_verified_by == agent
    event = AuditEvent.objects.filter(action="talent.identity_verified").get()
    assert event.payload["agency"] == str(world.agency_a.public_id)


@pytest.mark.django_db
def test_non_representing_agent_cannot_attest_identity(world, as_user):
    response = as_user(world.users["agent_b"]).post(
        f"/api/v1/talents/{world.talent_a.public_id}/identity-verification/",
        {"method": "document_check"},
        format="json",
    )
    assert response.status_code == 404
    world.talent_a.refresh_from_db()
    assert world.talent_a.identity_verified_at is None
    assert not AuditEvent.objects.filter(action="talent.identity_verified").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["talent", "agency_legal"])
def test_roles_that_see_the_talent_but_may_not_attest_get_403(world, as_user, role):
    response = as_user(world.users[role]).post(
        f"/api/v1/talents/{world.talent_a.public_id}/identity-verification/",
        {"method": "document_check"},
        format="json",
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    world.talent_a.refresh_from_db()
    assert world.talent_a.identity_verified_at is None


@pytest.mark.django_db
def test_an_attestation_is_not_overwritten(world, as_user):
    client = as_user(world.users["staff"])
    url = f"/api/v1/talents/{world.talent_a.public_id}/identity-verification/"
    client.post(url, {"method": "in_person"}, format="json")
    response = client.post(url, {"method": "video_call"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "identity_already_verified"
    world.talent_a.refresh_from_db()
    assert world.talent_a.identity_verification_method == "in_person"


@pytest.mark.django_db
def test_unknown_verification_method_is_a_validation_error(world, as_user):
    response = as_user(world.users["staff"]).post(
        f"/api/v1/talents/{world.talent_a.public_id}/identity-verification/",
        {"method": "trust_me"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


# Representations


@pytest.mark.django_db
def test_talent_and_agency_see_the_representation(world, as_user):
    for role in ("talent", "agent", "agency_legal"):
        rows = _results(
            as_user(world.users[role]).get(
                f"/api/v1/representations/?talent={world.talent_a.public_id}"
            )
        )
        assert [r["public_id"] for r in rows] == [str(world.representation_a.public_id)]
        assert rows[0]["commission_bps"] == 2000
        assert rows[0]["is_current"] is True


@pytest.mark.django_db
def test_staff_creates_a_representation(world, as_user):
    agency = AgencyFactory()
    before = Representation.objects.count()
    response = as_user(world.users["staff"]).post(
        "/api/v1/representations/",
        {
            "talent": str(world.talent_b.public_id),
            "agency": str(agency.public_id),
            "commission_bps": 1500,
            "powers": ["negotiate", "view_earnings"],
            "mother_agency": str(world.agency_a.public_id),
            "mother_agency_share_bps": 2500,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["powers"] == ["negotiate", "view_earnings"]
    assert body["mother_agency"]["public_id"] == str(world.agency_a.public_id)
    assert Representation.objects.count() == before + 1
    assert AuditEvent.objects.filter(action="representation.created").count() == 1


@pytest.mark.django_db
def test_agent_records_a_mandate_for_a_talent_their_agency_mothers(world, as_user):
    mother = AgencyFactory()
    mother_agent = UserFactory(role="agent", organization=mother)
    RepresentationFactory(
        talent=TalentFactory(), agency=world.agency_b, mother_agency=mother, commission_bps=1000
    )
    talent = Representation.objects.get(mother_agency=mother).talent

    response = as_user(mother_agent).post(
        "/api/v1/representations/",
        {"talent": str(talent.public_id), "commission_bps": 500, "powers": ["approve_outputs"]},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["agency"]["public_id"] == str(mother.public_id)


@pytest.mark.django_db
def test_commission_above_the_cap_is_refused_through_the_api(world, as_user):
    before = (Representation.objects.count(), AuditEvent.objects.count())
    response = as_user(world.users["staff"]).post(
        "/api/v1/representations/",
        {
            "talent": str(world.talent_b.public_id),
            "agency": str(AgencyFactory().public_id),
            "commission_bps": 2001,
        },
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "commission_above_cap"
    assert (Representation.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_agent_cannot_create_a_representation_for_a_foreign_talent(world, as_user):
    before = Representation.objects.count()
    response = as_user(world.users["agent"]).post(
        "/api/v1/representations/",
        {"talent": str(world.talent_b.public_id), "commission_bps": 1000},
        format="json",
    )
    assert response.status_code == 404
    assert Representation.objects.count() == before


@pytest.mark.django_db
def test_agent_cannot_record_a_mandate_for_another_agency(world, as_user):
    before = Representation.objects.count()
    response = as_user(world.users["agent"]).post(
        "/api/v1/representations/",
        {
            "talent": str(world.talent_a.public_id),
            "agency": str(world.agency_b.public_id),
            "commission_bps": 1000,
        },
        format="json",
    )
    assert response.status_code == 403
    assert Representation.objects.count() == before


@pytest.mark.django_db
def test_an_overlapping_mandate_is_refused(world, as_user):
    before = Representation.objects.count()
    response = as_user(world.users["agent"]).post(
        "/api/v1/representations/",
        {"talent": str(world.talent_a.public_id), "commission_bps": 1000},
        format="json",
    )
    assert response.status_code == 409
    assert response.json()["code"] == "representation_overlaps"
    assert Representation.objects.count() == before


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["talent", "guardian", "legal", "campaign_manager"])
def test_only_staff_and_agents_create_representations(world, as_user, role):
    before = Representation.objects.count()
    response = as_user(world.users[role]).post(
        "/api/v1/representations/",
        {"talent": str(world.talent_a.public_id), "commission_bps": 1000},
        format="json",
    )
    assert response.status_code == 403
    assert Representation.objects.count() == before


@pytest.mark.django_db
def test_the_talent_ends_their_representation(world, as_user):
    response = as_user(world.users["talent"]).post(
        f"/api/v1/representations/{world.representation_a.public_id}/end/", {}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["is_current"] is False
    agent_view = as_user(world.users["agent"]).get(f"/api/v1/talents/{world.talent_a.public_id}/")
    assert agent_view.status_code == 404
    current = _results(as_user(world.users["talent"]).get("/api/v1/representations/?current=true"))
    assert current == []


@pytest.mark.django_db
def test_schema_documents_the_talent_endpoints(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    body = response.content.decode()
    for path in (
        "/api/v1/talents/",
        "/api/v1/talents/{public_id}/identity-verification/",
        "/api/v1/representations/",
    ):
        assert path in body
    for component in ("TalentDetail", "RepresentationCreateInput", "TalentIdentityVerifyInput"):
        assert component in body

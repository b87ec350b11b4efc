import pytest

from rightsdesk.accounts.models import Organization
from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.models import ConsentKind, CreationConsent, Withdrawal
from rightsdesk.licensing.models import Licence
from tests.consent.conftest import give, make_agreement, make_licence
from tests.factories import OrganizationFactory, UserFactory


def _notice(client, kind="capture", language="en") -> dict:
    response = client.get(f"/api/v1/consent-notices/current/?kind={kind}&language={language}")
    assert response.status_code == 200, response.content
    return response.json()


def _consent_body(talent, notice: dict, **overrides) -> dict:
    body = {
        "talent": str(talent.public_id),
        "kind": notice["kind"],
        "notice_version": notice["version"],
        "notice_language": notice["language"],
        "notice_sha256": notice["sha256"],
        "served_at": notice["served_at"],
        "method": "web",
    }
    body.update(overrides)
    return body


def _ids(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {row["public_id"] for row in response.json()["results"]}


@pytest.mark.django_db
def test_the_talent_reads_the_notice_and_consents_to_training(world, as_user):
    client = as_user(world.talent_a.user)
    notice = _notice(client, kind="train")
    assert "base model" in notice["text"] and len(notice["sha256"]) == 64

    response = client.post(
        "/api/v1/creation-consents/",
        _consent_body(world.talent_a, notice, base_model="sd-1.5"),
        format="json",
        HTTP_USER_AGENT="Browser/1.0",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == "train" and body["base_model"] == "sd-1.5"
    assert body["notice"]["sha256"] == notice["sha256"] and body["in_force"] is True
    consent = CreationConsent.objects.get(public_id=body["public_id"])
    assert consent.user_agent == "Browser/1.0" and consent.ip_address == "127.0.0.1"
    assert "ip_address" not in body


@pytest.mark.django_db
def test_an_agent_is_refused_with_consent_requires_principal(world, as_user):
    client = as_user(world.users["agent"])
    notice = _notice(client, kind="train")

    response = client.post(
        "/api/v1/creation-consents/",
        _consent_body(world.talent_a, notice, base_model="sd-1.5"),
        format="json",
    )

    assert response.status_code == 403
    assert response.json()["code"] == "consent_requires_principal"
    assert not CreationConsent.objects.exists()
    assert not AuditEvent.objects.filter(action="creation_consent.given").exists()


@pytest.mark.django_db
def test_an_api_training_consent_without_base_model_and_a_stale_notice_are_refused(world, as_user):
    client = as_user(world.talent_a.user)
    notice = _notice(client, kind="train")

    missing = client.post(
        "/api/v1/creation-consents/", _consent_body(world.talent_a, notice), format="json"
    )
    stale = client.post(
        "/api/v1/creation-consents/",
        _consent_body(world.talent_a, notice, notice_version=notice["version"] + 1),
        format="json",
    )
    wrong_hash = client.post(
        "/api/v1/creation-consents/",
        _consent_body(world.talent_a, notice, base_model="x", notice_sha256="f" * 64),
        format="json",
    )

    assert (missing.status_code, missing.json()["code"]) == (400, "base_model_required")
    assert (stale.status_code, stale.json()["code"]) == (409, "notice_mismatch")
    assert (wrong_hash.status_code, wrong_hash.json()["code"]) == (409, "notice_mismatch")
    assert not CreationConsent.objects.exists()


@pytest.mark.django_db
def test_consents_are_seen_by_the_talents_side_and_staff_and_are_404_to_others(world, as_user):
    mine = give(talent=world.talent_a, actor=world.talent_a.user)
    estate = give(talent=world.deceased_a, actor=world.users["estate"])
    foreign = give(talent=world.talent_b, actor=world.talent_b.user)
    expected = {
        "talent": {mine},
        "estate": {estate},
        "agent": {mine, estate},
        "agency_legal": {mine, estate},
        "agent_b": {foreign},
        "legal": set(),
        "campaign_manager": set(),
        "staff": {mine, estate, foreign},
    }

    for role, visible in expected.items():
        client = as_user(world.users[role])
        listed = _ids(client.get("/api/v1/creation-consents/"))
        assert listed == {str(c.public_id) for c in visible}, role
        for consent in {mine, estate, foreign}:
            detail = client.get(f"/api/v1/creation-consents/{consent.public_id}/")
            assert detail.status_code == (200 if consent in visible else 404), role


@pytest.mark.django_db
def test_giving_consent_for_a_talent_one_cannot_see_is_404(world, as_user):
    client = as_user(world.users["agent_b"])
    notice = _notice(client)

    response = client.post(
        "/api/v1/creation-consents/", _consent_body(world.talent_a, notice), format="json"
    )

    assert response.status_code == 404
    assert not CreationConsent.objects.exists()


@pytest.mark.django_db
def test_the_talent_withdraws_a_licence_and_the_brand_sees_it(world, deal, as_user):
    talent_client = as_user(world.talent_a.user)

    response = talent_client.post(
        "/api/v1/withdrawals/",
        {
            "target_type": "licence",
            "target": str(deal.licence.public_id),
            "kind": "contractual",
            "reason": "I no longer work with this brand",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["target_type"], body["target"]) == ("licence", str(deal.licence.public_id))
    assert body["requested_role"] == "talent" and body["applied_at"] is None
    legal = as_user(world.users["legal"])
    assert _ids(legal.get("/api/v1/withdrawals/")) == {body["public_id"]}
    assert legal.get(f"/api/v1/withdrawals/{body['public_id']}/").status_code == 200


@pytest.mark.django_db
def test_withdrawals_are_404_to_another_brand_and_another_agency(world, deal, as_user):
    withdrawal = Withdrawal.objects.get(
        public_id=as_user(world.talent_a.user)
        .post(
            "/api/v1/withdrawals/",
            {
                "target_type": "agreement",
                "target": str(deal.agreement.public_id),
                "kind": "for_cause",
                "reason": "Breach",
            },
            format="json",
        )
        .json()["public_id"]
    )
    other_brand = OrganizationFactory(kind=Organization.Kind.BRAND)
    outsiders = [
        UserFactory(role="legal", organization=other_brand),
        world.users["agent_b"],
        world.talent_b.user,
    ]

    for user in outsiders:
        client = as_user(user)
        assert _ids(client.get("/api/v1/withdrawals/")) == set()
        assert client.get(f"/api/v1/withdrawals/{withdrawal.public_id}/").status_code == 404
        attempt = client.post(
            "/api/v1/withdrawals/",
            {
                "target_type": "licence",
                "target": str(deal.licence_2.public_id),
                "kind": "for_cause",
                "reason": "x",
            },
            format="json",
        )
        assert attempt.status_code == 404
    assert Withdrawal.objects.count() == 1


@pytest.mark.django_db
def test_brand_legal_cannot_file_a_withdrawal_of_its_own_licence(world, deal, as_user):
    response = as_user(world.users["legal"]).post(
        "/api/v1/withdrawals/",
        {
            "target_type": "licence",
            "target": str(deal.licence.public_id),
            "kind": "contractual",
            "reason": "We changed our mind",
        },
        format="json",
    )

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not Withdrawal.objects.exists()
    assert Licence.objects.get(pk=deal.licence.pk).status == "accepted"


@pytest.mark.django_db
def test_an_agent_withdraws_an_agreement_but_not_a_creation_consent(world, deal, as_user):
    consent = give(talent=world.talent_a, actor=world.talent_a.user, kind=ConsentKind.CAPTURE)
    client = as_user(world.users["agent"])

    agreement = client.post(
        "/api/v1/withdrawals/",
        {
            "target_type": "agreement",
            "target": str(deal.agreement.public_id),
            "kind": "contractual",
            "reason": "Talent asked us",
        },
        format="json",
    )
    creation = client.post(
        "/api/v1/withdrawals/",
        {
            "target_type": "creation_consent",
            "target": str(consent.public_id),
            "kind": "data_protection",
            "reason": "Talent asked us",
        },
        format="json",
    )

    assert agreement.status_code == 201, agreement.content
    assert (creation.status_code, creation.json()["code"]) == (403, "consent_requires_principal")
    assert Withdrawal.objects.count() == 1


@pytest.mark.django_db
def test_a_withdrawn_consent_reads_as_no_longer_in_force(world, as_user):
    consent = give(talent=world.talent_a, actor=world.talent_a.user)
    client = as_user(world.talent_a.user)

    response = client.post(
        "/api/v1/withdrawals/",
        {
            "target_type": "creation_consent",
            "target": str(consent.public_id),
            "kind": "data_protection",
            "reason": "I changed my mind",
        },
        format="json",
    )

    assert response.status_code == 201
    assert response.json()["applied_at"] is not None
    detail = client.get(f"/api/v1/creation-consents/{consent.public_id}/").json()
    assert detail["in_force"] is False and detail["withdrawn_at"] is not None
    again = client.post(
        "/api/v1/withdrawals/",
        {
            "target_type": "creation_consent",
            "target": str(consent.public_id),
            "kind": "data_protection",
            "reason": "Twice",
        },
        format="json",
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_withdrawn")


@pytest.mark.django_db
def test_the_withdrawal_list_filters_by_target(world, deal, as_user):
    other = make_licence(agreement=make_agreement(world=world), campaign="Other")
    client = as_user(world.talent_a.user)
    for licence in (deal.licence, other):
        client.post(
            "/api/v1/withdrawals/",
            {
                "target_type": "licence",
                "target": str(licence.public_id),
                "kind": "contractual",
                "reason": "Ending",
            },
            format="json",
        )

    response = client.get(f"/api/v1/withdrawals/?target={deal.licence.public_id}")

    assert [row["target"] for row in response.json()["results"]] == [str(deal.licence.public_id)]

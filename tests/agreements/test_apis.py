"""The agreement endpoints, and who may see what of an agreement."""

import dataclasses
import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from rightsdesk.agreements.models import Agreement, AgreementVersion, Signature
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.core.errors import ValidationFailed
from tests.agreements.conftest import DAY, document, draft, make_terms, sign
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/agreements/"


def terms_payload(**overrides) -> str:
    return make_terms(**overrides).terms_json()


def create(client, world, **extra):
    data = {
        "talent": str(world.talent_a.public_id),
        "title": "Spring fragrance",
        "document": document(),
        "terms": terms_payload(),
        **extra,
    }
    return client.post(URL, data, format="multipart")


def test_brand_legal_drafts_an_agreement_with_a_document_and_json_terms(world, as_user):
    response = create(as_user(world.users["legal"]), world)

    assert response.status_code == 201, response.json()
    body = response.json()
    version = body["versions"][0]
    assert body["status"] == "draft" and body["brand"] == str(world.brand.public_id)
    assert version["number"] == 1 and version["status"] == "awaiting_signatures"
    assert json.loads(version["terms_json"]) == version["terms"]
    assert version["terms"]["category_policies"] == {"fragrance": "allowed", "lingerie": "never"}
    assert body["may_sign_as"] == "brand_legal"


def test_a_campaign_manager_cannot_draft(world, as_user):
    response = create(as_user(world.users["campaign_manager"]), world)

    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Agreement.objects.count() == 0


def test_malformed_terms_are_a_validation_error_naming_the_field(world, as_user):
    bad = json.loads(terms_payload())
    bad["max_licence_term_days"] = "ten years"
    bad["surprise"] = 1

    response = create(as_user(world.users["legal"]), world, terms=json.dumps(bad))

    assert response.status_code == 400
    fields = response.json()["extra"]["fields"]["terms"]
    assert "max_licence_term_days" in str(fields) and "surprise" in str(fields)


def test_staff_must_name_the_brand(world, as_user):
    client = as_user(world.users["staff"])

    assert create(client, world).json()["code"] == "validation_error"
    response = create(client, world, brand=str(world.brand.public_id))
    assert response.status_code == 201


def test_signing_over_the_api_keeps_the_evidence(world):
    agreement = draft(world)
    version = agreement.versions.get()
    client = APIClient()
    token = Token.objects.create(user=world.users["talent"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    url = f"{URL}{agreement.public_id}/versions/1/sign/"

    wrong = client.post(url, {"signed_sha256": "a" * 64}, format="json")
    right = client.post(
        url,
        {"signed_sha256": version.content_sha256},
        format="json",
        HTTP_USER_AGENT="Browser/1.0",
        REMOTE_ADDR="198.51.100.4",
    )

    assert wrong.status_code == 409 and wrong.json()["code"] == "signature_hash_mismatch"
    assert right.status_code == 201, right.json()
    signature = Signature.objects.get()
    assert signature.authentication_method == "token"
    assert (signature.ip_address, signature.user_agent) == ("198.51.100.4", "Browser/1.0")
    shown = right.json()["versions"][0]["signatures"][0]
    assert shown["evidence"]["ip_address"] == "198.51.100.4"  # the signer sees their own


def test_signature_evidence_is_hidden_from_the_other_parties(world, as_user):
    agreement = draft(world)
    sign(agreement.versions.get(), world.users["talent"])

    legal_view = as_user(world.users["legal"]).get(f"{URL}{agreement.public_id}/").json()
    staff_view = as_user(world.users["staff"]).get(f"{URL}{agreement.public_id}/").json()

    assert legal_view["versions"][0]["signatures"][0]["evidence"] is None
    assert staff_view["versions"][0]["signatures"][0]["evidence"]["user_agent"] == "pytest"


def test_amend_sign_and_terminate_over_the_api(world, as_user):
    agreement = draft(world)
    v1 = agreement.versions.get()
    sign(v1, world.users["talent"])
    sign(v1, world.users["legal"])
    legal = as_user(world.users["legal"])

    amended = legal.post(
        f"{URL}{agreement.public_id}/amend/",
        {
            "document": document(b"v2"),
            # From v1's own terms: fresh ones would take a new "now" and could differ by a
            # second in every date, which the diff below would rightly report.
            "terms": dataclasses.replace(
                AgreementTerms.from_json(json.loads(v1.terms_json)),
                effective_to=v1.effective_to + 100 * DAY,
            ).terms_json(),
        },
        format="multipart",
    )
    diff = legal.get(f"{URL}{agreement.public_id}/versions/2/diff/")
    terminated = legal.post(
        f"{URL}{agreement.public_id}/terminate/", {"reason": "Campaign cancelled"}, format="json"
    )

    assert amended.status_code == 201, amended.json()
    assert [v["status"] for v in amended.json()["versions"]] == ["awaiting_signatures", "active"]
    changed = {c["field"] for c in diff.json()["changes"]}
    assert changed == {"document_sha256", "effective_to"}
    assert terminated.status_code == 200 and terminated.json()["status"] == "terminated"


def test_the_document_downloads_for_parties_but_not_campaign_managers(world, as_user):
    agreement = draft(world)
    url = f"{URL}{agreement.public_id}/versions/1/document/"

    talent = as_user(world.users["talent"]).get(url)
    assert talent.status_code == 200
    assert b"".join(talent.streaming_content) == b"%PDF-1.7 the agreement"

    manager = as_user(world.users["campaign_manager"])
    summary = manager.get(f"{URL}{agreement.public_id}/").json()
    assert summary["versions"][0]["document_url"] is None
    assert manager.get(url).status_code == 403


@pytest.mark.parametrize(
    "who", ["legal", "campaign_manager", "talent", "agent", "agency_legal", "staff"]
)
def test_the_parties_see_the_agreement(world, as_user, who):
    agreement = draft(world)
    client = as_user(world.users[who])

    assert client.get(f"{URL}{agreement.public_id}/").status_code == 200
    assert [a["public_id"] for a in client.get(URL).json()["results"]] == [str(agreement.public_id)]


def test_a_guardian_and_an_estate_see_their_talents_agreements(world, as_user, settings):
    settings.RIGHTSDESK_ALLOW_MINORS = True
    minor = draft(world, talent=world.minor_a)
    deceased = draft(world, talent=world.deceased_a)

    guardian = as_user(world.users["guardian"]).get(URL).json()["results"]
    assert [a["public_id"] for a in guardian] == [str(minor.public_id)]
    estate = as_user(world.users["estate"]).get(URL).json()["results"]
    assert [a["public_id"] for a in estate] == [str(deceased.public_id)]


def foreign_users(world) -> dict:
    other_brand = OrganizationFactory(kind="brand")
    return {
        "foreign legal": UserFactory(role="legal", organization=other_brand),
        "foreign manager": UserFactory(role="campaign_manager", organization=other_brand),
        "foreign agent": world.users["agent_b"],
        "foreign talent": world.talent_b.user,
        "a guardian of another talent": world.users["guardian"],
    }


def test_foreign_users_get_404_and_an_empty_list(world, as_user):
    agreement = draft(world)
    version = agreement.versions.get()

    for label, user in foreign_users(world).items():
        client = as_user(user)
        for path in ("", "versions/1/document/", "versions/1/diff/?against=1"):
            response = client.get(f"{URL}{agreement.public_id}/{path}")
            assert response.status_code == 404, (label, path)
        signed = client.post(
            f"{URL}{agreement.public_id}/versions/1/sign/",
            {"signed_sha256": version.content_sha256},
            format="json",
        )
        ended = client.post(f"{URL}{agreement.public_id}/terminate/", {"reason": "x"})
        assert (signed.status_code, ended.status_code) == (404, 404), label
        assert client.get(URL).json()["count"] == 0, label

    agreement.refresh_from_db()
    assert agreement.status == "draft" and Signature.objects.count() == 0


def test_the_categories_endpoint_lists_the_tree(world, as_user):
    response = as_user(world.users["legal"]).get("/api/v1/categories/")

    categories = {c["slug"]: c for c in response.json()}
    assert categories["fragrance"]["parent"] == "beauty"
    assert categories["adult_content"]["global_policy"] == "never"
    assert "perfume" in categories["fragrance"]["keywords"]


def test_the_schema_documents_the_agreement_endpoints(world, as_user):
    response = as_user(world.users["staff"]).get("/api/schema/", {"format": "json"})

    paths = response.json()["paths"]
    assert "/api/v1/agreements/{public_id}/versions/{number}/sign/" in paths
    assert "/api/v1/notifications/" in paths
    assert AgreementVersion.objects.count() == 0


def test_a_bare_date_in_the_terms_is_the_start_of_that_day_in_utc():
    # Given terms whose dates are written as bare days, and one with a naive time
    data = json.loads(terms_payload())
    bare = {**data, "effective_from": "2026-06-01", "effective_to": "2027-05-31"}
    naive = {**data, "effective_from": "2026-06-01T09:00:00"}

    # When they are parsed
    terms = AgreementTerms.from_json(bare)

    # Then a bare day is its midnight in UTC, and a time without an offset is refused
    assert terms.effective_from.isoformat() == "2026-06-01T00:00:00+00:00"
    assert terms.effective_to.isoformat() == "2027-05-31T00:00:00+00:00"
    with pytest.raises(ValidationFailed) as refused:
        AgreementTerms.from_json(naive)
    assert "effective_from" in refused.value.extra["fields"]

"""The licence and external-commitment endpoints: scoping (a foreign licence is a 404 like
a missing one), the negotiation over HTTP, strict money, the schema."""

import pytest
from django.utils import timezone

from rightsdesk.core.vocab import TerritorySpec
from rightsdesk.licensing.models import ExternalCommitment, Licence, LicenceOffer
from rightsdesk.licensing.services import external_commitment_create
from tests.licensing.conftest import accept, propose
from tests.licensing.factories import DAY, licence_terms, usage

MISSING = "00000000-0000-4000-8000-000000000000"
ALL = {"proposed_a", "accepted_a", "proposed_b"}
VISIBLE = {
    "legal_a": {"proposed_a", "accepted_a"},
    "manager_a": {"accepted_a"},
    "legal_b": {"proposed_b"},
    "manager_b": set(),
    "talent": ALL,
    "agent": ALL,
    "agency_legal": ALL,
    "agent_without_power": ALL,
    "minor": set(),
    "guardian": set(),
    "stranger_talent": set(),
    "staff": ALL,
}


@pytest.fixture
def licences(deal) -> dict[str, Licence]:
    accepted = accept(propose(deal, campaign="Accepted A"), deal.users["talent"])
    return {
        "proposed_a": propose(deal, campaign="Proposed A"),
        "accepted_a": accepted,
        "proposed_b": propose(deal, brand="b", campaign="Proposed B"),
    }


def _results(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(VISIBLE))
def test_each_role_sees_exactly_its_licences_and_a_foreign_one_is_a_404(
    deal, licences, as_user, role
):
    client = as_user(deal.users[role])

    listed = {row["public_id"] for row in _results(client.get("/api/v1/licences/"))}
    assert listed == {str(licences[name].public_id) for name in VISIBLE[role]}

    missing = client.get(f"/api/v1/licences/{MISSING}/")
    for name in ALL - VISIBLE[role]:
        base = f"/api/v1/licences/{licences[name].public_id}"
        for response in (
            client.get(f"{base}/"),
            client.get(f"{base}/deal-memo/"),
            client.post(f"{base}/accept/", {"deal_memo_sha256": "0" * 64}, format="json"),
            client.post(f"{base}/decline/", {}, format="json"),
            client.post(f"{base}/counter/", licence_terms().to_json(), format="json"),
            client.post(f"{base}/revise/", licence_terms().to_json(), format="json"),
        ):
            assert (response.status_code, response.json()) == (404, missing.json())
    assert Licence.objects.get(pk=licences["proposed_b"].pk).status == "proposed"


@pytest.mark.django_db
def test_a_campaign_manager_of_another_brand_gets_404_even_for_an_accepted_licence(
    deal, licences, as_user
):
    response = as_user(deal.users["manager_b"]).get(
        f"/api/v1/licences/{licences['accepted_a'].public_id}/"
    )

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.django_db
def test_the_detail_carries_rows_status_counters_and_history(deal, licences, as_user):
    licence = licences["accepted_a"]
    Licence.objects.filter(pk=licence.pk).update(drafts_used=4)

    body = as_user(deal.users["manager_a"]).get(f"/api/v1/licences/{licence.public_id}/").json()

    assert body["status"] == "accepted"
    assert (body["drafts_used"], body["draft_allowance"], body["drafts_left"]) == (4, 20, 16)
    assert body["usage_rows"] == [
        {
            "medium": "paid_social",
            "territories": {"include": ["DE"], "exclude": []},
            "territory_codes": ["DE"],
            "duration_days": 90,
            "quantity": 10,
            "quantity_used": 0,
        }
    ]
    assert [o["kind"] for o in body["offers"]] == ["proposed", "accepted"]
    assert body["deal_memo_sha256"] == licence.deal_memo_sha256
    assert body["viewer"] == {"may_answer": False, "may_revise": False}
    assert body["exclusivity_conflicts"] is None


@pytest.mark.django_db
def test_the_whole_negotiation_over_http(deal, as_user):
    legal, agent = as_user(deal.users["legal_a"]), None
    body = {"agreement": str(deal.agreement_a.public_id), **licence_terms().to_json()}

    proposed = legal.post("/api/v1/licences/", body, format="json")
    assert proposed.status_code == 201, proposed.content
    public_id = proposed.json()["public_id"]
    assert proposed.json()["status"] == "proposed"
    assert proposed.json()["viewer"] == {"may_answer": False, "may_revise": True}

    agent = as_user(deal.users["agent"])
    countered = agent.post(
        f"/api/v1/licences/{public_id}/counter/",
        {**licence_terms(buyout_minor=700_000).to_json(), "note": "More, please"},
        format="json",
    )
    assert countered.json()["status"] == "countered", countered.content

    legal = as_user(deal.users["legal_a"])
    revised = legal.post(
        f"/api/v1/licences/{public_id}/revise/",
        licence_terms(buyout_minor=650_000).to_json(),
        format="json",
    )
    assert revised.json()["status"] == "proposed"
    assert revised.json()["buyout_minor"] == 650_000

    agent = as_user(deal.users["agent"])
    memo = agent.get(f"/api/v1/licences/{public_id}/deal-memo/?language=fr").json()
    assert memo["language"] == "fr" and "6,500.00" in memo["text"]
    accepted = agent.post(
        f"/api/v1/licences/{public_id}/accept/",
        {"deal_memo_sha256": memo["sha256"], "language": "fr"},
        format="json",
        HTTP_USER_AGENT="RightsdeskApp/1.0",
    )
    assert accepted.status_code == 200, accepted.content
    assert accepted.json()["status"] == "accepted"
    offer = LicenceOffer.objects.get(licence__public_id=public_id, kind="accepted")
    assert (offer.deal_memo_sha256, offer.deal_memo_language) == (memo["sha256"], "fr")
    assert (offer.ip_address, offer.user_agent) == ("127.0.0.1", "RightsdeskApp/1.0")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("buyout_minor", 1500.0), ("usage_fee_minor", "2500"), ("draft_allowance", 2.5)],
)
def test_money_and_counts_must_be_json_integers(deal, as_user, field, value):
    body = {"agreement": str(deal.agreement_a.public_id), **licence_terms().to_json()}
    body[field] = value

    response = as_user(deal.users["legal_a"]).post("/api/v1/licences/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["extra"]["fields"]
    assert Licence.objects.count() == 0


@pytest.mark.django_db
def test_a_quantity_given_as_a_float_is_refused(deal, as_user):
    body = {"agreement": str(deal.agreement_a.public_id), **licence_terms().to_json()}
    body["usage"][0]["quantity"] = 10.0

    response = as_user(deal.users["legal_a"]).post("/api/v1/licences/", body, format="json")

    assert response.status_code == 400
    assert Licence.objects.count() == 0


@pytest.mark.django_db
def test_proposing_under_another_brands_agreement_is_a_404_and_a_talent_gets_403(deal, as_user):
    body = {"agreement": str(deal.agreement_a.public_id), **licence_terms().to_json()}

    foreign = as_user(deal.users["legal_b"]).post("/api/v1/licences/", body, format="json")
    assert foreign.status_code == 404

    talent = as_user(deal.users["talent"]).post("/api/v1/licences/", body, format="json")
    assert talent.status_code == 403
    assert talent.json()["code"] == "permission_denied"
    assert Licence.objects.count() == 0


@pytest.mark.django_db
def test_a_licence_outside_the_agreement_names_the_field(deal, as_user):
    body = {
        "agreement": str(deal.agreement_a.public_id),
        **licence_terms(usage=(usage(duration_days=400),)).to_json(),
    }

    response = as_user(deal.users["legal_a"]).post("/api/v1/licences/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "licence_outside_agreement"
    assert response.json()["extra"] == {"field": "usage[0].duration_days", "limit": 365}


@pytest.mark.django_db
def test_list_filters(deal, licences, as_user):
    client = as_user(deal.users["talent"])

    by_status = _results(client.get("/api/v1/licences/?status=accepted"))
    by_agreement = _results(client.get(f"/api/v1/licences/?agreement={deal.agreement_b.public_id}"))

    assert [r["campaign"] for r in by_status] == ["Accepted A"]
    assert [r["campaign"] for r in by_agreement] == ["Proposed B"]


@pytest.mark.django_db
def test_external_commitments_over_http_are_for_the_talents_side_only(deal, as_user):
    agent = as_user(deal.users["agent"])
    created = agent.post(
        "/api/v1/external-commitments/",
        {
            "talent": str(deal.talent.public_id),
            "category": "fragrance",
            "territories": {"include": ["EU"], "exclude": ["FR"]},
            "starts_at": timezone.now().isoformat(),
            "ends_at": (timezone.now() + 90 * DAY).isoformat(),
            "counterparty": "A perfume house",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    public_id = created.json()["public_id"]
    assert (
        "DE" in created.json()["territory_codes"] and "FR" not in created.json()["territory_codes"]
    )

    talent_list = _results(as_user(deal.users["talent"]).get("/api/v1/external-commitments/"))
    assert [c["counterparty"] for c in talent_list] == ["A perfume house"]
    for role in ("legal_a", "manager_a", "legal_b", "stranger_talent"):
        client = as_user(deal.users[role])
        assert _results(client.get("/api/v1/external-commitments/")) == []
        assert client.get(f"/api/v1/external-commitments/{public_id}/").status_code == 404
        assert client.post(f"/api/v1/external-commitments/{public_id}/end/").status_code == 404

    weak = as_user(deal.users["agent_without_power"]).post(
        f"/api/v1/external-commitments/{public_id}/end/", {}, format="json"
    )
    assert weak.status_code == 403
    ended = as_user(deal.users["talent"]).post(
        f"/api/v1/external-commitments/{public_id}/end/", {}, format="json"
    )
    assert ended.status_code == 200
    assert ExternalCommitment.objects.get(public_id=public_id).ends_at <= timezone.now()
    again = as_user(deal.users["talent"]).post(
        f"/api/v1/external-commitments/{public_id}/end/", {}, format="json"
    )
    assert again.status_code == 409


@pytest.mark.django_db
def test_a_commitment_in_an_unknown_territory_is_refused(deal):
    from rightsdesk.core.errors import ApplicationError

    with pytest.raises(ApplicationError) as refused:
        external_commitment_create(
            talent=deal.talent,
            category="beauty",
            territories=TerritorySpec(include=("ZZ",)),
            starts_at=timezone.now(),
            ends_at=timezone.now() + DAY,
            counterparty="",
            actor=deal.users["talent"],
        )
    assert refused.value.code == "validation_error"
    assert ExternalCommitment.objects.count() == 0


@pytest.mark.django_db
def test_the_schema_documents_every_licence_operation(as_user, staff_user):
    schema = as_user(staff_user).get("/api/schema/?format=json").json()

    paths = schema["paths"]
    for path, method in (
        ("/api/v1/licences/", "post"),
        ("/api/v1/licences/", "get"),
        ("/api/v1/licences/{public_id}/", "get"),
        ("/api/v1/licences/{public_id}/counter/", "post"),
        ("/api/v1/licences/{public_id}/revise/", "post"),
        ("/api/v1/licences/{public_id}/accept/", "post"),
        ("/api/v1/licences/{public_id}/decline/", "post"),
        ("/api/v1/licences/{public_id}/deal-memo/", "get"),
        ("/api/v1/external-commitments/", "post"),
        ("/api/v1/external-commitments/{public_id}/end/", "post"),
    ):
        assert method in paths[path], (path, method)
        assert "404" in paths[path][method]["responses"] or path.endswith("licences/")
    components = schema["components"]["schemas"]
    for name in ("LicenceProposeInputRequest", "LicenceDetail", "LicenceAcceptInputRequest"):
        assert name in components, name

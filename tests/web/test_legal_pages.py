"""The legal pages: an agreement's versions with what each amendment changed, signing and
amending through the agreement services, proposing a licence whose refusals are explained
in plain words (never naming another brand), and evidence packs taken from the page.
A refused action is a message on the page with nothing changed, never a server error."""

import datetime
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from rightsdesk.agreements.models import (
    Agreement,
    AgreementVersion,
    CategoryPolicy,
    Exclusivity,
    Signature,
)
from rightsdesk.agreements.services import agreement_amend
from rightsdesk.agreements.terms import AgreementTerms
from rightsdesk.audit.models import AuditEvent
from rightsdesk.licensing.errors import ExclusivityConflict
from rightsdesk.licensing.models import Licence, UsageRow
from rightsdesk.web.explain import refusal_lines
from rightsdesk.web.selectors import agreement_terms_changes
from tests.agreements.conftest import media_in_tmp  # noqa: F401 (autouse: uploads in tmp_path)
from tests.consent.gate_world import DAY
from tests.factories import UserFactory
from tests.web.helpers import client_for, messages_of, request_form

pytestmark = pytest.mark.django_db


def agreement_path(world, suffix: str = "") -> str:
    return f"/agreements/{world.x.agreement.public_id}/{suffix}"


def second_version(world, **changes) -> AgreementVersion:
    """Version 2 of X's agreement, awaiting signatures, a copy of version 1 with
    ``changes`` to its columns, and swimwear moved to "never" with a new exclusivity."""
    v1 = world.x.version
    fields = {
        f.name: getattr(v1, f.name)
        for f in AgreementVersion._meta.concrete_fields
        if f.name not in ("id", "public_id", "created_at", "updated_at", "activated_at")
    }
    fields.update(
        number=2,
        status=AgreementVersion.Status.AWAITING_SIGNATURES,
        document_sha256="b" * 64,
        content_sha256="c" * 64,
        **changes,
    )
    v2 = AgreementVersion.objects.create(**fields)
    for row in v1.category_policies.all():
        policy = "never" if row.category.slug == "swimwear" else row.policy
        CategoryPolicy.objects.create(version=v2, category=row.category, policy=policy)
    Exclusivity.objects.create(
        version=v2,
        category=world.categories["fragrance"],
        territories={"include": ["EU"], "exclude": ["FR"]},
        territory_codes=["DE"],
        starts_at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        ends_at=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC),
    )
    return v2


# --- the readable diff ----------------------------------------------------------------------


def test_the_diff_lists_only_the_terms_that_changed_old_then_new(world):
    v2 = second_version(world, max_licence_term_days=180, client_agency_fee_bps=1250)

    changes = agreement_terms_changes(old=world.x.version, new=v2, with_document=False)

    assert [(c.term, c.old, c.new) for c in changes] == [
        ("Longest licence", "365 days", "180 days"),
        ("Client agency fee (on top, paid by the brand)", "0%", "12.5%"),
        ("Category: Swimwear", "allowed with the talent's approval", "never"),
        ("Exclusivity: Fragrance in EU except FR", "none", "1 Jan 2026 – 1 Jan 2027"),
    ]


def test_the_agreement_page_shows_what_version_2_changed_in_plain_words(world):
    new_end = world.x.version.effective_to + 365 * DAY
    second_version(world, effective_to=new_end, run_off_days=30)

    body = client_for(world.legal).get(agreement_path(world)).content.decode()

    assert "What changed since version 1" in body
    assert '<th scope="row">Ends</th>' in body and new_end.strftime("%Y") in body
    assert '<th scope="row">Run-off after a withdrawal</th>' in body
    assert "<del>90 days</del>" in body and "<ins>30 days</ins>" in body
    assert "<del>allowed with the talent&#x27;s approval</del>" in body
    assert '<th scope="row">Signed document</th>' in body
    assert "Governing law" not in body  # unchanged terms are not listed


def test_a_campaign_manager_sees_the_changes_but_not_the_document_or_signatures(world):
    second_version(world, run_off_days=30)

    body = client_for(world.manager).get(agreement_path(world)).content.decode()

    assert "What changed since version 1" in body and "<ins>30 days</ins>" in body
    assert "Signed document" not in body and "Signatures" not in body
    assert "/sign/" not in body and "/evidence/" not in body


# --- amending -------------------------------------------------------------------------------


def amend_form(world, **overrides) -> dict:
    version = world.x.version
    data = {
        "document": SimpleUploadedFile("amendment.pdf", b"%PDF amendment 2"),
        "jurisdiction": "FR",
        "effective_from": version.effective_from.date().isoformat(),
        "effective_to": version.effective_to.date().isoformat(),
        "max_licence_term_days": 365,
        "withdrawal_notice_days": 30,
        "run_off_days": 90,
        "client_agency_fee_bps": 0,
        "approval_window_hours": 72,
        "exclusivities": "",
        "policy_apparel": "allowed",
        "policy_swimwear": "with_approval",
        "policy_lingerie": "never",
    }
    data.update(overrides)
    return data


def test_legal_amends_the_terms_starting_from_the_version_in_force(world):
    client = client_for(world.legal)
    page = client.get(agreement_path(world, "amend/")).content.decode()
    assert 'value="365"' in page and 'enctype="multipart/form-data"' in page
    assert '<option value="never" selected>' in page  # lingerie, as version 1 says

    response = client.post(
        agreement_path(world, "amend/"),
        amend_form(world, approval_window_hours=48, policy_swimwear="never"),
        follow=True,
    )

    v2 = AgreementVersion.objects.get(agreement=world.x.agreement, number=2)
    assert v2.status == AgreementVersion.Status.AWAITING_SIGNATURES
    assert v2.approval_window_hours == 48
    assert (
        v2.effective_from == world.x.version.effective_from
    )  # an untouched date keeps its instant
    assert dict(v2.category_policies.values_list("category__slug", "policy"))["swimwear"] == "never"
    world.x.version.refresh_from_db()
    assert world.x.version.status == AgreementVersion.Status.ACTIVE  # in force until signed
    assert any("Version 2 drafted" in text for text in messages_of(response))
    body = response.content.decode()
    assert "<del>72 hours</del>" in body and "<ins>48 hours</ins>" in body


def test_an_amendment_the_service_refuses_is_explained_and_nothing_is_drafted(world):
    past = (timezone.now() - 2 * DAY).date().isoformat()

    response = client_for(world.legal).post(
        agreement_path(world, "amend/"), amend_form(world, effective_to=past)
    )

    assert response.status_code == 200
    assert "The amendment was not drafted" in response.content.decode()
    assert any("Ends on: Must be in the future." in text for text in messages_of(response))
    assert not AgreementVersion.objects.filter(agreement=world.x.agreement, number=2).exists()


def test_an_exclusivity_line_is_read_into_the_amendment(world):
    starts, ends = (timezone.now() + DAY).date(), (timezone.now() + 60 * DAY).date()
    line = f"fragrance; EU except FR; {starts.isoformat()}; {ends.isoformat()}"

    client_for(world.legal).post(
        agreement_path(world, "amend/"), amend_form(world, exclusivities=line)
    )

    v2 = AgreementVersion.objects.get(agreement=world.x.agreement, number=2)
    (exclusivity,) = v2.exclusivities.all()
    assert exclusivity.category.slug == "fragrance"
    assert exclusivity.territories == {"include": ["EU"], "exclude": ["FR"]}
    assert "FR" not in exclusivity.territory_codes and "DE" in exclusivity.territory_codes


def test_the_talent_may_not_amend_and_nothing_changes(world):
    client = client_for(world.x.talent.user)

    assert client.get(agreement_path(world, "amend/")).status_code == 403
    assert client.post(agreement_path(world, "amend/"), amend_form(world)).status_code == 403
    assert world.x.agreement.versions.count() == 1


# --- signing --------------------------------------------------------------------------------


def drafted_amendment(world) -> AgreementVersion:
    version = world.x.version
    terms = AgreementTerms(
        jurisdiction="FR",
        effective_from=version.effective_from,
        effective_to=version.effective_to + 30 * DAY,
        max_licence_term_days=365,
        category_policies={"apparel": "allowed", "lingerie": "never"},
    )
    document = SimpleUploadedFile("v2.pdf", b"%PDF version 2")
    return agreement_amend(
        agreement=world.x.agreement, document=document, terms=terms, actor=world.legal
    )


def sign(client, world, version, signed_sha256=None):
    return client.post(
        agreement_path(world, f"versions/{version.number}/sign/"),
        {"signed_sha256": signed_sha256 or version.content_sha256},
        HTTP_USER_AGENT="PageTest/1.0",
        follow=True,
    )


def test_both_parties_sign_the_amendment_on_the_page_and_it_comes_into_force(world):
    v2 = drafted_amendment(world)
    legal, talent = client_for(world.legal), client_for(world.x.talent.user)
    assert v2.content_sha256 in talent.get(agreement_path(world)).content.decode()

    first = sign(legal, world, v2)
    v2.refresh_from_db()
    assert v2.status == AgreementVersion.Status.AWAITING_SIGNATURES
    assert any("once the other party signs" in text for text in messages_of(first))
    assert "Still to sign:" in first.content.decode()

    second = sign(talent, world, v2)

    v2.refresh_from_db()
    world.x.version.refresh_from_db()
    assert v2.status == AgreementVersion.Status.ACTIVE
    assert world.x.version.status == AgreementVersion.Status.SUPERSEDED
    assert any("signed by every party" in text for text in messages_of(second))
    principal = Signature.objects.get(version=v2, party="principal")
    assert principal.authentication_method == "session"
    assert (principal.ip_address, principal.user_agent) == ("127.0.0.1", "PageTest/1.0")


def test_signing_twice_or_a_stale_hash_is_a_message_and_changes_nothing(world):
    v2 = drafted_amendment(world)
    legal = client_for(world.legal)
    sign(legal, world, v2)

    again = sign(legal, world, v2)
    stale = sign(client_for(world.x.talent.user), world, v2, signed_sha256="0" * 64)

    assert again.status_code == stale.status_code == 200
    assert any("already signed" in text for text in messages_of(again))
    assert any("not the one you read" in text for text in messages_of(stale))
    assert Signature.objects.filter(version=v2).count() == 1


def test_a_superseded_version_cannot_be_signed(world):
    v2 = drafted_amendment(world)
    drafted_amendment(world)  # version 3 replaces the unsigned version 2

    response = sign(client_for(world.legal), world, v2)

    assert any("can no longer be signed" in text for text in messages_of(response))
    assert not Signature.objects.filter(version=v2).exists()


def test_only_a_party_that_has_not_signed_is_offered_the_sign_button(world):
    v2 = drafted_amendment(world)
    sign_url = agreement_path(world, f"versions/{v2.number}/sign/")

    assert sign_url in client_for(world.legal).get(agreement_path(world)).content.decode()
    assert sign_url not in client_for(world.manager).get(agreement_path(world)).content.decode()
    stranger = UserFactory(role="legal", organization=world.other_brand)
    assert sign(client_for(stranger), world, v2).status_code == 404
    assert not Signature.objects.filter(version=v2).exists()


# --- proposing a licence --------------------------------------------------------------------


def proposal(**overrides) -> dict:
    today = timezone.now().date()
    data = {
        "campaign": "Linen AW27",
        "use_description": "Autumn linen product images",
        "purpose": "advertising",
        "advertiser": "Maison Lin",
        "product_lines": "Linen, Knitwear",
        "category": "apparel",
        "currency": "EUR",
        "buyout": "1000",
        "usage_fee": "300.00",
        "draft_allowance": 5,
        "starts_on": today.isoformat(),
        "ends_on": (today + datetime.timedelta(days=89)).isoformat(),
        "offer_expires_on": (today + datetime.timedelta(days=14)).isoformat(),
        "usage-TOTAL_FORMS": 3,
        "usage-INITIAL_FORMS": 0,
        "usage-MIN_NUM_FORMS": 1,
        "usage-MAX_NUM_FORMS": 6,
        "usage-0-medium": "paid_social",
        "usage-0-territories": "EU except DE",
        "usage-0-duration_days": 90,
        "usage-0-quantity": 10,
        "usage-1-medium": "print",
        "usage-1-territories": "US",
        "usage-1-duration_days": 30,
        "usage-1-quantity": 2,
    }
    data.update(overrides)
    return data


def test_legal_proposes_a_licence_under_the_agreement(world):
    client = client_for(world.legal)
    assert (
        agreement_path(world, "licences/new/") in client.get(agreement_path(world)).content.decode()
    )

    response = client.post(agreement_path(world, "licences/new/"), proposal(), follow=True)

    licence = Licence.objects.get(campaign="Linen AW27")
    assert licence.status == Licence.Status.PROPOSED
    assert (licence.usage_fee_minor, licence.buyout_minor) == (30_000, 100_000)
    assert licence.product_lines == ["Linen", "Knitwear"]
    rows = list(UsageRow.objects.filter(licence=licence).order_by("pk"))
    assert [(r.medium, r.territories) for r in rows] == [
        ("paid_social", {"include": ["EU"], "exclude": ["DE"]}),
        ("print", {"include": ["US"], "exclude": []}),
    ]
    assert response.redirect_chain[-1][0] == f"/licences/{licence.public_id}/"
    assert any("Licence proposed" in text for text in messages_of(response))


def test_a_licence_longer_than_the_agreement_allows_is_explained_on_the_form(world):
    too_long = (timezone.now().date() + datetime.timedelta(days=400)).isoformat()

    response = client_for(world.legal).post(
        agreement_path(world, "licences/new/"), proposal(ends_on=too_long)
    )

    body = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in body
    assert "longer than the agreement&#x27;s longest licence, 365 days" in body
    assert not Licence.objects.filter(campaign="Linen AW27").exists()


def test_a_category_the_agreement_never_allows_is_explained(world):
    response = client_for(world.legal).post(
        agreement_path(world, "licences/new/"), proposal(category="lingerie")
    )

    assert "The agreement never allows this category (Lingerie)" in response.content.decode()
    assert not Licence.objects.filter(campaign="Linen AW27").exists()


def test_an_agreement_not_in_force_is_explained_and_offers_no_proposal(world):
    Agreement.objects.filter(pk=world.x.agreement.pk).update(status=Agreement.Status.EXPIRED)
    client = client_for(world.legal)

    assert (
        agreement_path(world, "licences/new/")
        not in client.get(agreement_path(world)).content.decode()
    )
    response = client.post(agreement_path(world, "licences/new/"), proposal())

    assert "The agreement is not in force" in response.content.decode()
    assert not Licence.objects.filter(campaign="Linen AW27").exists()


def test_the_talent_cannot_propose(world):
    response = client_for(world.x.talent.user).post(
        agreement_path(world, "licences/new/"), proposal()
    )

    assert response.status_code == 403
    assert not Licence.objects.filter(campaign="Linen AW27").exists()


def test_an_exclusivity_refusal_is_explained_from_the_overlap_alone():
    start, end = "2026-03-01T00:00:00+00:00", "2026-09-01T00:00:00+00:00"
    error = ExclusivityConflict(
        "Rival Brand holds fragrance in FR",  # a message is never shown as such
        conflicts=[
            {
                "category": "fragrance",
                "category_name": "Fragrance",
                "territories": ["DE", "FR"],
                "starts_at": start,
                "ends_at": end,
            }
        ],
    )

    lines = refusal_lines(error)

    assert "Overlap: Fragrance in DE, FR, from 1 Mar 2026 to 1 Sep 2026." in lines
    assert not any("Rival" in line for line in lines)


# --- evidence packs -------------------------------------------------------------------------


def test_legal_downloads_a_licences_evidence_pack_from_the_agreement_page(world):
    client = client_for(world.legal)
    link = agreement_path(world, f"evidence/?licence={world.x.licence.public_id}")
    assert link in client.get(agreement_path(world)).content.decode()

    response = client.get(link)

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment")
    assert f"evidence-licence-{world.x.licence.public_id}.zip" in disposition
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert "manifest.json" in archive.namelist()
    export = AuditEvent.objects.get(action="evidence.exported")
    assert export.payload["manifest_sha256"] == response["X-Evidence-Manifest-SHA256"]


def test_a_campaign_manager_is_told_evidence_packs_are_for_legal_and_nothing_is_exported(world):
    link = agreement_path(world, f"evidence/?licence={world.x.licence.public_id}")

    response = client_for(world.manager).get(link, follow=True)

    assert response.redirect_chain[-1][0] == agreement_path(world)
    assert any("Evidence packs are for legal" in text for text in messages_of(response))
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_a_licence_of_another_agreement_is_not_found_under_this_one(world):
    link = agreement_path(world, f"evidence/?licence={world.y.licence.public_id}")

    response = client_for(world.legal).get(link)

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_each_released_image_has_its_own_evidence_pack(world):
    from rightsdesk.renders.models import Asset, RenderRequest

    client_for(world.manager).post(
        "/requests/new/", request_form(world, num_drafts=1, idempotency_key="evidence-asset")
    )
    asset = Asset.objects.create(
        render_request=RenderRequest.objects.get(),
        index=0,
        status="released",
        released_at=timezone.now(),
    )
    client = client_for(world.legal)
    link = agreement_path(world, f"evidence/?asset={asset.public_id}")
    assert link in client.get(agreement_path(world)).content.decode()

    response = client.get(link)

    assert response.status_code == 200
    assert f"evidence-asset-{asset.public_id}.zip" in response["Content-Disposition"]
    export = AuditEvent.objects.get(action="evidence.exported")
    assert export.target_id == str(asset.public_id)

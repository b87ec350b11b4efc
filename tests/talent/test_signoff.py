"""The talent's sign-off: only the principal signs a trained likeness off (with appearance
limits the gate enforces) or rejects it; until then the gate refuses to use it. Sample
images go to the principal and the representing agency only. No torch here: the likeness
is "trained" by storing stand-in adapter bytes and sample PNGs through the service."""

import io

import pytest
from PIL import Image

from rightsdesk.audit.models import AuditEvent
from rightsdesk.consent.gate import evaluate
from rightsdesk.consent.gate_types import RENDER, GateQuery
from rightsdesk.core.errors import InvalidTransition, NotPrincipal, ValidationFailed
from rightsdesk.talent.models import LikenessVersion
from rightsdesk.talent.training import (
    SampleImage,
    likeness_reject,
    likeness_sign_off,
    likeness_training_complete,
)
from tests.factories import LikenessVersionFactory

LIKENESSES = "/api/v1/likenesses/"


def png(colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def likeness(world, media) -> LikenessVersion:
    """A likeness of agency A's talent awaiting sign-off, with two sealed samples."""
    training = LikenessVersionFactory(talent=world.talent_a, base_model="tiny-sd-v1")
    samples = [SampleImage(i, png((40 * i, 90, 160)), 16, 16, i, f"sample {i}") for i in (0, 1)]
    stored = likeness_training_complete(
        likeness=training,
        adapter=b"stand-in adapter bytes",
        adapter_sha256="ab" * 32,
        samples=samples,
        timings={"train": 0.1},
    )
    assert stored is not None and stored.status == "awaiting_signoff"
    return stored


def render_codes(likeness: LikenessVersion) -> list[str]:
    query = GateQuery(
        action=RENDER, likenesses=(likeness.pk,), brief="a photo in a park", dry_run=True
    )
    return evaluate(query).codes()


@pytest.mark.django_db
def test_the_principal_signs_off_with_appearance_limits_and_the_gate_then_allows_it(
    likeness, world
):
    assert "likeness_not_signed_off" in render_codes(likeness)

    signed = likeness_sign_off(
        likeness=likeness,
        actor=world.users["talent"],
        appearance_limits=["skin_tone", "age_change", "skin_tone"],
    )

    assert signed.status == "signed_off" and signed.signed_off_by == world.users["talent"]
    assert signed.appearance_limits == ["age_change", "skin_tone"]
    assert "likeness_not_signed_off" not in render_codes(signed)
    event = AuditEvent.objects.filter(action="likeness.signed_off").get()
    assert '"appearance_limits":["age_change","skin_tone"]' in event.payload_json


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["agent", "staff", "agency_legal"])
def test_nobody_but_the_principal_signs_off_not_even_an_agent_with_every_power(
    likeness, world, who
):
    representation = world.representation_a
    representation.can_negotiate_uses = representation.can_approve_outputs = True
    representation.can_view_earnings = True
    representation.save()

    with pytest.raises(NotPrincipal):
        likeness_sign_off(likeness=likeness, actor=world.users[who], appearance_limits=[])
    with pytest.raises(NotPrincipal):
        likeness_reject(likeness=likeness, actor=world.users[who], reason="Not me.")

    likeness.refresh_from_db()
    assert likeness.status == "awaiting_signoff" and likeness.signed_off_at is None
    assert not AuditEvent.objects.filter(action__in=["likeness.signed_off", "likeness.rejected"])


@pytest.mark.django_db
def test_unknown_appearance_limits_are_refused(likeness, world):
    with pytest.raises(ValidationFailed):
        likeness_sign_off(likeness=likeness, actor=world.users["talent"], appearance_limits=["x"])

    likeness.refresh_from_db()
    assert likeness.status == "awaiting_signoff"


@pytest.mark.django_db
def test_the_principal_rejects_with_a_reason_kept_off_the_audit_chain(likeness, world):
    with pytest.raises(ValidationFailed):
        likeness_reject(likeness=likeness, actor=world.users["talent"], reason="  ")

    rejected = likeness_reject(
        likeness=likeness, actor=world.users["talent"], reason="The jawline is not mine."
    )

    assert rejected.status == "rejected" and rejected.rejected_at is not None
    assert rejected.rejection_reason == "The jawline is not mine."
    event = AuditEvent.objects.filter(action="likeness.rejected").get()
    assert "jawline" not in event.payload_json and "reason_sha256" in event.payload_json
    assert "likeness_not_signed_off" in render_codes(rejected)
    with pytest.raises(InvalidTransition):
        likeness_sign_off(likeness=rejected, actor=world.users["talent"], appearance_limits=[])


@pytest.mark.django_db
def test_a_likeness_still_training_cannot_be_signed_off(world, media):
    training = LikenessVersionFactory(talent=world.talent_a)

    with pytest.raises(InvalidTransition):
        likeness_sign_off(likeness=training, actor=world.users["talent"], appearance_limits=[])


@pytest.mark.django_db
def test_sign_off_endpoints_answer_the_principal_and_refuse_an_agent(likeness, world, as_user):
    url = f"{LIKENESSES}{likeness.public_id}/"

    by_agent = as_user(world.users["agent"]).post(f"{url}sign-off/", {}, format="json")
    by_foreign_agent = as_user(world.users["agent_b"]).post(f"{url}sign-off/", {}, format="json")
    unknown = as_user(world.users["talent"]).post(
        f"{url}sign-off/", {"appearance_limits": ["wings"]}, format="json"
    )
    rejected = as_user(world.users["talent"]).post(
        f"{url}reject/", {"reason": "Not a likeness of me."}, format="json"
    )

    assert by_agent.status_code == 403 and by_agent.json()["code"] == "not_principal"
    assert by_foreign_agent.status_code == 404
    assert unknown.status_code == 400 and unknown.json()["code"] == "validation_error"
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


@pytest.mark.django_db
def test_samples_reach_the_principal_and_the_agency_only(likeness, world, as_user):
    url = f"{LIKENESSES}{likeness.public_id}/"

    def view(who: str):
        client = as_user(world.users[who])
        return client.get(url), client.get(f"{url}samples/1/")

    for who in ("talent", "agent"):
        detail, sample = view(who)
        assert len(detail.json()["samples"]) == 2
        assert sample.status_code == 200 and sample.content == png((40, 90, 160))
    detail, sample = view("staff")  # staff manage the likeness, they need not see the face
    assert detail.status_code == 200 and detail.json()["samples"] == []
    assert sample.status_code == 404
    for who in ("agent_b", "campaign_manager"):
        detail, sample = view(who)
        assert detail.status_code == 404 and sample.status_code == 404
    listed = as_user(world.users["talent"]).get(LIKENESSES).json()
    assert [item["public_id"] for item in listed["results"]] == [str(likeness.public_id)]
    # Metadata only: no field carries an adapter's bytes or where they are stored.
    assert {"adapter_file", "adapter_key_id", "blob"}.isdisjoint(listed["results"][0])

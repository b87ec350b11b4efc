"""Talent data keys: sealing bound to talent and purpose, rotation under a new key-encryption
key, crypto-shredding with its certificate in the audit chain, and what triggers it."""

import base64
import datetime
import hashlib
import json
import os
import uuid

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone

from rightsdesk.agreements.models import Agreement
from rightsdesk.audit.models import AuditEvent
from rightsdesk.audit.verify import verify_chain
from rightsdesk.consent.hooks import withdrawal_effective_callbacks
from rightsdesk.consent.models import Withdrawal
from rightsdesk.consent.services import withdrawal_apply
from rightsdesk.core.errors import EncryptedDataInvalid, KeyEncryptionKeyUnknown, NotPrincipal
from rightsdesk.talent.capture import capture_image_upload, capture_images_decrypted
from rightsdesk.talent.datakeys import (
    data_key_destroy_on_withdrawal,
    decrypt_for_talent,
    encrypt_for_talent,
    talent_data_key_destroy,
    talent_data_key_get_or_create,
    talent_data_keys_rotate,
    talent_request_erasure,
)
from rightsdesk.talent.errors import AgreementStillActive, DataKeyDestroyed
from rightsdesk.talent.models import (
    CaptureImage,
    DestructionCertificate,
    LikenessVersion,
    TalentDataKey,
)
from tests.factories import LikenessVersionFactory, TalentFactory
from tests.talent.capture_world import (
    after_notice,
    give_train_consent,
    image_bytes,
    withdraw,
)


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def kek(settings):
    settings.RIGHTSDESK_DATA_KEY, settings.RIGHTSDESK_DATA_KEY_ID = b64key(), "k1"
    settings.RIGHTSDESK_DATA_KEYS_OLD = ""
    return settings


def upload_images(capture, count: int = 2) -> list[CaptureImage]:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return [
        capture_image_upload(
            session=capture.session,
            file=SimpleUploadedFile(f"{i}.png", image_bytes(seed=i)),
            actor=capture.agent,
            at=after_notice(capture.session),
        )
        for i in range(count)
    ]


def adapter_for(talent) -> LikenessVersion:
    """A likeness whose adapter bytes were sealed under the talent's key, as training does."""
    likeness = LikenessVersionFactory(
        talent=talent, status=LikenessVersion.Status.SIGNED_OFF, signed_off_at=timezone.now()
    )
    adapter = b"safetensors adapter bytes" + uuid.uuid4().bytes
    blob, key_id = encrypt_for_talent(
        talent=talent, plaintext=adapter, context=f"adapter:{likeness.public_id}"
    )
    LikenessVersion.objects.filter(pk=likeness.pk).update(
        adapter_sha256=hashlib.sha256(adapter).hexdigest(), adapter_key_id=key_id
    )
    likeness.refresh_from_db()
    likeness.blob = blob
    return likeness


# Sealing


@pytest.mark.django_db
def test_a_blob_round_trips_for_its_talent_and_context():
    talent = TalentFactory()
    blob, key_id = encrypt_for_talent(talent=talent, plaintext=b"face", context="capture:x")

    assert decrypt_for_talent(talent=talent, blob=blob, context="capture:x") == b"face"
    assert decrypt_for_talent(talent=talent, blob=blob, context="capture:x", key_id=key_id) == (
        b"face"
    )
    key = TalentDataKey.objects.get(talent=talent)
    assert key.key_id == key_id and key.kek_id == "k1"
    assert len(bytes(key.wrapped_key)) == 12 + 32 + 16
    event = AuditEvent.objects.get(action="talent.data_key_created")
    assert event.payload == {"data_key": key_id, "kek_id": "k1", "renews_destroyed_key": False}


@pytest.mark.django_db
def test_a_blob_does_not_open_for_another_context_or_talent():
    talent, other = TalentFactory(), TalentFactory()
    blob, key_id = encrypt_for_talent(talent=talent, plaintext=b"face", context="capture:1")
    encrypt_for_talent(talent=other, plaintext=b"x", context="capture:1")

    with pytest.raises(EncryptedDataInvalid):
        decrypt_for_talent(talent=talent, blob=blob, context="capture:2")
    with pytest.raises(EncryptedDataInvalid):
        decrypt_for_talent(talent=talent, blob=blob, context="adapter:1")
    with pytest.raises(EncryptedDataInvalid):
        decrypt_for_talent(talent=other, blob=blob, context="capture:1")
    with pytest.raises(EncryptedDataInvalid):  # the key id names another talent's key
        decrypt_for_talent(talent=other, blob=blob, context="capture:1", key_id=key_id)


@pytest.mark.django_db
def test_a_tampered_blob_fails_with_a_code():
    talent = TalentFactory()
    blob, _ = encrypt_for_talent(talent=talent, plaintext=b"face" * 10, context="c")
    tampered = bytearray(blob)
    tampered[20] ^= 0x04

    with pytest.raises(EncryptedDataInvalid) as refused:
        decrypt_for_talent(talent=talent, blob=bytes(tampered), context="c")
    assert refused.value.code == "encrypted_data_invalid"
    assert refused.value.status == 500


@pytest.mark.django_db
def test_a_wrapped_key_copied_onto_another_talent_does_not_unwrap():
    talent, other = TalentFactory(), TalentFactory()
    encrypt_for_talent(talent=talent, plaintext=b"a", context="c")
    blob, _ = encrypt_for_talent(talent=other, plaintext=b"b", context="c")
    stolen = TalentDataKey.objects.get(talent=talent).wrapped_key
    TalentDataKey.objects.filter(talent=other).update(wrapped_key=stolen)

    with pytest.raises(EncryptedDataInvalid):
        decrypt_for_talent(talent=other, blob=blob, context="c")


@pytest.mark.django_db
def test_a_capture_blob_swapped_between_rows_fails(capture):
    first, second = upload_images(capture)
    first_blob = first.blob.name
    (capture.media / second.blob.name).write_bytes((capture.media / first_blob).read_bytes())

    with pytest.raises(EncryptedDataInvalid):
        list(capture_images_decrypted(session=capture.session))


# Rotation


@pytest.mark.django_db
def test_rotation_rewraps_under_the_new_kek_and_the_old_one_can_then_go(capture, kek):
    images = upload_images(capture)
    other_blob, _ = encrypt_for_talent(talent=TalentFactory(), plaintext=b"o", context="c")
    old = kek.RIGHTSDESK_DATA_KEY
    kek.RIGHTSDESK_DATA_KEY, kek.RIGHTSDESK_DATA_KEY_ID = b64key(), "k2"
    kek.RIGHTSDESK_DATA_KEYS_OLD = f"k1:{old}"
    # Before rotating, the old KEK still unwraps.
    assert len(list(capture_images_decrypted(session=capture.session))) == 2

    call_command("rotate_data_keys", stdout=(out := __import__("io").StringIO()))

    assert "rewrapped 2 data keys under k2" in out.getvalue()
    assert set(TalentDataKey.objects.values_list("kek_id", flat=True)) == {"k2"}
    kek.RIGHTSDESK_DATA_KEYS_OLD = ""  # the old KEK is removed
    plain = list(capture_images_decrypted(session=capture.session))
    assert [hashlib.sha256(p).hexdigest() for p in plain] == [i.sha256 for i in images]
    event = AuditEvent.objects.get(action="talent.data_keys_rewrapped")
    assert event.payload == {"to_kek_id": "k2", "from_kek_ids": {"k1": 2}}
    assert talent_data_keys_rotate() == 0  # nothing left to do


@pytest.mark.django_db
def test_without_rotation_removing_the_old_kek_makes_keys_unusable(capture, kek):
    upload_images(capture, 1)
    kek.RIGHTSDESK_DATA_KEY, kek.RIGHTSDESK_DATA_KEY_ID = b64key(), "k2"

    with pytest.raises(KeyEncryptionKeyUnknown):
        list(capture_images_decrypted(session=capture.session))
    with pytest.raises(KeyEncryptionKeyUnknown):
        talent_data_keys_rotate()
    assert set(TalentDataKey.objects.values_list("kek_id", flat=True)) == {"k1"}


# Destruction


@pytest.mark.django_db
def test_destruction_makes_every_blob_unreadable_and_certifies_it(capture):
    images = upload_images(capture)
    likeness = adapter_for(capture.talent)
    key = TalentDataKey.objects.get(talent=capture.talent)

    certificate = talent_data_key_destroy(
        talent=capture.talent, reason="erasure_requested", actor=capture.principal
    )

    key.refresh_from_db()
    assert bytes(key.wrapped_key) == b"" and key.destroyed_at is not None
    with pytest.raises(DataKeyDestroyed) as gone:
        list(capture_images_decrypted(session=capture.session))
    assert gone.value.code == "data_key_destroyed" and gone.value.status == 410
    with pytest.raises(DataKeyDestroyed):
        decrypt_for_talent(
            talent=capture.talent,
            blob=likeness.blob,
            context=f"adapter:{likeness.public_id}",
            key_id=likeness.adapter_key_id,
        )
    likeness.refresh_from_db()
    assert likeness.status == LikenessVersion.Status.DESTROYED

    payload = json.loads(certificate.payload_json)
    assert payload["unreadable"]["capture_images"] == {
        "count": 2,
        "sha256": sorted(i.sha256 for i in images),
        "sessions": [str(capture.session.public_id)],
    }
    assert payload["unreadable"]["adapters"] == {"count": 1, "sha256": [likeness.adapter_sha256]}
    assert payload["kek_id"] == "k1" and payload["reason"] == "erasure_requested"
    assert payload["likenesses_destroyed"] == [str(likeness.public_id)]
    event = AuditEvent.objects.get(action="talent.data_key_destroyed")
    assert event.sequence == certificate.audit_sequence
    assert event.payload_json == certificate.payload_json
    assert certificate.sha256 == hashlib.sha256(certificate.payload_json.encode()).hexdigest()
    assert event.actor == capture.principal
    assert verify_chain().first_break is None


@pytest.mark.django_db
def test_destroying_when_there_is_no_key_does_nothing():
    talent = TalentFactory()
    assert talent_data_key_destroy(talent=talent, reason="erasure_requested", actor=None) is None
    assert not AuditEvent.objects.filter(action="talent.data_key_destroyed").exists()


@pytest.mark.django_db
def test_nothing_new_is_sealed_for_a_talent_whose_key_was_destroyed():
    talent = TalentFactory()
    encrypt_for_talent(talent=talent, plaintext=b"a", context="c")
    talent_data_key_destroy(talent=talent, reason="erasure_requested", actor=None)

    with pytest.raises(DataKeyDestroyed):
        encrypt_for_talent(talent=talent, plaintext=b"b", context="c")
    assert TalentDataKey.objects.filter(talent=talent).count() == 1
    renewed = talent_data_key_get_or_create(talent=talent, renew_after_destruction=True)
    assert renewed.destroyed_at is None
    assert TalentDataKey.objects.filter(talent=talent).count() == 2


@pytest.mark.django_db
def test_the_hook_is_registered_when_the_app_is_ready():
    assert data_key_destroy_on_withdrawal in withdrawal_effective_callbacks()


@pytest.mark.django_db
def test_withdrawing_train_destroys_the_key_through_the_consent_hook(capture):
    upload_images(capture, 1)
    likeness = adapter_for(capture.talent)
    train = give_train_consent(talent=capture.talent)

    withdrawal = withdraw(train)  # data protection: effective and applied at once

    assert Withdrawal.objects.get(pk=withdrawal.pk).withdrawalapplied
    key = TalentDataKey.objects.get(talent=capture.talent)
    assert key.destroyed_at is not None and bytes(key.wrapped_key) == b""
    certificate = DestructionCertificate.objects.get(talent=capture.talent)
    payload = json.loads(certificate.payload_json)
    assert payload["reason"] == "train_consent_withdrawn"
    assert payload["trigger"] == f"withdrawal:{withdrawal.public_id}"
    assert payload["unreadable"]["capture_images"]["count"] == 1
    assert payload["unreadable"]["adapters"]["sha256"] == [likeness.adapter_sha256]
    event = AuditEvent.objects.get(action="talent.data_key_destroyed")
    assert event.actor is None and event.actor_label == "system"
    assert verify_chain().first_break is None
    with pytest.raises(DataKeyDestroyed):
        list(capture_images_decrypted(session=capture.session))


@pytest.mark.django_db
def test_a_contractual_train_withdrawal_destroys_the_key_only_when_applied(capture):
    upload_images(capture, 1)
    train = give_train_consent(talent=capture.talent)
    # A withdrawal row not yet applied (as one made just before the periodic task runs).
    withdrawal = Withdrawal.objects.create(
        kind="contractual",
        creation_consent=train,
        talent=capture.talent,
        reason="r",
        requested_by=capture.principal,
        requested_at=timezone.now(),
        effective_at=timezone.now() + datetime.timedelta(minutes=5),
        run_off_until=timezone.now() + datetime.timedelta(minutes=5),
        public_id=uuid.uuid4(),
    )
    assert withdrawal_apply(withdrawal=withdrawal) is False  # not due yet
    assert TalentDataKey.objects.get().destroyed_at is None

    assert withdrawal_apply(
        withdrawal=withdrawal, now=timezone.now() + datetime.timedelta(minutes=6)
    )
    assert TalentDataKey.objects.get().destroyed_at is not None


@pytest.mark.django_db
def test_withdrawing_capture_destroys_the_images_as_its_notice_promises(capture):
    upload_images(capture, 1)

    withdraw(capture.consent)

    payload = json.loads(DestructionCertificate.objects.get().payload_json)
    assert payload["reason"] == "capture_consent_withdrawn"
    with pytest.raises(DataKeyDestroyed):
        list(capture_images_decrypted(session=capture.session))


# Erasure at the talent's request


def active_agreement(world) -> Agreement:
    return Agreement.objects.create(
        talent=world.talent_a,
        brand=world.brand,
        agency=world.agency_a,
        title="Spring",
        status=Agreement.Status.ACTIVE,
        created_by=world.users["legal"],
    )


@pytest.mark.django_db
def test_erasure_is_refused_while_an_agreement_is_in_force(capture):
    upload_images(capture, 1)
    agreement = active_agreement(capture.world)
    events = AuditEvent.objects.count()

    with pytest.raises(AgreementStillActive) as refused:
        talent_request_erasure(talent=capture.talent, actor=capture.principal)

    assert refused.value.extra == {"agreements": [str(agreement.public_id)]}
    assert TalentDataKey.objects.get().destroyed_at is None
    assert AuditEvent.objects.count() == events


@pytest.mark.django_db
def test_erasure_after_the_last_agreement_was_withdrawn_from_destroys_the_key(capture):
    upload_images(capture, 1)
    agreement = active_agreement(capture.world)
    now = timezone.now()
    Withdrawal.objects.create(
        kind="for_cause",
        agreement=agreement,
        talent=capture.talent,
        reason="r",
        requested_by=capture.principal,
        requested_at=now,
        effective_at=now,
        run_off_until=now,
        public_id=uuid.uuid4(),
    )

    certificate = talent_request_erasure(talent=capture.talent, actor=capture.principal)

    assert json.loads(certificate.payload_json)["reason"] == "erasure_requested"
    assert TalentDataKey.objects.get().destroyed_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "staff"])
def test_only_the_principal_asks_for_erasure(capture, role):
    upload_images(capture, 1)
    with pytest.raises(NotPrincipal):
        talent_request_erasure(talent=capture.talent, actor=capture.world.users[role])
    assert TalentDataKey.objects.get().destroyed_at is None


@pytest.mark.django_db
def test_the_talent_asks_for_erasure_through_the_api(capture, as_user):
    upload_images(capture, 1)
    url = f"/api/v1/talents/{capture.talent.public_id}/erasure/"

    response = as_user(capture.principal).post(url)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["destroyed"] is True
    assert body["certificate"]["payload"]["unreadable"]["capture_images"]["count"] == 1
    again = as_user(capture.principal).post(url).json()
    assert again == {"destroyed": False, "certificate": None}
    assert AuditEvent.objects.filter(action="talent.erasure_requested").count() == 1
    foreign = as_user(capture.world.users["agent_b"]).post(url)
    assert foreign.status_code == 404


# Database guards (PostgreSQL triggers)


@pytest.mark.postgres
@pytest.mark.django_db
def test_postgresql_refuses_any_other_change_to_keys_images_and_certificates(capture):
    upload_images(capture, 1)
    key = TalentDataKey.objects.get()
    other = TalentFactory()

    def refused(statement):
        with pytest.raises(IntegrityError), transaction.atomic():
            statement()

    refused(lambda: TalentDataKey.objects.filter(pk=key.pk).update(talent=other))
    refused(lambda: TalentDataKey.objects.filter(pk=key.pk).update(wrapped_key=b"", kek_id="x"))
    refused(lambda: TalentDataKey.objects.filter(pk=key.pk).delete())
    refused(lambda: CaptureImage.objects.update(width=1))
    refused(lambda: CaptureImage.objects.all().delete())

    certificate = talent_data_key_destroy(talent=capture.talent, reason="r", actor=None)
    refused(
        lambda: TalentDataKey.objects.filter(pk=key.pk).update(
            wrapped_key=b"again", destroyed_at=None
        )
    )
    refused(lambda: DestructionCertificate.objects.filter(pk=certificate.pk).update(sha256="0"))
    refused(lambda: DestructionCertificate.objects.filter(pk=certificate.pk).delete())


@pytest.mark.django_db
def test_a_destroyed_key_must_be_empty_in_every_database(capture):
    upload_images(capture, 1)
    with pytest.raises(IntegrityError), transaction.atomic():
        TalentDataKey.objects.update(destroyed_at=timezone.now())

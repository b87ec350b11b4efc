"""core.crypto: AES-GCM envelope encryption and the key ring read from the settings."""

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from rightsdesk.core import crypto
from rightsdesk.core.errors import EncryptedDataInvalid, KeyEncryptionKeyUnknown


def b64key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_sealed_blob_opens_with_the_same_key_and_associated_data():
    key = crypto.new_data_key()

    blob = crypto.seal(key=key, plaintext=b"portrait bytes", associated_data=b"capture:1")

    assert blob[: crypto.NONCE_BYTES] != blob[crypto.NONCE_BYTES : 2 * crypto.NONCE_BYTES]
    assert len(blob) == crypto.NONCE_BYTES + len(b"portrait bytes") + crypto.TAG_BYTES
    assert b"portrait bytes" not in blob
    assert crypto.open_sealed(key=key, blob=blob, associated_data=b"capture:1") == (
        b"portrait bytes"
    )


def test_sealing_twice_gives_different_blobs():
    key = crypto.new_data_key()
    first = crypto.seal(key=key, plaintext=b"same", associated_data=b"ad")
    second = crypto.seal(key=key, plaintext=b"same", associated_data=b"ad")
    assert first != second  # a fresh random nonce each time


@pytest.mark.parametrize(
    "change",
    ["other_associated_data", "other_key", "flipped_ciphertext_bit", "flipped_tag_bit", "short"],
)
def test_a_blob_that_does_not_match_refuses_to_open_with_a_code(change):
    key = crypto.new_data_key()
    blob = bytearray(crypto.seal(key=key, plaintext=b"secret image", associated_data=b"ad:1"))
    associated_data = b"ad:1"
    if change == "other_associated_data":
        associated_data = b"ad:2"
    elif change == "other_key":
        key = crypto.new_data_key()
    elif change == "flipped_ciphertext_bit":
        blob[crypto.NONCE_BYTES] ^= 0x01
    elif change == "flipped_tag_bit":
        blob[-1] ^= 0x80
    else:
        blob = blob[:20]

    with pytest.raises(EncryptedDataInvalid) as refused:
        crypto.open_sealed(key=key, blob=bytes(blob), associated_data=associated_data)
    assert refused.value.code == "encrypted_data_invalid"


def test_a_wrapped_key_unwraps_only_with_its_own_associated_data(settings):
    settings.RIGHTSDESK_DATA_KEY, settings.RIGHTSDESK_DATA_KEY_ID = b64key(), "k1"
    settings.RIGHTSDESK_DATA_KEYS_OLD = ""
    data_key = crypto.new_data_key()

    wrapped, kek_id = crypto.wrap_key(data_key=data_key, associated_data=b"talent:a")

    assert kek_id == "k1"
    assert crypto.unwrap_key(wrapped=wrapped, kek_id="k1", associated_data=b"talent:a") == (
        data_key
    )
    with pytest.raises(EncryptedDataInvalid):
        crypto.unwrap_key(wrapped=wrapped, kek_id="k1", associated_data=b"talent:b")


def test_an_old_kek_still_unwraps_while_listed_and_not_after(settings):
    old, new = b64key(), b64key()
    settings.RIGHTSDESK_DATA_KEY, settings.RIGHTSDESK_DATA_KEY_ID = old, "k1"
    settings.RIGHTSDESK_DATA_KEYS_OLD = ""
    wrapped, _ = crypto.wrap_key(data_key=b"k" * 32, associated_data=b"ad")

    settings.RIGHTSDESK_DATA_KEY, settings.RIGHTSDESK_DATA_KEY_ID = new, "k2"
    settings.RIGHTSDESK_DATA_KEYS_OLD = f"k1:{old}"
    assert crypto.key_ring().current_id == "k2"
    assert crypto.unwrap_key(wrapped=wrapped, kek_id="k1", associated_data=b"ad") == b"k" * 32

    settings.RIGHTSDESK_DATA_KEYS_OLD = ""
    with pytest.raises(KeyEncryptionKeyUnknown) as unknown:
        crypto.unwrap_key(wrapped=wrapped, kek_id="k1", associated_data=b"ad")
    assert unknown.value.code == "kek_unknown"
    assert unknown.value.extra == {"kek_id": "k1"}


@pytest.mark.parametrize(
    "current, old",
    [
        ("bm90IDMyIGJ5dGVz", ""),  # "not 32 bytes"
        ("%%%", ""),
        (None, "k0"),  # an entry without a key
        (None, "k0:bm90IDMyIGJ5dGVz"),
        (None, "k9:{other}"),  # another key under the current id
    ],
)
def test_a_malformed_key_setting_is_a_configuration_error(settings, current, old):
    settings.RIGHTSDESK_DATA_KEY_ID = "k9"
    settings.RIGHTSDESK_DATA_KEY = current or b64key()
    settings.RIGHTSDESK_DATA_KEYS_OLD = old.format(other=b64key())
    with pytest.raises(ImproperlyConfigured):
        crypto.key_ring()

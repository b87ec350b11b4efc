import hashlib

import pytest

from rightsdesk.consent import notices
from rightsdesk.consent.models import ConsentKind, ConsentNotice
from rightsdesk.consent.notices import consent_notice_current


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [ConsentKind.CAPTURE, ConsentKind.TRAIN])
def test_the_current_notice_is_made_once_with_the_hash_of_its_exact_text(kind):
    first = consent_notice_current(kind=kind, language="en")
    again = consent_notice_current(kind=kind, language="en")

    assert again.pk == first.pk
    assert ConsentNotice.objects.filter(kind=kind).count() == 1
    assert first.sha256 == hashlib.sha256(first.text.encode("utf-8")).hexdigest()
    assert (first.language, first.version) == ("en", 1)


@pytest.mark.django_db
def test_the_notices_say_what_they_cover_that_they_stand_alone_and_how_to_withdraw():
    capture = consent_notice_current(kind=ConsentKind.CAPTURE).text.lower()
    train = consent_notice_current(kind=ConsentKind.TRAIN).text.lower()

    for text in (capture, train):
        assert "separate consent" in text and "not part of any contract" in text
        assert "your agency cannot give it" in text
        assert "withdraw this consent at any time" in text and "takes effect at once" in text
    assert "photographs of your face and body" in capture
    assert "base model named on this consent" in train
    assert "other base model needs a new consent" in train
    assert "retired" in train


@pytest.mark.django_db
def test_a_language_without_a_translation_is_served_in_english_and_says_so():
    notice = consent_notice_current(kind=ConsentKind.CAPTURE, language="de")

    assert notice.language == "en"
    assert notice == consent_notice_current(kind=ConsentKind.CAPTURE, language="en")


@pytest.mark.django_db
def test_an_edited_text_under_the_same_version_is_refused(monkeypatch):
    consent_notice_current(kind=ConsentKind.CAPTURE)
    version, text = notices._NOTICES[ConsentKind.CAPTURE]
    monkeypatch.setitem(notices._NOTICES, ConsentKind.CAPTURE, (version, text + "Edited.\n"))

    with pytest.raises(RuntimeError, match="without a new version"):
        consent_notice_current(kind=ConsentKind.CAPTURE)

    assert ConsentNotice.objects.get(kind=ConsentKind.CAPTURE).text == text


@pytest.mark.django_db
def test_a_new_version_is_a_new_row_and_the_old_one_stays(monkeypatch):
    old = consent_notice_current(kind=ConsentKind.TRAIN)
    version, text = notices._NOTICES[ConsentKind.TRAIN]
    monkeypatch.setitem(notices._NOTICES, ConsentKind.TRAIN, (version + 1, text + "More.\n"))

    new = consent_notice_current(kind=ConsentKind.TRAIN)

    assert new.version == version + 1 and new.pk != old.pk
    old.refresh_from_db()
    assert old.text == text

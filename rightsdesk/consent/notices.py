"""The stand-alone notices a principal answers to consent to capture and to training.

The texts live in code, not in a migration: transactional tests TRUNCATE migrated rows
(PITFALLS.md), so ``consent_notice_current`` upserts the row it serves. Each text has a
version; change a word and the version must go up, because a consent points at the exact
text (and its SHA-256) that was shown (Ethyca Fides). Translations come through Django's
i18n: a language without a translation is served the English text, labelled "en", so a
notice never claims a language it is not written in.
"""

import hashlib

from django.utils import translation
from django.utils.translation import gettext

from rightsdesk.consent.models import ConsentKind, ConsentNotice
from rightsdesk.core.errors import ValidationFailed

DEFAULT_LANGUAGE = "en"

# kind -> (current version, text). The texts are gettext msgids: keep them as they are
# once released, and bump the version with any change.
_NOTICES: dict[str, tuple[int, str]] = {
    ConsentKind.CAPTURE: (
        1,
        "Consent to capture your likeness (notice: capture, version 1)\n"
        "\n"
        "This is a separate consent. It is not part of any contract, agreement or licence, "
        "and no agreement or licence can give it for you. Only you can give it, or your "
        "guardian if you are a minor, or your estate. Your agency cannot give it, whatever "
        "your agreement with them says.\n"
        "\n"
        "What is captured: photographs of your face and body, from many angles, in the "
        "capture session named on this consent.\n"
        "\n"
        "What it is for: the images are kept, encrypted, so that a likeness of you can be "
        "trained from them. Training needs a second, separate consent from you. The images "
        "are never used for anything else.\n"
        "\n"
        "You can withdraw this consent at any time. Withdrawal takes effect at once: no "
        "new capture or training uses these images, and the images are destroyed. Images "
        "that brands released under licences you accepted before then stay governed by "
        "those licences.\n",
    ),
    ConsentKind.TRAIN: (
        1,
        "Consent to train a likeness of you (notice: train, version 1)\n"
        "\n"
        "This is a separate consent. It is not part of any contract, agreement or licence, "
        "and no agreement or licence can give it for you. Only you can give it, or your "
        "guardian if you are a minor, or your estate. Your agency cannot give it, whatever "
        "your agreement with them says.\n"
        "\n"
        "What is trained: a likeness model (an adapter) made from your capture images, on "
        "the base model named on this consent. Training on any other base model needs a "
        "new consent from you.\n"
        "\n"
        "What it is for: a brand can make images with your likeness only under a licence "
        "that you, or an agent you gave that power, accepted for that use, and only after "
        "you have approved the likeness from sample images.\n"
        "\n"
        "You can withdraw this consent at any time. Withdrawal takes effect at once: every "
        "likeness trained on that base model is retired, nothing new is made with it, and "
        "its data is destroyed. Images that brands released under licences you accepted "
        "before then stay governed by those licences.\n",
    ),
}


def notice_sha256(text: str) -> str:
    """The SHA-256 of the exact text, as UTF-8, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def notice_text(*, kind: str, language: str) -> tuple[int, str, str]:
    """``(version, language served, text)`` for the current notice of ``kind``."""
    if kind not in _NOTICES:
        raise ValidationFailed(fields={"kind": [f"Unknown consent kind {kind!r}."]})
    version, source = _NOTICES[kind]
    language = (language or DEFAULT_LANGUAGE).lower()
    if language == DEFAULT_LANGUAGE:
        return version, DEFAULT_LANGUAGE, source
    with translation.override(language):
        translated = gettext(source)
    if translated == source:
        return version, DEFAULT_LANGUAGE, source
    return version, language, translated


def consent_notice_current(*, kind: str, language: str = DEFAULT_LANGUAGE) -> ConsentNotice:
    """The row for the current notice of ``kind`` in ``language`` (or English), made if
    missing. Two first callers may race: the unique constraint settles it."""
    version, served_language, text = notice_text(kind=kind, language=language)
    sha256 = notice_sha256(text)
    # get_or_create catches the IntegrityError of a lost race and reads the winner's row.
    notice, _ = ConsentNotice.objects.get_or_create(
        kind=kind,
        version=version,
        language=served_language,
        defaults={"text": text, "sha256": sha256},
    )
    if notice.sha256 != sha256:
        # A consent must point at the text that was shown: an edited text needs a new version.
        raise RuntimeError(
            f"The {kind} notice v{version} ({served_language}) changed without a new version."
        )
    return notice

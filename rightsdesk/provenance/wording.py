"""The plain-language wording of a verification, in one place for the page, the API and
the command. Every sentence goes through Django's translation machinery; dates are
formatted for the active language.

The card never carries licence references, prices or term details, and a possible match
never carries talent details: these functions are only given what may be shown.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from rightsdesk.provenance import types

if TYPE_CHECKING:
    from rightsdesk.provenance.types import Card, PossibleMatch

_SUMMARIES = {
    types.TRUSTED: gettext_noop(
        "Content Credentials verified: signed by an issuer this service trusts, and "
        "unchanged since it was signed."
    ),
    types.VALID_UNTRUSTED: gettext_noop(
        "Content Credentials intact, but signed by an issuer this service does not recognise."
    ),
    types.INVALID: gettext_noop(
        "Content Credentials present but invalid: the file was changed after it was signed, "
        "or the signature does not match."
    ),
    types.NO_CREDENTIALS: gettext_noop("No Content Credentials embedded in this file."),
    types.POSSIBLE_MATCH: gettext_noop(
        "No credentials in this file, but it closely resembles an image published with credentials."
    ),
}


def _date(value: datetime) -> str:
    return date_format(value, "DATE_FORMAT", use_l10n=True)


def state_summary(state: str) -> str:
    return _(_SUMMARIES[state])


def card_lines(card: "Card") -> list[str]:
    lines = [
        _(
            "AI-generated image of a real person: the digital twin of a real model, made and "
            "used with the model's permission."
        )
    ]
    if card.stage_name:
        lines.append(_("The model: %(name)s") % {"name": card.stage_name})
    if card.approved_exact_image:
        lines.append(_("The model approved this exact image."))
    else:
        lines.append(_("The model approved the use, not this exact image."))
    lines.append(_("Published by %(brand)s.") % {"brand": card.brand})
    lines.append(
        _("Signed on %(date)s by %(issuer)s.")
        % {"date": _date(card.signed_at), "issuer": card.issuer}
    )
    until = _date(card.permission_until)
    if card.permission == types.PERMISSION_CURRENT:
        lines.append(_("Permission current."))
    elif card.permission == types.PERMISSION_ENDING:
        lines.append(
            _(
                "Permission ending on %(date)s: the model withdrew it, and the image may stay "
                "in use until then."
            )
            % {"date": until}
        )
    else:
        lines.append(_("Permission ended on %(date)s.") % {"date": until})
    return lines


def report_prompt() -> str:
    return _("Seen in use after that date? Report it.")


def possible_match_lines(match: "PossibleMatch") -> list[str]:
    return [
        _(
            "No credentials in this file, but it closely resembles an image published with "
            "credentials by %(brand)s; this is a similarity match, not proof."
        )
        % {"brand": match.brand}
    ]


def remote_manifest_finding(url: str | None) -> str:
    if url:
        return _(
            "Its credentials are stored at a remote address (%(url)s), which was not fetched."
        ) % {"url": url}
    return _("Its credentials are stored at a remote address, which was not fetched.")


_ERRORS = {
    "empty_file": gettext_noop("The file is empty."),
    "unsupported_format": gettext_noop(
        "This is not an image we can verify: use a JPEG, PNG, WebP, TIFF or AVIF file."
    ),
    "corrupt_image": gettext_noop("The image is corrupt or truncated."),
    "image_too_large": gettext_noop("The image is too large to verify here."),
}


def error_text(code: str, default: str) -> str:
    text = _ERRORS.get(code)
    return _(text) if text else default

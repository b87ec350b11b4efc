"""Refusals in plain words, for the pages' forms.

A service refuses with a stable code and a few fields in ``extra`` (core/errors.py). The
pages explain each refusal from those, in the reader's language, rather than echo the
service's English message. For an exclusivity conflict only the redacted overlap the
error carries is used (category, countries, period): never its message, and never who
holds the exclusivity, which is another brand's deal (DESIGN.md, "Who uses it").
"""

import re
from datetime import UTC, datetime

from django.utils import dateformat
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from rightsdesk.core.errors import ApplicationError

# A field of one row of a list: "usage[0].territories", "exclusivities[1]".
_ROW = re.compile(r"^(\w+)\[(\d+)\]\.?(.*)$")


def _day(value: str | datetime | None) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    if moment is None:
        return str(value or "")
    return dateformat.format(moment.astimezone(UTC), "j M Y")


def _outside_agreement(extra: dict, category: str) -> list[str]:
    field, limit = extra.get("field", ""), extra.get("limit")
    if field == "starts_at":
        return [
            _("The licence would start before the agreement takes effect (%(date)s).")
            % {"date": _day(limit)}
        ]
    if field == "ends_at" and isinstance(limit, int):
        return [
            _(
                "The licence would run longer than the agreement's longest licence, "
                "%(days)s. Shorten it, or amend the agreement first."
            )
            % {"days": ngettext("%(n)d day", "%(n)d days", limit) % {"n": limit}}
        ]
    if field == "ends_at":
        return [
            _("The licence would end after the agreement does (%(date)s).") % {"date": _day(limit)}
        ]
    if (match := _ROW.match(field)) and match.group(1) == "usage":
        return [
            _(
                "Usage row %(row)d would keep images in use longer than the agreement's "
                "longest licence, %(days)s days from first publication."
            )
            % {"row": int(match.group(2)) + 1, "days": limit}
        ]
    if field == "category":
        return [
            _(
                "The agreement never allows this category (%(category)s): choose another, or "
                "amend the agreement first."
            )
            % {"category": category or "-"}
        ]
    return [_("The licence does not fit the agreement's terms.")]


def _exclusivity(extra: dict) -> list[str]:
    lines = [
        _(
            "The talent has already granted an exclusivity that overlaps this use. Who holds "
            "it is not shown: it is another party's deal."
        )
    ]
    for conflict in extra.get("conflicts") or []:
        lines.append(
            _("Overlap: %(category)s in %(territories)s, from %(start)s to %(end)s.")
            % {
                "category": conflict.get("category_name") or conflict.get("category", ""),
                "territories": ", ".join(conflict.get("territories") or []),
                "start": _day(conflict.get("starts_at")),
                "end": _day(conflict.get("ends_at")),
            }
        )
    return lines


def _fields(extra: dict, labels: dict[str, str]) -> list[str]:
    lines = []
    for name, errors in sorted((extra.get("fields") or {}).items()):
        if match := _ROW.match(name):
            base, index, inner = match.groups()
            label = f"{labels.get(base, base)} {int(index) + 1}"
            label = f"{label}, {labels.get(inner, inner)}" if inner else label
        else:
            label = labels.get(name, name)
        for error in errors if isinstance(errors, list) else [errors]:
            lines.append(f"{label}: {error}")
    return lines or [_("Some fields are invalid.")]


def refusal_lines(
    exc: ApplicationError, *, labels: dict[str, str] | None = None, category: str = ""
) -> list[str]:
    """What ``exc`` means for the person who filled the form, one sentence a line.
    ``labels`` names the form's fields by the service's field names; ``category`` is the
    name of the category the form asked for."""
    extra, code = exc.extra, exc.code
    if code == "licence_outside_agreement":
        return _outside_agreement(extra, category)
    if code == "exclusivity_conflict":
        return _exclusivity(extra)
    if code == "validation_error":
        return _fields(extra, labels or {})
    simple = {
        "agreement_inactive": _(
            "The agreement is not in force: every party must sign a version before a "
            "licence can be proposed under it."
        ),
        "licence_term_above_cap": _(
            "The longest licence may be at most %(days)s days on this instance."
        ),
        "agreement_beyond_majority": _(
            "For a minor the agreement must end by the day they come of age (%(date)s)."
        ),
        "category_globally_never": _(
            "The category %(category)s is never allowed, whatever an agreement says."
        ),
        "signature_hash_mismatch": _(
            "This version is not the one you read: reload the page and read it again."
        ),
        "version_not_signable": _(
            "Version %(version)s can no longer be signed: it is superseded, ended or past "
            "its end date."
        ),
        "already_signed": _("Your side has already signed this version."),
        "invalid_transition": exc.message,
    }
    if code in simple:
        values = {
            "days": extra.get("max_days", ""),
            "date": _day(extra.get("comes_of_age_on")),
            "category": extra.get("category", ""),
            "version": extra.get("version", ""),
        }
        return [simple[code] % values if "%(" in simple[code] else simple[code]]
    return [exc.message]

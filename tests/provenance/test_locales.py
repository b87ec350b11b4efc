"""Wording per language: the catalogues of provenance (French, German), the visible label a
German release carries, the card a German visitor reads on the page and in the API, and
the verify page's own text (what "possible match" means) in every language."""

import ast
import datetime
import gettext
import html
import io
import re
import uuid
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation
from django.utils.formats import date_format
from PIL import Image

from rightsdesk.consent.gate_types import Obligation
from rightsdesk.consent.obligations import FLOOR
from rightsdesk.provenance import marks, types
from tests.provenance.conftest import signed_bytes

LOCALE = Path(marks.__file__).resolve().parent / "locale"
TEMPLATES = Path(settings.BASE_DIR) / "templates" / "provenance"
LANGUAGES = sorted(code for code, _name in settings.LANGUAGES if code != "en")


def _po_catalogue(path: Path) -> dict[str, str]:
    """msgid -> msgstr of a .po file (no plurals or contexts: provenance uses none)."""
    catalogue, key, field = {}, None, None
    entry: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if line.startswith(("msgid ", "msgstr ")):
            field, _, rest = line.partition(" ")
            entry[field] = ast.literal_eval(rest)
        elif line.startswith('"') and field:
            entry[field] += ast.literal_eval(line)
        elif not line.strip() and "msgstr" in entry:
            key = entry["msgid"]
            catalogue[key] = entry["msgstr"]
            entry, field = {}, None
    catalogue.pop("", None)  # the header
    return catalogue


def _mo_catalogue(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        catalogue = dict(gettext.GNUTranslations(handle)._catalog)
    catalogue.pop("", None)
    return catalogue


def test_every_language_has_a_complete_catalogue_and_its_compiled_file_is_current():
    catalogues = {}
    for language in LANGUAGES:
        folder = LOCALE / language / "LC_MESSAGES"
        po, mo = _po_catalogue(folder / "django.po"), _mo_catalogue(folder / "django.mo")
        assert mo == po, f"{language}: django.mo is stale, run msgfmt -c -o django.mo django.po"
        assert all(po.values()), f"{language}: untranslated entries"
        catalogues[language] = po
    assert len({frozenset(c) for c in catalogues.values()}) == 1  # the same msgids everywhere


def _card(**changes) -> types.Card:
    values = {
        "asset_id": uuid.uuid4(),
        "status_url": "http://testserver/verify/a/x",
        "brand": "Maison Test",
        "stage_name": "Alice A.",
        "approved_exact_image": True,
        "signed_at": datetime.datetime(2027, 3, 4, tzinfo=datetime.UTC),
        "issuer": "Rightsdesk (development)",
        "permission": types.PERMISSION_CURRENT,
        "permission_until": datetime.datetime(2027, 9, 1, tzinfo=datetime.UTC),
        "report_url": None,
    }
    return types.Card(**{**values, **changes})


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sentence_of_a_verification_has_its_own_wording(language):
    cards = [
        _card(),
        _card(approved_exact_image=False, permission=types.PERMISSION_ENDING),
        _card(permission=types.PERMISSION_ENDED),
    ]
    match = types.PossibleMatch(brand="Maison Test", method="watermark")

    def everything() -> list[str]:
        from rightsdesk.provenance import wording

        texts = [line for card in cards for line in card.lines()] + match.lines()
        texts += [wording.state_summary(state) for state in types.STATES]
        texts += [wording.report_prompt(), wording.remote_manifest_finding(None)]
        codes = ("empty_file", "unsupported_format", "corrupt_image", "image_too_large")
        return texts + [wording.error_text(code, "") for code in codes]

    with translation.override("en"):
        english = everything()
    with translation.override(language):
        translated = everything()

    untranslated = [t for t, e in zip(translated, english, strict=True) if t == e]
    assert untranslated == []


# The verify page's own text


def _template_msgids(path: Path) -> list[str]:
    """The msgids a template asks for: {% translate %}, {% blocktranslate %} (a variable
    becomes %(name)s, as Django writes it) and _("...") in a filter's argument."""
    text = path.read_text(encoding="utf-8")
    msgids = re.findall(r"""\{% translate (["'])(.+?)\1 %\}""", text)
    msgids = [msgid for _quote, msgid in msgids]
    msgids += re.findall(r'_\("(.+?)"\)', text)
    for body in re.findall(r"\{% blocktranslate %\}(.+?)\{% endblocktranslate %\}", text, re.S):
        msgids.append(re.sub(r"\{\{ (\w+) \}\}", r"%(\1)s", body.replace("%", "%%")))
    return msgids


VERIFY_PAGE_MSGIDS = [
    msgid for name in ("verify.html", "_card.html") for msgid in _template_msgids(TEMPLATES / name)
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_string_of_the_verify_page_has_its_own_wording(language):
    assert "What does “possible match” mean?" in VERIFY_PAGE_MSGIDS  # the parser sees it
    assert "JPEG, PNG, WebP, TIFF or AVIF, up to %(max_mb)s MB." in VERIFY_PAGE_MSGIDS

    with translation.override(language):
        untranslated = [
            msgid for msgid in VERIFY_PAGE_MSGIDS if translation.gettext(msgid) == msgid
        ]

    assert untranslated == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "heading", "advice"),
    [
        ("fr", "Que signifie «\u00a0correspondance possible\u00a0»\u00a0?", "demandez le fichier"),
        ("de", "Was bedeutet „mögliche Übereinstimmung“?", "bitten Sie den Herausgeber"),
    ],
)
def test_a_visitor_reads_what_a_possible_match_means_in_their_language(language, heading, advice):
    response = Client().get("/verify/", HTTP_ACCEPT_LANGUAGE=language)

    body = html.unescape(response.content.decode())
    assert f'<html lang="{language}">' in body
    assert heading in body and advice in body
    explanation = [m for m in VERIFY_PAGE_MSGIDS if "possible match" in m or "stripped" in m]
    explanation += [m for m in VERIFY_PAGE_MSGIDS if m.startswith(("When a file", "To be sure"))]
    assert len(explanation) == 5
    with translation.override(language):
        assert all(translation.gettext(msgid) in body for msgid in explanation)
    assert [msgid for msgid in explanation if msgid in body] == []  # no English left
    assert "Skip to content" not in body


# German


def _german_obligations() -> list[Obligation]:
    """The gate's floor for a licence used in Germany (the label in German)."""
    chosen = []
    for rule in FLOOR:
        if rule.code == "images_virtuelles":
            continue
        params = dict(rule.params)
        if rule.code == "visible_label":
            params.update(territories=["DE"], languages=["de"])
        chosen.append(Obligation(code=rule.code, params=params))
    return chosen


@pytest.mark.django_db
def test_a_german_release_carries_the_german_label(sign, photo_png):
    record = sign(obligations=_german_obligations(), language="de")
    signed = np.asarray(Image.open(io.BytesIO(signed_bytes(record))).convert("RGB"), np.int16)
    original = Image.open(io.BytesIO(photo_png)).convert("RGB")

    def drawn(lines: list[str]) -> np.ndarray:
        return np.asarray(marks.draw_label(original, lines)[0], np.int16)

    box = marks.draw_label(original, ["KI-generiertes Bild"])[1]
    region = (slice(box.top, box.bottom), slice(box.left, box.right))

    def distance(lines: list[str]) -> float:
        return float(np.abs(signed[region] - drawn(lines)[region]).mean())

    assert record.language == "de"
    label = next(e for e in record.obligations if e["code"] == "visible_label")
    assert label["label"] == ["KI-generiertes Bild"]
    # The pixels are the German label's, give or take the watermark (a few grey levels).
    assert distance(["KI-generiertes Bild"]) < 2.0
    assert distance(["Image générée par IA"]) > 4 * distance(["KI-generiertes Bild"])


def _upload(data: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile("bild.png", data, content_type="image/png")


@pytest.mark.django_db
def test_a_german_visitor_gets_the_page_and_the_card_in_german(sign, deal):
    record = sign(language="de")

    response = Client().post(
        "/verify/", {"file": _upload(signed_bytes(record))}, HTTP_ACCEPT_LANGUAGE="de"
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="de">' in body
    assert "Ihre Datei wird geprüft und danach verworfen" in body
    assert "Content Credentials bestätigt" in body
    assert "KI-generiertes Bild einer realen Person" in body
    assert "Das Model hat genau dieses Bild freigegeben." in body
    assert f"Veröffentlicht von {deal.licence.brand.name}." in body
    with translation.override("de"):
        signed_on = date_format(timezone.localtime(record.created_at), "DATE_FORMAT")
    assert f"Signiert am {signed_on} von" in body
    assert "Erlaubnis gültig." in body
    assert "digital twin" not in body


@pytest.mark.django_db
def test_the_api_answers_a_german_client_in_german(api_client, sign):
    record = sign()

    response = api_client.post(
        "/api/v1/verify/",
        {"file": _upload(signed_bytes(record))},
        format="multipart",
        HTTP_ACCEPT_LANGUAGE="de",
    )

    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "trusted"  # the codes and states stay stable
    assert body["summary"].startswith("Content Credentials bestätigt")
    assert body["card"]["text"][0].startswith("KI-generiertes Bild einer realen Person")


@pytest.mark.django_db
def test_a_german_visitor_reads_refusals_in_german():
    response = Client().post("/verify/", {"file": _upload(b"kein Bild")}, HTTP_ACCEPT_LANGUAGE="de")

    assert response.status_code == 400
    assert "Das ist kein Bild, das wir prüfen können" in response.content.decode()

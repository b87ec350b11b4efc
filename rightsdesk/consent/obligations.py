"""The obligations an output carries: a rule pack keyed by territory and purpose.

The statutory floor is kept in code and applies whatever the database or an agreement
says: every output gets a C2PA manifest, IPTC DigitalSourceType ``trainedAlgorithmicMedia``
in XMP and an invisible watermark; a licence whose usage reaches the EEA adds a visible
label (EU AI Act art. 50(4); the 2026 Code of Practice asks for signed metadata plus an
imperceptible watermark, which the first three give); a licence for commercial influence
reaching France adds "Images virtuelles" (loi n° 2023-451, art. 5).

The ``ObligationRule`` rows let staff extend the floor, never weaken it: a row for a floor
code may change its parameters (the label's texts) and add territories or purposes; a
row with another code adds an obligation of its own. A missing floor row is read from
code, so the gate never writes; ``obligation_rules_ensure_defaults`` creates the rows for
staff to edit.

"Commercial influence" is decided from the licence's purpose: any word of it starting
with "influenc" (influence, influencer, influenceur...), plus any purpose a rule row lists.
The label goes by where the licence's usage rows reach, not where one asset is published
first: an asset may travel anywhere the licence reaches.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from rightsdesk.accounts.models import User
from rightsdesk.audit.services import audit_record
from rightsdesk.consent.gate_facts import LicenceFact, RuleFact
from rightsdesk.consent.gate_types import Obligation
from rightsdesk.consent.models import ObligationRule
from rightsdesk.core.errors import ValidationFailed
from rightsdesk.core.vocab import EEA, UnknownTerritory, expand_territory
from rightsdesk.talent.names import normalise_words

IPTC_TRAINED_ALGORITHMIC_MEDIA = (
    "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
)

# The AI Act label, in the official languages of the EEA (art. 50(4): "disclose that the
# content has been artificially generated").
VISIBLE_LABEL_TEXTS = {
    "bg": "Изображение, генерирано с ИИ",
    "cs": "Obrázek vytvořený umělou inteligencí",
    "da": "AI-genereret billede",
    "de": "KI-generiertes Bild",
    "el": "Εικόνα που δημιουργήθηκε με ΤΝ",
    "en": "AI-generated image",
    "es": "Imagen generada por IA",
    "et": "Tehisintellekti loodud pilt",
    "fi": "Tekoälyn luoma kuva",
    "fr": "Image générée par IA",
    "ga": "Íomhá ginte ag IS",
    "hr": "Slika generirana umjetnom inteligencijom",
    "hu": "MI által generált kép",
    "is": "Mynd búin til með gervigreind",
    "it": "Immagine generata dall'IA",
    "lt": "DI sugeneruotas vaizdas",
    "lv": "MI ģenerēts attēls",
    "mt": "Immaġni ġġenerata mill-IA",
    "nl": "Door AI gegenereerde afbeelding",
    "no": "KI-generert bilde",
    "pl": "Obraz wygenerowany przez SI",
    "pt": "Imagem gerada por IA",
    "ro": "Imagine generată de IA",
    "sk": "Obrázok vytvorený umelou inteligenciou",
    "sl": "Slika, ustvarjena z UI",
    "sv": "AI-genererad bild",
}
# The languages a label is shown in, per EEA country (official languages).
TERRITORY_LANGUAGES = {
    "AT": ("de",),
    "BE": ("nl", "fr", "de"),
    "BG": ("bg",),
    "HR": ("hr",),
    "CY": ("el",),
    "CZ": ("cs",),
    "DK": ("da",),
    "EE": ("et",),
    "FI": ("fi", "sv"),
    "FR": ("fr",),
    "DE": ("de",),
    "GR": ("el",),
    "HU": ("hu",),
    "IE": ("en", "ga"),
    "IT": ("it",),
    "LV": ("lv",),
    "LT": ("lt",),
    "LU": ("fr", "de"),
    "MT": ("mt", "en"),
    "NL": ("nl",),
    "PL": ("pl",),
    "PT": ("pt",),
    "RO": ("ro",),
    "SK": ("sk",),
    "SI": ("sl",),
    "ES": ("es",),
    "SE": ("sv",),
    "IS": ("is",),
    "LI": ("de",),
    "NO": ("no",),
}


@dataclass(frozen=True)
class FloorRule:
    code: str
    params: dict[str, Any]
    territories: frozenset[str] = frozenset()  # empty: everywhere
    influence_only: bool = False


FLOOR: tuple[FloorRule, ...] = (
    FloorRule(
        "c2pa_manifest",
        {"assertions": ["c2pa.actions.v2", "cawg.training-mining", "com.rightsdesk.disclosure"]},
    ),
    FloorRule(
        "iptc_digital_source_type",
        {"value": "trainedAlgorithmicMedia", "uri": IPTC_TRAINED_ALGORITHMIC_MEDIA, "in": "xmp"},
    ),
    FloorRule("invisible_watermark", {}),
    FloorRule(
        "visible_label",
        {"basis": "EU AI Act art. 50(4)", "texts": VISIBLE_LABEL_TEXTS},
        territories=frozenset(EEA),
    ),
    FloorRule(
        "images_virtuelles",
        {"basis": "Loi n° 2023-451 art. 5 (influence commerciale)", "text": "Images virtuelles"},
        territories=frozenset({"FR"}),
        influence_only=True,
    ),
)
FLOOR_CODES = frozenset(rule.code for rule in FLOOR)


def territory_codes(names: Iterable[str]) -> frozenset[str]:
    codes: set[str] = set()
    for name in names:
        codes |= expand_territory(name)
    return frozenset(codes)


def purpose_key(purpose: str) -> str:
    return "_".join(normalise_words(purpose))


def is_commercial_influence(purpose: str) -> bool:
    return any(word.startswith("influenc") for word in normalise_words(purpose))


@dataclass
class _Collected:
    params: dict[str, Any]
    territories: set[str] = field(default_factory=set)


def _reach(licence: LicenceFact) -> frozenset[str]:
    return frozenset(code for row in licence.usage for code in row.territory_codes)


def _floor_applies(
    rule: FloorRule, row: RuleFact | None, licence: LicenceFact, reach: frozenset[str]
) -> frozenset[str] | None:
    """The territories by which ``rule`` applies to ``licence`` (empty: everywhere), or None."""
    extra = row if row is not None and row.active else None
    territories = rule.territories | (territory_codes(extra.territories) if extra else set())
    if rule.influence_only:
        purposes = {purpose_key(p) for p in extra.purposes} if extra else set()
        if not (
            is_commercial_influence(licence.purpose) or purpose_key(licence.purpose) in purposes
        ):
            return None
    if not rule.territories:
        return frozenset()
    reached = reach & territories
    return reached or None


def _custom_applies(row: RuleFact, licence: LicenceFact, reach: frozenset[str]) -> bool:
    if row.purposes and purpose_key(licence.purpose) not in {purpose_key(p) for p in row.purposes}:
        return False
    return not row.territories or bool(reach & territory_codes(row.territories))


def obligations_for(licences: list[LicenceFact], rules: list[RuleFact]) -> tuple[Obligation, ...]:
    """The union of the obligations every licence of the request brings."""
    rows = {row.code: row for row in rules}
    collected: dict[str, _Collected] = {}
    for licence in licences:
        reach = _reach(licence)
        for rule in FLOOR:
            reached = _floor_applies(rule, rows.get(rule.code), licence, reach)
            if reached is None:
                continue
            row = rows.get(rule.code)
            params = {**rule.params, **(row.params if row is not None else {})}
            collected.setdefault(rule.code, _Collected(params)).territories |= reached
        for row in sorted(rules, key=lambda r: r.code):
            if row.code not in FLOOR_CODES and row.active and _custom_applies(row, licence, reach):
                entry = collected.setdefault(row.code, _Collected(dict(row.params)))
                entry.territories |= reach & territory_codes(row.territories)
    return tuple(_obligation(code, entry) for code, entry in collected.items())


def _obligation(code: str, entry: _Collected) -> Obligation:
    params = dict(entry.params)
    if entry.territories:
        params["territories"] = sorted(entry.territories)
    if code == "visible_label":
        languages = {
            language for t in entry.territories for language in TERRITORY_LANGUAGES.get(t, ())
        }
        params["languages"] = sorted(languages or {"en"})
    return Obligation(code=code, params=params)


# Writes (admin).


def obligation_rules_ensure_defaults() -> int:
    """Create the rows of the statutory floor that are missing; return how many."""
    existing = set(ObligationRule.objects.values_list("code", flat=True))
    missing = [
        ObligationRule(code=rule.code, params=rule.params, active=True)
        for rule in FLOOR
        if rule.code not in existing
    ]
    # ON CONFLICT DO NOTHING: two admins opening the list at once must not fail.
    ObligationRule.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def obligation_rule_validate(
    *, code: str, territories: object, purposes: object, params: object
) -> None:
    errors: dict[str, list[str]] = {}
    if not code or not code.replace("_", "").isalnum():
        errors["code"] = ["Letters, digits and underscores."]
    if not isinstance(territories, list) or not all(isinstance(t, str) for t in territories):
        errors["applies_to_territories"] = ["A list of territory codes or groups."]
    else:
        try:
            territory_codes(territories)
        except UnknownTerritory as exc:
            errors["applies_to_territories"] = [f"Unknown territory {exc}."]
    if not isinstance(purposes, list) or not all(isinstance(p, str) for p in purposes):
        errors["applies_to_purposes"] = ["A list of purposes."]
    if not isinstance(params, dict):
        errors["params"] = ["An object."]
    if errors:
        raise ValidationFailed(fields=errors)


@transaction.atomic
def obligation_rule_save(*, rule: ObligationRule, actor: User) -> ObligationRule:
    """Create or change a rule of the pack (staff, from the admin). A floor rule can be
    extended or reworded but not switched off: the code applies the floor regardless."""
    obligation_rule_validate(
        code=rule.code,
        territories=rule.applies_to_territories,
        purposes=rule.applies_to_purposes,
        params=rule.params,
    )
    created = rule.pk is None
    rule.save()
    audit_record(
        actor=actor,
        action="obligation_rule.created" if created else "obligation_rule.changed",
        target=rule,
        payload={
            "code": rule.code,
            "applies_to_territories": rule.applies_to_territories,
            "applies_to_purposes": rule.applies_to_purposes,
            "params": rule.params,
            "active": rule.active,
        },
    )
    return rule

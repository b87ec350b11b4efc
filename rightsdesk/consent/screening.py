"""Screening a brief: which categories, global bans and appearance changes it mentions.

Keyword screening is a first filter, not the control (DESIGN.md): output approval is. It
matches whole normalised words and word runs, never substrings ("ring" is not in "spring").
The brief is screened; the negative prompt only for asking to leave clothes out, the one
way a negative prompt asks for something (nudity) rather than against it.
"""

from dataclasses import dataclass
from functools import lru_cache

from rightsdesk.talent.names import MAX_GRAM_WORDS, normalise_words, word_ngrams

# Always refused, whatever the database's taxonomy holds (it may have been truncated or
# edited): the default tree has the same words as global "never" categories.
GLOBAL_SCREENS: dict[str, tuple[str, ...]] = {
    "nudity": (
        "nude",
        "nudes",
        "nudity",
        "naked",
        "topless",
        "bottomless",
        "undressed",
        "unclothed",
        "explicit",
        "pornographic",
        "porn",
        "erotic",
    ),
    "minors": (
        "child",
        "children",
        "kid",
        "kids",
        "minor",
        "minors",
        "underage",
        "schoolgirl",
        "schoolboy",
        "teen",
        "teenager",
        "preteen",
        "toddler",
        "young girl",
        "young boy",
    ),
}
NEGATIVE_PROMPT_NUDITY = ("clothes", "clothing", "clothed", "dressed", "garment", "garments")

# Appearance limits recorded on a likeness (LikenessVersion.appearance_limits, a list of
# these codes, or of {"code": ...}) and the phrases that ask for the forbidden change.
APPEARANCE_LIMIT_PHRASES: dict[str, tuple[str, ...]] = {
    "body_reshaping": (
        "slimmer",
        "thinner",
        "skinnier",
        "slimmed",
        "fatter",
        "bigger body",
        "bigger hips",
        "larger body",
        "curvier",
        "more muscular",
        "weight loss",
        "lose weight",
        "gain weight",
        "smaller waist",
        "bigger breasts",
        "larger breasts",
        "longer legs",
        "taller",
        "reshape",
        "reshaped",
        "body reshaping",
    ),
    "skin_tone": (
        "lighter skin",
        "darker skin",
        "whiter skin",
        "paler skin",
        "fairer skin",
        "skin whitening",
        "skin lightening",
        "skin darkening",
        "lighten skin",
        "darken skin",
        "change skin tone",
        "different skin tone",
    ),
    "age_change": (
        "younger",
        "older",
        "de aged",
        "deaged",
        "aged up",
        "age progression",
        "age regression",
        "age change",
        "elderly",
        "as a child",
    ),
    "tattoo_removal": (
        "remove tattoo",
        "remove tattoos",
        "remove the tattoo",
        "remove the tattoos",
        "removed tattoos",
        "tattoos removed",
        "without tattoo",
        "without tattoos",
        "without the tattoo",
        "without the tattoos",
        "no tattoo",
        "no tattoos",
        "tattoo free",
        "erase tattoo",
        "erase tattoos",
        "hide tattoos",
    ),
    "facial_features": (
        "smaller nose",
        "bigger lips",
        "fuller lips",
        "thinner lips",
        "nose job",
        "different face",
        "reshape face",
        "face reshaping",
        "sharper jawline",
    ),
}


@dataclass(frozen=True, slots=True)
class Brief:
    words: tuple[str, ...]
    grams: frozenset[str]  # word n-grams of 1..MAX_GRAM_WORDS words

    @classmethod
    def of(cls, text: str) -> "Brief":
        words = normalise_words(text)
        return cls(tuple(words), frozenset(word_ngrams(words)))

    def mentions(self, phrase: str) -> bool:
        key = phrase_key(phrase)
        if not key:
            return False
        if key.count(" ") < MAX_GRAM_WORDS:
            return key in self.grams
        return f" {key} " in f" {' '.join(self.words)} "


@lru_cache(maxsize=4096)
def phrase_key(phrase: str) -> str:
    return " ".join(normalise_words(phrase))


def first_mention(brief: Brief, phrases) -> str | None:
    return next((phrase for phrase in phrases if brief.mentions(phrase)), None)


def global_screen_hits(brief: Brief, negative: Brief) -> list[tuple[str, str]]:
    """``(screen, phrase)`` for every global ban the brief (or negative prompt) hits."""
    hits = [
        (screen, phrase)
        for screen, phrases in GLOBAL_SCREENS.items()
        if (phrase := first_mention(brief, phrases))
    ]
    if not any(screen == "nudity" for screen, _ in hits):
        phrase = first_mention(negative, NEGATIVE_PROMPT_NUDITY)
        if phrase:
            hits.append(("nudity", f"negative prompt: {phrase}"))
    return hits


def limit_codes(appearance_limits) -> list[str]:
    codes = []
    for limit in appearance_limits or ():
        code = limit.get("code") if isinstance(limit, dict) else limit
        if isinstance(code, str) and code:
            codes.append(code)
    return codes


def appearance_hits(brief: Brief, appearance_limits) -> list[tuple[str, str]]:
    """``(limit code, phrase)`` for every appearance limit the brief asks to break."""
    hits = []
    for code in limit_codes(appearance_limits):
        phrases = APPEARANCE_LIMIT_PHRASES.get(code, (code.replace("_", " "),))
        phrase = first_mention(brief, phrases)
        if phrase:
            hits.append((code, phrase))
    return hits

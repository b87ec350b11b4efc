"""The name index the gate screens briefs against (TalentNameGram).

A name and a brief are normalised the same way (NFKD, combining marks stripped, casefolded,
letters and digits kept, anything else splits words), so "ZOÉ durand" in a brief meets the
row for "Zoe Durand" in one indexed lookup of the brief's word n-grams. Only whole names are
indexed, not their parts: "Durand" alone does not name Zoé Durand. Non-Latin letters are
kept (a name in Cyrillic or Han must still match), unlike the category keywords' ASCII fold,
which gives the same words for every keyword we ship.
"""

import unicodedata

# Briefs are cut into n-grams of up to this many words; a longer name is indexed by its
# first four words and by its first and last word ("Maria del Carmen Garcia Lopez" is
# written "Maria Lopez" as often as in full).
MAX_GRAM_WORDS = 4


def normalise_words(text: str) -> list[str]:
    """The words of ``text``: NFKD, accents stripped, casefolded, split on non-alphanumerics."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    folded = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    # casefold can itself produce combining marks ("İ" -> "i̇"); alnum drops them.
    return "".join(ch if ch.isalnum() else " " for ch in folded).split()


def word_ngrams(words: list[str], max_words: int = MAX_GRAM_WORDS) -> set[str]:
    """Every run of 1..max_words consecutive words, joined by single spaces."""
    grams: set[str] = set()
    for size in range(1, max_words + 1):
        for start in range(len(words) - size + 1):
            grams.add(" ".join(words[start : start + size]))
    return grams


def name_grams(name: str) -> list[str]:
    """The index entries for one registered name (empty for a blank name)."""
    words = normalise_words(name)
    if not words:
        return []
    if len(words) <= MAX_GRAM_WORDS:
        return [" ".join(words)]
    return [" ".join(words[:MAX_GRAM_WORDS]), f"{words[0]} {words[-1]}"]

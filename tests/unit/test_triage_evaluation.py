"""The rules engine held to its measured quality on the held-out test split of the labelled
set (bench/triage/labelled.jsonl): a change that loses precision or a language fails here."""

import pytest

from bench.triage import LANGUAGES, evaluate, labelled

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def test_split() -> dict[str, dict[str, object]]:
    figures: dict[str, dict[str, object]] = evaluate()["test"]
    return figures


def test_the_set_is_large_enough_in_every_language() -> None:
    items = labelled()

    assert len(items) >= 320
    for language in LANGUAGES:
        assert sum(1 for item in items if item["language"] == language) >= 45
    assert 0.25 <= sum(1 for item in items if item["split"] == "test") / len(items) <= 0.4


def test_urgency_is_raised_precisely_on_the_test_split(
    test_split: dict[str, dict[str, float]],
) -> None:
    overall = test_split["all"]

    assert overall["urgency_precision"] >= 0.9
    assert overall["urgency_recall"] >= 0.6


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_language_is_left_at_chance(
    test_split: dict[str, dict[str, float]], language: str
) -> None:
    figures = test_split[language]

    # Chance is a third for sentiment and an eleventh for intent.
    assert figures["sentiment_accuracy"] >= 0.6
    assert figures["intent_accuracy"] >= 0.6


def test_overall_accuracy_on_the_test_split(test_split: dict[str, dict[str, float]]) -> None:
    assert test_split["all"]["sentiment_accuracy"] >= 0.75
    assert test_split["all"]["intent_accuracy"] >= 0.85

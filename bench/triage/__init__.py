"""The `rules` triage engine against the labelled set (`labelled.jsonl`): per language and
overall, sentiment accuracy, urgency precision and recall, intent accuracy, for the dev split
(the rules were tuned on it) and the held-out test split; and the engine's time per message.
`python -m bench.triage` prints the table; docs/TRIAGE.md explains it."""

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chalicelib.domain.triage.record import Intent, Triage, TriageContext, TriageMark
from chalicelib.domain.triage.rules import triage

LABELLED = Path(__file__).resolve().parent / "labelled.jsonl"
LANGUAGES = ("en", "hi", "ar", "hu", "id", "pt", "es")
SPLITS = ("dev", "test")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def labelled() -> list[dict[str, Any]]:
    return [json.loads(line) for line in LABELLED.read_text("utf-8").splitlines() if line]


def context_of(item: dict[str, Any]) -> TriageContext:
    """The conversation before the message, as the item's labels describe it."""
    previous = item.get("previous_intent")
    recent = (TriageMark(at=_EPOCH, mood=0, intent=Intent(previous)),) if previous else ()
    return TriageContext(unanswered=item["unanswered_before"], recent=recent)


def triaged(item: dict[str, Any]) -> Triage:
    return triage(item["text"], item["language"], context_of(item))


@dataclass
class Tally:
    messages: int = 0
    sentiment_right: int = 0
    intent_right: int = 0
    urgent_true: int = 0
    urgent_false: int = 0
    urgent_missed: int = 0
    wrong: list[str] = field(default_factory=list)

    def add(self, item: dict[str, Any], result: Triage) -> None:
        self.messages += 1
        sentiment_right = result.sentiment.value == item["sentiment"]
        intent_right = result.intent.value == item["intent"]
        raised = result.urgency.value != "none"
        self.sentiment_right += sentiment_right
        self.intent_right += intent_right
        self.urgent_true += raised and item["urgent"]
        self.urgent_false += raised and not item["urgent"]
        self.urgent_missed += item["urgent"] and not raised
        if not (sentiment_right and intent_right and raised == item["urgent"]):
            self.wrong.append(item["id"])

    def figures(self) -> dict[str, float | int | None]:
        raised = self.urgent_true + self.urgent_false
        labelled_urgent = self.urgent_true + self.urgent_missed
        return {
            "messages": self.messages,
            "sentiment_accuracy": self.sentiment_right / self.messages,
            "urgency_precision": self.urgent_true / raised if raised else None,
            "urgency_recall": self.urgent_true / labelled_urgent if labelled_urgent else None,
            "urgent_raised": raised,
            "urgent_labelled": labelled_urgent,
            "intent_accuracy": self.intent_right / self.messages,
        }


def evaluate() -> dict[str, Any]:
    """Figures per split, per language and overall; the ids of the messages got wrong."""
    tallies = {(split, language): Tally() for split in SPLITS for language in (*LANGUAGES, "all")}
    for item in labelled():
        result = triaged(item)
        tallies[item["split"], item["language"]].add(item, result)
        tallies[item["split"], "all"].add(item, result)
    return {
        split: {
            language: tallies[split, language].figures() | {"wrong": tallies[split, language].wrong}
            for language in (*LANGUAGES, "all")
        }
        for split in SPLITS
    }


def timing(rounds: int = 20) -> dict[str, float]:
    """Microseconds per message through the engine, tables built (median over rounds of
    the whole set), and for a text at the length the engine cuts to."""
    items = labelled()
    for item in items:
        triaged(item)
    per_round = []
    for _ in range(rounds):
        started = time.perf_counter()
        for item in items:
            triaged(item)
        per_round.append((time.perf_counter() - started) / len(items))
    per_round.sort()
    long_text = " ".join(item["text"] for item in items)
    started = time.perf_counter()
    triage(long_text, "en")
    return {
        "median_us_per_message": per_round[len(per_round) // 2] * 1e6,
        "longest_text_us": (time.perf_counter() - started) * 1e6,
    }


def measure() -> dict[str, Any]:
    return {"evaluation": evaluate(), "timing": timing()}


def _cell(value: float | int | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def table(results: dict[str, Any]) -> str:
    header = (
        "| split | language | messages | sentiment acc. | urgency precision "
        "| urgency recall | intent acc. |"
    )
    lines = [header, "|---|---|---:|---:|---:|---:|---:|"]
    for split in SPLITS:
        for language in (*LANGUAGES, "all"):
            f = results["evaluation"][split][language]
            recall = f"{_cell(f['urgency_recall'])} ({f['urgent_labelled']} urgent)"
            precision = f"{_cell(f['urgency_precision'])} ({f['urgent_raised']} raised)"
            lines.append(
                f"| {split} | {language} | {f['messages']} | {_cell(f['sentiment_accuracy'])} "
                f"| {precision} | {recall} | {_cell(f['intent_accuracy'])} |"
            )
    timing_figures = results["timing"]
    lines.append("")
    lines.append(
        f"Engine time: {timing_figures['median_us_per_message']:.0f} µs a message (median), "
        f"{timing_figures['longest_text_us']:.0f} µs for a text cut at its limit."
    )
    return "\n".join(lines)

"""`make bench`'s added cost per 1,000 messages of each engine: Comprehend's units as it
bills them, token estimates that grow with what is sent, and the rows the table prints."""

from bench.__main__ import table
from bench.ai_costs import (
    COMPREHEND_MIN_UNITS,
    MODELS,
    comprehend_units,
    conversations,
    costs,
    estimated_tokens,
)
from bench.triage import labelled
from chalicelib.triage_engines.bedrock_draft import draft_request


def test_comprehend_bills_units_of_100_characters_three_at_least_and_nothing_unread() -> None:
    assert comprehend_units("where is my order?", "en") == COMPREHEND_MIN_UNITS
    assert comprehend_units("x" * 450, "pt") == 5
    # The engine cuts the text at 2,000 characters before it sends it
    assert comprehend_units("x" * 9000, "es") == 20
    # Hungarian and Indonesian are not sent: the rules engine reads their mood
    assert comprehend_units("hol van a csomagom?", "hu") == 0


def test_tokens_grow_with_the_text_and_count_other_scripts_denser() -> None:
    model = MODELS["Claude 3 Haiku"].model_id
    short = estimated_tokens(draft_request(model, [("customer", "hi")], [], "en"))
    latin = estimated_tokens(draft_request(model, [("customer", "a" * 400)], [], "en"))
    devanagari = estimated_tokens(draft_request(model, [("customer", "क" * 400)], [], "hi"))
    assert short < latin < devanagari
    # 4 ASCII characters a token, 2 of another script
    assert abs((latin - short) - 100) <= 1
    assert abs((devanagari - latin) - 100) <= 1


def test_each_engine_costs_at_list_prices_rules_nothing() -> None:
    items = labelled()
    dollars = {name: figures["dollars"] for name, figures in costs(items).items()}
    assert dollars["rules"] == 0
    assert 0 < dollars["comprehend"] < 2.0
    for kind in ("bedrock", "summaries", "drafts"):
        assert 0 < dollars[f"{kind}, Amazon Nova Micro"] < dollars[f"{kind}, Claude 3 Haiku"]
    # Conversations of three customer messages, an agent's reply between them
    [(_language, lines), *_] = conversations(items)
    assert [author for author, _ in lines] == ["customer", "agent"] * 2 + ["customer"]


def test_the_table_prints_a_row_a_figure() -> None:
    results = {
        "ai_costs": {
            "cost_per_1000_messages": {"rules": {"dollars": 0.0}, "comprehend": {"dollars": 0.21}},
            "latency_ms": {
                "rules": 0.1,
                "comprehend": 1.0,
                "bedrock": 3.0,
                "summary": 2.0,
                "draft": 2.5,
            },
        }
    }
    printed = table(results)
    assert "+$ per 1,000 messages: comprehend" in printed
    assert "$0.21" in printed
    assert "+latency: draft (agent waits, stand-in)" in printed

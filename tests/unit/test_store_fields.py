"""A conversation's stored fields are declared once: every writer builds its update from that
list, so a field added there reaches each of them, and none lists fields by hand."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from pydantic import BaseModel

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.vocabulary import Channel
from chalicelib.store import conversations as stored_conversations
from chalicelib.store._table import Stored, Update, Write, Writer, apply_fields
from chalicelib.store.conversations import (
    CONVERSATION_FIELDS,
    COUNTED,
    FIXED_AT_CREATION,
    Conversations,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


class RecordingClient:
    """DynamoDB as far as the conversation's writers call it: every request kept, each
    accepted."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def update_item(self, **request: Any) -> dict[str, Any]:
        self.updates.append(request)
        return {}

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:
        self.updates += [item["Update"] for item in TransactItems if "Update" in item]
        return {}


def conversation() -> Conversation:
    return Conversation(
        shop_id="kavezo",
        conversation_id="conv-1",
        channel=Channel.SMS,
        customer_address="+34600111222",
        shop_address="+36201234567",
        created_at=NOW,
        last_customer_message_at=NOW,
        message_count=1,
        first_message_preview="Hola",
        version=3,
    )


def message() -> InboundMessage:
    return InboundMessage(
        shop_id="kavezo",
        channel=Channel.SMS,
        provider="twilio",
        provider_message_id="SM" + "a" * 32,
        customer_address="+34600111222",
        shop_address="+36201234567",
        text="Hola",
        received_at=NOW,
    )


def conversation_updates() -> dict[str, dict[str, Any]]:
    """The update each writer of a conversation sends, by writer."""
    writers: dict[str, Callable[[Conversations], object]] = {
        "record_inbound": lambda c: c.record_inbound(message(), conversation(), "1.2"),
        "save_state": lambda c: c.save_state(conversation()),
        "attach_slack_thread": lambda c: c.attach_slack_thread(conversation(), "T0", "C0", "1.1"),
    }
    written: dict[str, dict[str, Any]] = {}
    for writer, write in writers.items():
        client = RecordingClient()
        write(Conversations(cast(Any, client), "threadline"))
        [update] = [u for u in client.updates if u["Key"]["SK"]["S"] == "CONVERSATION"]
        written[writer] = update
    return written


def test_every_field_of_a_conversation_is_declared_once() -> None:
    # Given the fields the model has, and those the store declares
    declared = [field.name for field in CONVERSATION_FIELDS]

    # Then each is declared once: changed by its writers, fixed at creation, or counted
    assert len(declared) == len(set(declared))
    assert set(Conversation.model_fields) == set(declared) | FIXED_AT_CREATION | COUNTED
    assert not set(declared) & (FIXED_AT_CREATION | COUNTED)


def test_a_field_added_to_the_list_reaches_every_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a field declared as stored by every writer
    added = Stored("first_message_preview", {writer: Write.SET for writer in Writer})
    monkeypatch.setattr(stored_conversations, "CONVERSATION_FIELDS", (*CONVERSATION_FIELDS, added))

    # When each writer of a conversation writes
    written = conversation_updates()

    # Then each stores it
    for writer, update in written.items():
        assert "#first_message_preview = :first_message_preview" in update["UpdateExpression"], (
            writer
        )
        assert update["ExpressionAttributeValues"][":first_message_preview"] == {"S": "Hola"}


def test_each_writer_stores_the_fields_declared_for_it_and_no_other() -> None:
    # When each writer of a conversation writes
    written = conversation_updates()

    # Then the attributes it names are those the list gives it, with what it counts
    expected = {
        "record_inbound": Writer.CUSTOMER,
        "save_state": Writer.AGENTS,
        "attach_slack_thread": Writer.THREAD,
    }
    for writer, update in written.items():
        named = set(update["ExpressionAttributeNames"].values())
        declared = {f.name for f in CONVERSATION_FIELDS if expected[writer] in f.writes}
        assert named - {"message_count", "version"} <= declared, writer
        assert "version" in named, writer


class Sample(BaseModel):
    name: str | None = None
    tags: list[str] = []


@pytest.mark.parametrize(
    ("how", "value", "expression"),
    [
        (Write.SET, "x", "SET #name = :name"),
        (Write.SET_OR_REMOVE, "x", "SET #name = :name"),
        (Write.SET_OR_REMOVE, None, "REMOVE #name"),
        (Write.SET_GIVEN, "x", "SET #name = :name"),
        (Write.SET_GIVEN, None, ""),
        (Write.SET_FIRST, "x", "SET #name = if_not_exists(#name, :name)"),
        (Write.SET_FIRST, None, ""),
        (Write.REMOVE_EMPTY, None, "REMOVE #name"),
        (Write.REMOVE_EMPTY, "x", ""),
    ],
)
def test_a_field_is_written_as_its_declaration_says(
    how: Write, value: str | None, expression: str
) -> None:
    # Given a field and how a writer stores it
    fields = [Stored("name", {Writer.AGENTS: how})]

    # When that writer and another build their updates from a model
    model = Sample(name=value)
    own = apply_fields(Update(), fields, model, Writer.AGENTS)
    other = apply_fields(Update(), fields, model, Writer.CUSTOMER)

    # Then the writer stores it so, and the other leaves it as stored
    assert own.expression == expression
    assert other.expression == ""


def test_an_empty_list_is_removed_rather_than_stored() -> None:
    fields = [Stored("tags", {Writer.AGENTS: Write.SET_OR_REMOVE})]
    update = apply_fields(Update(), fields, Sample(), Writer.AGENTS)
    assert update.expression == "REMOVE #tags"

"""The inbound worker: customers' messages become Slack threads, one per conversation."""

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from app import app
from chalicelib.domain.errors import Retryable
from chalicelib.settings import INBOUND_QUEUE
from tests.fakes import FakeSlack, SlackPost
from tests.integration.conftest import PUBLIC_URL, stored_item
from tests.signing import (
    BOT_TOKEN,
    CHANNEL_ID,
    TEAM_ID,
    WHATSAPP_NUMBER,
    form,
    shop_document,
    slack_headers,
    slack_thread_reply,
    twilio_headers,
    twilio_message,
)

CUSTOMER = "+5511987654321"
WHATSAPP_CUSTOMER = f"whatsapp:{CUSTOMER}"
ARABIC = "مرحبا، أين طلبي؟"
HINDI = "मेरा ऑर्डर कहाँ है?"
EMOJI = "📦🚚✅👍🏽 👨‍👩‍👧"

CustomerWrites = Callable[..., dict[str, str]]


# A photo whose media URL the Twilio fake no longer serves.
UNFETCHABLE_PHOTO = {
    "NumMedia": "1",
    "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
    "MediaContentType0": "image/jpeg",
}


def texts(posts: list[SlackPost]) -> list[str]:
    return [post.message.text for post in posts]


def payload(post: SlackPost) -> str:
    """Everything Slack would render from a post: its fallback text and its blocks."""
    return post.message.text + json.dumps(post.message.blocks, ensure_ascii=False)


def inbound_queue_url() -> str:
    return str(boto3.client("sqs").get_queue_url(QueueName=INBOUND_QUEUE)["QueueUrl"])


@pytest.fixture
def customer_writes(client: Any, shop: str) -> CustomerWrites:
    """Delivers a customer's message, signed as Twilio signs it; returns its form fields."""
    path = f"/webhooks/twilio/{shop}"

    def write(sid_number: int, **fields: str) -> dict[str, str]:
        params = twilio_message(sid_number, **fields)
        response = client.http.post(
            path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
        )
        assert response.status_code == 200, response.body
        return params

    return write


@pytest.fixture
def agent_replies(client: Any) -> Callable[[str, str, str], None]:
    """Delivers an agent's thread reply as a signed Slack event."""

    def reply(thread_ts: str, ts: str, text: str) -> None:
        body = slack_thread_reply(thread_ts, ts, text)
        response = client.http.post("/slack/events", headers=slack_headers(body), body=body)
        assert response.status_code == 200, response.body

    return reply


def test_a_first_message_opens_a_thread_under_a_root_card_in_the_shops_channel(
    container, customer_writes, run_workers, slack: FakeSlack
):
    # Given a customer's first message
    params = customer_writes(1, Body="Olá! Onde está meu pedido?")

    # When the workers run
    run_workers()

    # Then one root card is posted in the shop's channel, with the message as its first reply
    [root] = slack.roots()
    assert (root.channel, root.token) == (CHANNEL_ID, BOT_TOKEN)
    assert CUSTOMER in root.message.text
    [reply] = slack.thread(root.ts)
    assert (reply.channel, reply.message.text) == (CHANNEL_ID, "Olá! Onde está meu pedido?")
    # And the conversation knows its thread
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation is not None
    assert (
        conversation.slack_team_id,
        conversation.slack_channel_id,
        conversation.slack_thread_ts,
    ) == (TEAM_ID, CHANNEL_ID, root.ts)
    assert conversation.message_count == 1
    # And the message is processed, with the ts of its Slack copy
    message = stored_item(f"SHOP#ana#MSG#twilio:{params['MessageSid']}", "MESSAGE")
    assert message is not None
    assert message["status"] == "processed"
    assert message["slack_ts"] == reply.ts
    assert message["conversation_id"] == conversation.conversation_id


def test_later_messages_of_the_same_customer_follow_in_the_same_thread_in_send_order(
    container, customer_writes, run_workers, slack: FakeSlack
):
    # Given five messages of the same customer, delivered one after the other
    sent = [f"mensagem {n}" for n in range(1, 6)]
    for number, text in enumerate(sent, start=1):
        customer_writes(number, Body=text)

    # When the workers run
    run_workers()

    # Then they share one thread, in the order the customer sent them
    [root] = slack.roots()
    assert texts(slack.thread(root.ts)) == sent
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation is not None
    assert conversation.message_count == 5


@pytest.mark.parametrize(
    ("second_sender", "second_fields", "same_customer"),
    [
        ("+5511900000002", {"From": "+5511900000002"}, False),
        (
            WHATSAPP_CUSTOMER,
            {"From": WHATSAPP_CUSTOMER, "To": f"whatsapp:{WHATSAPP_NUMBER}"},
            True,
        ),
    ],
    ids=["another customer", "same number on whatsapp"],
)
def test_another_customer_address_gets_its_own_conversation_and_thread(
    container,
    customer_writes,
    run_workers,
    slack: FakeSlack,
    second_sender,
    second_fields,
    same_customer,
):
    # Given a customer writing by SMS, and a second address writing too
    customer_writes(1, Body="primeiro")
    customer_writes(2, Body="segundo", **second_fields)

    # When the workers run
    run_workers()

    # Then each has its own conversation, each with its own thread
    first = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    second = container.store.conversations.find_open_conversation("ana", second_sender)
    assert first is not None
    assert second is not None
    assert first.conversation_id != second.conversation_id
    assert first.slack_thread_ts != second.slack_thread_ts
    assert len(slack.roots()) == 2
    assert texts(slack.thread(second.slack_thread_ts)) == ["segundo"]
    if not same_customer:
        assert texts(slack.thread(first.slack_thread_ts)) == ["primeiro"]
        assert second.previous_conversation_id is None
        return
    # The same person on another channel: the threads link to each other
    link = f"https://fake.slack.com/archives/C0SUPPORT/p{second.slack_thread_ts.replace('.', '')}"
    assert texts(slack.thread(first.slack_thread_ts)) == [
        "primeiro",
        f":arrow_right: The customer wrote again, on WhatsApp: <{link}|new conversation>.",
    ]
    assert second.previous_conversation_id == first.conversation_id
    [card] = [r for r in slack.roots() if r.ts == second.slack_thread_ts]
    assert "The customer wrote before, on SMS: <" in json.dumps(card.message.blocks)


def test_a_whatsapp_profile_name_shows_on_the_root_card(
    container, customer_writes, run_workers, slack: FakeSlack
):
    # Given a WhatsApp message with the customer's profile name
    customer_writes(
        1,
        From=WHATSAPP_CUSTOMER,
        To=f"whatsapp:{WHATSAPP_NUMBER}",
        ProfileName="Ana Souza",
        WaId=CUSTOMER.removeprefix("+"),
    )

    # When the workers run
    run_workers()

    # Then the root card names the customer, with the number, on WhatsApp
    [root] = slack.roots()
    assert f"\u2068Ana Souza\u2069 ({CUSTOMER})" in root.message.text
    assert f"*\u2068Ana Souza\u2069 ({CUSTOMER})*" in root.message.blocks[0]["text"]["text"]
    assert "WhatsApp" in payload(root)
    conversation = container.store.conversations.find_open_conversation("ana", WHATSAPP_CUSTOMER)
    assert conversation is not None
    assert conversation.customer_name == "Ana Souza"


def test_a_customer_cannot_ping_the_channel_or_forge_links_in_slack(
    customer_writes, run_workers, slack: FakeSlack
):
    # Given a WhatsApp customer whose name and message carry Slack control sequences
    customer_writes(
        1,
        From=WHATSAPP_CUSTOMER,
        To=f"whatsapp:{WHATSAPP_NUMBER}",
        ProfileName="<!channel> Ana",
        Body="<!here> <@U123> <https://evil.example|click>",
    )

    # When the workers run
    run_workers()

    # Then no posted payload contains a live mention or link, only their escaped text
    assert len(slack.posts) == 2
    for post in slack.posts:
        assert "<" not in payload(post)
        assert ">" not in payload(post)
    [root] = slack.roots()
    assert "&lt;!channel&gt; Ana" in root.message.text
    [reply] = slack.thread(root.ts)
    assert reply.message.text == ("&lt;!here&gt; &lt;@U123&gt; &lt;https://evil.example|click&gt;")


def test_arabic_hindi_and_emoji_reach_the_thread_intact(
    customer_writes, run_workers, slack: FakeSlack
):
    # Given messages in Arabic, in Hindi and in emoji
    for number, text in enumerate([ARABIC, HINDI, EMOJI], start=1):
        customer_writes(number, Body=text)

    # When the workers run
    run_workers()

    # Then each arrives exactly as written, in its text and its blocks
    [root] = slack.roots()
    thread = slack.thread(root.ts)
    assert texts(thread) == [ARABIC, HINDI, EMOJI]
    assert [post.message.blocks[0]["text"]["text"] for post in thread] == [ARABIC, HINDI, EMOJI]


def test_a_media_only_message_shows_an_attachment_line(
    customer_writes, run_workers, slack: FakeSlack
):
    # Given a photo with no text
    customer_writes(1, Body="", **UNFETCHABLE_PHOTO)

    # When the workers run
    run_workers()

    # Then the thread shows that an image was attached (here one Twilio no longer has)
    [root] = slack.roots()
    reply, missing = slack.thread(root.ts)
    assert "could not be fetched" in missing.message.text
    assert "Attachment" in reply.message.text
    assert "image/jpeg" in reply.message.text
    assert "empty message" not in reply.message.text


def _failing_once(monkeypatch: Any, target: object, name: str) -> None:
    """`target.name` raises a throttling error on its first call, then works."""
    original = getattr(target, name)
    failures = [Retryable("DynamoDB throttled")]

    def once_failing(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, once_failing)


def test_a_post_whose_note_failed_is_found_in_the_thread_not_posted_again(
    container, customer_writes, run_workers, slack: FakeSlack, monkeypatch
):
    # Given noting the post fails once, after the message is in its thread
    _failing_once(monkeypatch, container.store.inbound, "mark_posted")
    customer_writes(1, Body="primeiro")
    customer_writes(2, Body="segundo")

    # When the workers run (the failed record comes back and is retried)
    run_workers()

    # Then the retry found its post by its metadata: each message is in the thread once
    [root] = slack.roots()
    thread = slack.thread(root.ts)
    assert texts(thread) == ["primeiro", "segundo"]
    assert thread[0].message.metadata == {
        "event_type": "threadline_customer_message",
        "event_payload": {"message_key": "twilio:SM00000000000000000000000000000001"},
    }
    assert container.store.conversations.find_open_conversation("ana", CUSTOMER).message_count == 2


def test_a_card_whose_thread_could_not_be_stored_is_deleted_before_the_retry(
    container, customer_writes, run_workers, slack: FakeSlack, monkeypatch
):
    # Given storing a new conversation's thread fails once, after its card is posted
    _failing_once(monkeypatch, container.store.conversations, "attach_slack_thread")
    customer_writes(1, Body="primeiro")

    # When the workers run (the failed record comes back and is retried)
    run_workers()

    # Then the first card is gone and the message is in the second card's thread
    first, second = slack.roots()
    assert slack.deleted == [(first.channel, first.ts)]
    assert texts(slack.thread(second.ts)) == ["primeiro"]


def test_a_card_whose_thread_was_stored_but_unconfirmed_stays_the_thread(
    container, customer_writes, run_workers, slack: FakeSlack, monkeypatch
):
    # Given storing a new conversation's thread takes effect once but its answer is lost
    attach = container.store.conversations.attach_slack_thread
    lost = [Retryable("read timeout")]

    def attach_answer_lost(*args: Any, **kwargs: Any) -> Any:
        attached = attach(*args, **kwargs)
        if lost:
            raise lost.pop()
        return attached

    monkeypatch.setattr(container.store.conversations, "attach_slack_thread", attach_answer_lost)
    customer_writes(1, Body="primeiro")

    # When the workers run (the failed record comes back and is retried)
    run_workers()

    # Then the card stays, the only one, and the message is in its thread once
    [root] = slack.roots()
    assert slack.deleted == []
    assert texts(slack.thread(root.ts)) == ["primeiro"]


def test_files_whose_note_failed_follow_their_message_once_more_and_the_text_once(
    container, customer_writes, run_workers, slack: FakeSlack, monkeypatch
):
    # Given a photo that cannot be fetched, and noting its files fails once
    _failing_once(monkeypatch, container.store.inbound, "mark_files_posted")
    customer_writes(1, Body="olha", **UNFETCHABLE_PHOTO)

    # When the workers run
    run_workers()

    # Then the text is there once; the files' note, which could not be noted, twice
    [root] = slack.roots()
    thread = slack.thread(root.ts)
    assert [p.message.text for p in thread].count("olha\n:paperclip: Attachment (image/jpeg)") == 1
    assert sum("could not be fetched" in p.message.text for p in thread) == 2
    assert container.store.conversations.find_open_conversation("ana", CUSTOMER).message_count == 1


def test_a_message_delivered_to_the_worker_twice_is_posted_once(
    customer_writes, run_workers, slack: FakeSlack, clock
):
    # Given a customer's message in the queue (its body noted), then processed
    customer_writes(1, Body="Só uma vez, por favor")
    sqs, url = boto3.client("sqs"), inbound_queue_url()
    [queued] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["All"])["Messages"]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=queued["ReceiptHandle"], VisibilityTimeout=0
    )
    assert run_workers() == 1

    # When the queue delivers the same message again (after its deduplication window)
    clock.now = datetime.now(UTC) + timedelta(minutes=6)
    sqs.send_message(
        QueueUrl=url,
        MessageBody=queued["Body"],
        MessageGroupId=queued["Attributes"]["MessageGroupId"],
        MessageDeduplicationId="a-later-redelivery",
    )
    handled = run_workers()

    # Then it was handled again, and still posted only once
    assert handled == 1
    [root] = slack.roots()
    assert texts(slack.thread(root.ts)) == ["Só uma vez, por favor"]


def sqs_record(message: dict[str, Any], record_id: str, received: int = 1) -> dict[str, Any]:
    """A Lambda SQS event record for a message as ReceiveMessage returned it, handed out
    for the `received`th time."""
    return {
        "messageId": record_id,
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {
            "MessageGroupId": message["Attributes"]["MessageGroupId"],
            "MessageDeduplicationId": message["Attributes"]["MessageDeduplicationId"],
            "ApproximateReceiveCount": str(received),
        },
        "messageAttributes": {},
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{INBOUND_QUEUE}",
        "awsRegion": "us-east-1",
    }


def redelivered(event: dict[str, Any], received: int) -> dict[str, Any]:
    """The same records handed out again: SQS counts each receive."""
    records = [
        {**r, "attributes": {**r["attributes"], "ApproximateReceiveCount": str(received)}}
        for r in event["Records"]
    ]
    return {"Records": records}


def test_a_slack_outage_fails_only_the_affected_record_and_its_retry_posts_it_once(
    container, customer_writes, slack: FakeSlack
):
    # Given two customers' first messages in one batch, and Slack failing once
    customer_writes(1, Body="Tem alguém aí?")
    customer_writes(2, Body="Boa tarde", From="+5511900000002")
    messages = boto3.client("sqs").receive_message(
        QueueUrl=inbound_queue_url(), MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert [json.loads(m["Body"])["text"] for m in messages] == ["Tem alguém aí?", "Boa tarde"]
    event = {"Records": [sqs_record(m, f"record-{n}") for n, m in enumerate(messages, 1)]}
    slack.failures.append(Retryable("Slack answered 503 to chat.postMessage"))
    process_inbound = app.handler_map["process_inbound"]

    # When the worker handles the batch
    first = process_inbound(event, None)

    # Then only the first customer's record is reported failed; the other one is posted
    assert first == {"batchItemFailures": [{"itemIdentifier": "record-1"}]}
    assert texts(slack.roots()) == ["New SMS conversation with +5511900000002"]

    # When the batch is delivered again, and once more
    second = process_inbound(redelivered(event, 2), None)
    third = process_inbound(redelivered(event, 3), None)

    # Then nothing fails, and each message is in its own thread exactly once
    assert second == third == {"batchItemFailures": []}
    assert len(slack.roots()) == 2
    for customer, text in [(CUSTOMER, "Tem alguém aí?"), ("+5511900000002", "Boa tarde")]:
        conversation = container.store.conversations.find_open_conversation("ana", customer)
        assert conversation is not None
        assert texts(slack.thread(conversation.slack_thread_ts)) == [text]
        # And counted once, however often its record came
        assert conversation.message_count == 1


def test_a_record_delivered_again_after_it_was_processed_changes_nothing(
    container, customer_writes, slack: FakeSlack
):
    # Given a customer's message, processed from its SQS record
    customer_writes(1, Body="Oi, tudo bem?")
    [message] = boto3.client("sqs").receive_message(
        QueueUrl=inbound_queue_url(), MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    event = {"Records": [sqs_record(message, "record-1")]}
    process_inbound = app.handler_map["process_inbound"]
    assert process_inbound(event, None) == {"batchItemFailures": []}
    before = container.store.conversations.find_open_conversation("ana", CUSTOMER)

    # When SQS delivers the same record again (the worker's delete was lost)
    assert process_inbound(redelivered(event, 2), None) == {"batchItemFailures": []}

    # Then the conversation is as it was: counted once, one post, not even rewritten
    after = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert after == before
    assert after.message_count == 1
    assert texts(slack.thread(after.slack_thread_ts)) == ["Oi, tudo bem?"]


def test_a_slack_outage_mid_conversation_keeps_the_customers_order(
    customer_writes, run_workers, slack: FakeSlack
):
    # Given a conversation in its thread, two more messages queued, and Slack failing once
    customer_writes(1, Body="um")
    run_workers()
    customer_writes(2, Body="dois")
    customer_writes(3, Body="três")
    slack.failures.append(Retryable("Slack answered 429 to chat.postMessage"))

    # When the workers run (and retry what failed)
    run_workers()

    # Then the outage was met, and every message is in the thread once, in the order sent
    assert slack.failures == []
    [root] = slack.roots()
    assert texts(slack.thread(root.ts)) == ["um", "dois", "três"]


def test_the_timeline_lists_customer_messages_and_agent_replies_in_time_order(
    container, customer_writes, agent_replies, run_workers, slack: FakeSlack
):
    # Given a customer message, an agent's reply in its thread, and a second customer message
    customer_writes(1, Body="Onde está meu pedido?")
    run_workers()
    [root] = slack.roots()
    agent_replies(root.ts, "1764000500.000100", "Chega amanhã!")
    run_workers()
    customer_writes(2, Body="Obrigada!")
    run_workers()

    # When the conversation's timeline is read
    conversation = container.store.conversations.find_open_conversation("ana", CUSTOMER)
    assert conversation is not None
    timeline = list(container.store.listings.timeline("ana", conversation.conversation_id))

    # Then it holds all three, oldest first
    assert [item["text"] for item in timeline] == [
        "Onde está meu pedido?",
        "Chega amanhã!\n— Bia",
        "Obrigada!",
    ]
    assert timeline[1]["message_key"] == f"slack:{CHANNEL_ID}:1764000500.000100"


class LambdaClock:
    """A Lambda context whose remaining time drops by `step_ms` each time it is asked."""

    def __init__(self, remaining_ms: int, step_ms: int) -> None:
        self.remaining_ms = remaining_ms
        self.step_ms = step_ms

    def get_remaining_time_in_millis(self) -> int:
        remaining = self.remaining_ms
        self.remaining_ms -= self.step_ms
        return remaining


def test_records_left_when_the_invocation_runs_short_are_handed_back_not_started(
    customer_writes, slack: FakeSlack
):
    # Given two customers' messages in one batch, and time for only the first
    customer_writes(1, Body="Tem alguém aí?")
    customer_writes(2, From="+5511900000002", Body="Boa tarde")
    messages = boto3.client("sqs").receive_message(
        QueueUrl=inbound_queue_url(), MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    event = {"Records": [sqs_record(m, f"record-{n}") for n, m in enumerate(messages, 1)]}
    clock = LambdaClock(remaining_ms=20_000, step_ms=10_000)

    # When the worker handles the batch
    result = app.handler_map["process_inbound"](event, clock)

    # Then the first is posted and the second is handed back untouched, to run again
    assert result == {"batchItemFailures": [{"itemIdentifier": "record-2"}]}
    assert texts(slack.roots()) == ["New SMS conversation with +5511987654321"]


def received_batch() -> dict[str, Any]:
    messages = boto3.client("sqs").receive_message(
        QueueUrl=inbound_queue_url(), MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    return {"Records": [sqs_record(m, f"record-{n}") for n, m in enumerate(messages, 1)]}


def visible_texts() -> list[str]:
    answer = boto3.client("sqs").receive_message(
        QueueUrl=inbound_queue_url(), MaxNumberOfMessages=10
    )
    return sorted(json.loads(m["Body"])["text"] for m in answer.get("Messages", []))


def with_retry_base(container: Any, seconds: float) -> None:
    container.__dict__["settings"] = container.settings.model_copy(
        update={"retry_base_seconds": seconds}
    )


@pytest.mark.parametrize(("retry_after", "base"), [(1, 0), (None, 1)], ids=["slack", "backoff"])
def test_a_failed_record_comes_back_when_slack_says_or_by_backoff(
    container, customer_writes, slack: FakeSlack, retry_after, base
):
    # Given a customer's message, and Slack refusing the next post (with or without Retry-After)
    with_retry_base(container, base)
    customer_writes(1, Body="Tem alguém aí?")
    event = received_batch()
    slack.failures.append(Retryable("Slack answered 429", retry_after=retry_after))

    # When the worker handles the batch (its only record fails)
    with pytest.raises(BatchProcessingError):
        app.handler_map["process_inbound"](event, None)

    # Then the record comes back after 1 s (what Slack asked, or the first backoff step),
    # not after the queue's 180 s visibility timeout
    assert visible_texts() == []
    time.sleep(1.3)
    assert visible_texts() == ["Tem alguém aí?"]


def test_each_customers_failed_record_waits_its_own_delay(
    container, customer_writes, slack: FakeSlack
):
    # Given two customers' messages in one batch: Ana's on its third try, Bia's on its first
    with_retry_base(container, 1)
    customer_writes(1, Body="Ana de novo")
    customer_writes(2, From="+5511900000002", Body="Bia")
    event = received_batch()
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "3"
    # And Slack failing both posts, asking no particular delay
    slack.failures.extend([Retryable("Slack answered 503"), Retryable("Slack answered 503")])

    # When the worker handles the batch
    with pytest.raises(BatchProcessingError):
        app.handler_map["process_inbound"](event, None)

    # Then Bia's message comes back after 1 s, while Ana's waits its longer backoff (9 s)
    time.sleep(1.3)
    assert visible_texts() == ["Bia"]


def test_the_card_shows_the_first_message_and_is_updated_as_messages_arrive(
    customer_writes, run_workers, slack: FakeSlack
):
    # Given a customer who writes once, then twice more
    customer_writes(1, Body="Onde está meu pedido <!here>?")
    run_workers()
    customer_writes(2, Body="Alô?")
    customer_writes(3, Body="Alguém?")
    run_workers()

    # Then the card was posted with the first message and a count of one ...
    [root] = slack.roots()
    first_card = json.dumps(root.message.blocks, ensure_ascii=False)
    assert "\u201cOnde está meu pedido &lt;!here&gt;?\u201d" in first_card
    assert "*Messages:* 1 message" in first_card
    # ... and updated in place, on the root message, as the others came in
    assert [u.ts for u in slack.updates] == [root.ts, root.ts]
    last_card = json.dumps(slack.updates[-1].message.blocks, ensure_ascii=False)
    assert "*Messages:* 3 messages" in last_card
    assert "\u201cOnde está meu pedido &lt;!here&gt;?\u201d" in last_card


def test_a_shop_can_route_whatsapp_conversations_to_a_slack_channel_of_their_own(
    client, put_shop, container, run_workers, slack: FakeSlack
):
    # Given a shop whose WhatsApp conversations go to their own Slack channel
    document = shop_document()
    document["slack"] = {**document["slack"], "channels": {"whatsapp": "C0WHATSAPP"}}
    assert put_shop("ana", document).status_code == 201
    path = "/webhooks/twilio/ana"
    for n, fields in enumerate(
        [{"From": WHATSAPP_CUSTOMER, "To": f"whatsapp:{WHATSAPP_NUMBER}"}, {}], start=1
    ):
        params = twilio_message(n, **fields)
        headers = twilio_headers(PUBLIC_URL + path, params)
        assert client.http.post(path, headers=headers, body=form(params)).status_code == 200

    # When the workers run
    run_workers()

    # Then the WhatsApp conversation opened there, the SMS one in the shop's channel
    assert sorted(root.channel for root in slack.roots()) == [CHANNEL_ID, "C0WHATSAPP"]
    whatsapp = container.store.conversations.find_open_conversation("ana", WHATSAPP_CUSTOMER)
    assert whatsapp is not None
    assert whatsapp.slack_channel_id == "C0WHATSAPP"


def test_a_store_failure_after_the_post_does_not_post_the_message_again(
    container, customer_writes, run_workers, slack: FakeSlack, monkeypatch
):
    # Given recording the processed message fails once, after it is in its thread
    record = container.store.conversations.record_inbound
    failures = [Retryable("DynamoDB throttled")]

    def record_once_failing(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise failures.pop()
        record(*args, **kwargs)

    monkeypatch.setattr(container.store.conversations, "record_inbound", record_once_failing)
    customer_writes(1, Body="primeiro")
    customer_writes(2, Body="segundo")

    # When the workers run (the failed record comes back and is retried)
    run_workers()

    # Then each message is in the thread once, in order, and both are counted
    [root] = slack.roots()
    assert texts(slack.thread(root.ts)) == ["primeiro", "segundo"]
    assert container.store.conversations.find_open_conversation("ana", CUSTOMER).message_count == 2

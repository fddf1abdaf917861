"""The queues' wire format, pinned: jobs wait on SQS (and in schedules) across a deploy, so
the code that reads them must take what the code before it wrote. Each job type's fields,
its `kind` tag and its defaults are written out here as they were serialised before the
domain was split by subject; a renamed field, tag or default fails this test. Member order
is no part of the format (JSON objects are unordered)."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import BaseModel

from chalicelib.queues import parse_inbound, parse_outbound, parse_timer

pytestmark = pytest.mark.unit

Parser = Callable[[str], BaseModel]

# Every field of each job set, as its queue body carries it; by the job's class name.
EVERY_FIELD: dict[str, tuple[Parser, dict[str, Any]]] = {
    "AgentReply": (
        parse_outbound,
        {
            "kind": "agent_reply",
            "event_id": "Ev1",
            "team_id": "T1",
            "channel_id": "C1",
            "thread_ts": "1.0001",
            "ts": "2.0002",
            "user_id": "U1",
            "text": "Hello",
            "files": [
                {
                    "id": "F1",
                    "name": "a.pdf",
                    "mimetype": "application/pdf",
                    "size": 12,
                    "url": "https://files.slack.com/a.pdf",
                }
            ],
            "explicit": True,
            "requested_ts": "3.0003",
            "posted_for_agent": True,
            "automatic": True,
            "content_sid": "HX1",
            "content_variables": {"1": "Ana"},
        },
    ),
    "CannedReply": (
        parse_outbound,
        {
            "kind": "canned_reply",
            "view_id": "V1",
            "conversation_ref": "ana:c1",
            "team_id": "T1",
            "channel_id": "C1",
            "thread_ts": "1.0001",
            "user_id": "U1",
            "name": "shipping",
            "order_number": "1042",
        },
    ),
    "AutoReplyJob": (
        parse_outbound,
        {
            "kind": "auto_reply",
            "conversation_ref": "ana:c1",
            "team_id": "T1",
            "channel_id": "C1",
            "thread_ts": "1.0001",
            "message_key": "twilio:SM1",
            "reply_key": "faq:returns",
            "language": "en",
            "text": "Hi",
        },
    ),
    "ShopMessageJob": (
        parse_outbound,
        {
            "kind": "shop_message_post",
            "conversation_ref": "ana:c1",
            "team_id": "T1",
            "channel_id": "C1",
            "thread_ts": "1.0001",
            "message_id": "m1",
            "text": "Shipped",
            "content_sid": "HX1",
            "content_variables": {"1": "Ana"},
            "reply_key": "order_update:delivered",
            "language": "pt",
        },
    ),
    "DeliveryUpdate": (
        parse_outbound,
        {
            "kind": "delivery_update",
            "shop_id": "ana",
            "provider_message_id": "SM1",
            "status": "delivered",
            "error_code": "30003",
            "received_at": "2026-03-29T08:30:00Z",
        },
    ),
    "ConversationAction": (
        parse_outbound,
        {
            "kind": "conversation_action",
            "action": "snooze",
            "conversation_ref": "ana:c1",
            "team_id": "T1",
            "channel_id": "C1",
            "message_ts": "1.0001",
            "user_id": "U1",
            "action_ts": "4.0004",
            "priority": "high",
            "snooze": "tomorrow",
        },
    ),
    "Wakeup": (
        parse_timer,
        {
            "kind": "wakeup",
            "shop_id": "ana",
            "conversation_id": "c1",
            "due_at": "2026-03-29T08:30:00Z",
        },
    ),
    "SlaAlarm": (
        parse_timer,
        {
            "kind": "sla_alarm",
            "shop_id": "ana",
            "conversation_id": "c1",
            "target": "first_response",
            "started_at": "2026-03-29T08:30:00Z",
            "stage": "warning",
            "due_at": "2026-03-29T08:30:00Z",
        },
    ),
    "ShopMessage": (
        parse_inbound,
        {
            "kind": "shop_message",
            "shop_id": "ana",
            "message_id": "m1",
            "channel": "whatsapp",
            "customer_address": "whatsapp:+34600111222",
            "shop_address": "whatsapp:+36201234567",
            "text": "Shipped",
            "customer_name": "Ana",
            "subject": "Order",
            "content_sid": "HX1",
            "content_variables": {"1": "Ana"},
            "requested_at": "2026-03-29T08:30:00Z",
            "shop_incarnation": "i1",
            "reply_key": "order_update:delivered",
            "language": "pt",
            "decided_from": "c1",
        },
    ),
    "InboundMessage": (
        parse_inbound,
        {
            "shop_id": "ana",
            "channel": "email",
            "provider": "email",
            "provider_message_id": "<m1@x>",
            "customer_address": "ana@example.com",
            "shop_address": "support@shop.example",
            "customer_name": "Ana",
            "text": "Where?",
            "media": [{"url": "https://x/1", "content_type": "image/png"}],
            "received_at": "2026-03-29T08:30:00Z",
            "email": {
                "message_id": "<m1@x>",
                "in_reply_to": "<m0@x>",
                "references": ["<m0@x>"],
                "subject": "Order",
                "reply_token": "c1",
                "automated": True,
                "raw_location": ["bucket", "key"],
            },
            "shop_incarnation": "i1",
            "kind": "message",
            "customer_language": "pt",
        },
    ),
    "DeliveryWatermark": (
        parse_outbound,
        {
            "kind": "delivery_watermark",
            "shop_id": "ana",
            "customer_address": "messenger:24536372",
            "status": "read",
            "watermark": "2026-03-29T08:30:00Z",
            "received_at": "2026-03-29T08:30:01Z",
        },
    ),
}

# A body with only the required fields (and the tag), and the defaults read into the rest.
DEFAULTS: dict[str, tuple[Parser, dict[str, Any], dict[str, Any]]] = {
    "AgentReply": (
        parse_outbound,
        {
            "kind": "agent_reply",
            "event_id": "Ev1",
            "team_id": "T1",
            "channel_id": "C1",
            "thread_ts": "1.0001",
            "ts": "2.0002",
            "user_id": "U1",
            "text": "Hello",
        },
        {
            "files": [],
            "explicit": False,
            "requested_ts": None,
            "posted_for_agent": False,
            "automatic": False,
            "content_sid": None,
            "content_variables": None,
        },
    ),
    "CannedReply": (
        parse_outbound,
        {
            "kind": "canned_reply",
            "view_id": "V1",
            "conversation_ref": "ana:c1",
            "team_id": "T1",
            "channel_id": "C1",
            "thread_ts": "1.0001",
            "user_id": "U1",
            "name": "shipping",
        },
        {"order_number": None},
    ),
    "ShopMessageJob": (
        parse_outbound,
        {
            "kind": "shop_message_post",
            "conversation_ref": "ana:c1",
            "team_id": "T1",
            "channel_id": "C1",
            "thread_ts": "1.0001",
            "message_id": "m1",
            "text": "Shipped",
        },
        {"content_sid": None, "content_variables": None, "reply_key": None, "language": None},
    ),
    "DeliveryUpdate": (
        parse_outbound,
        {
            "kind": "delivery_update",
            "shop_id": "ana",
            "provider_message_id": "SM1",
            "status": "sent",
        },
        {"error_code": None, "received_at": None},
    ),
    "ConversationAction": (
        parse_outbound,
        {
            "kind": "conversation_action",
            "action": "resolve",
            "conversation_ref": "ana:c1",
            "team_id": "T1",
            "channel_id": "C1",
            "message_ts": "1.0001",
            "user_id": "U1",
            "action_ts": "4.0004",
        },
        {"priority": None, "snooze": None},
    ),
    "ShopMessage": (
        parse_inbound,
        {
            "kind": "shop_message",
            "shop_id": "ana",
            "message_id": "m1",
            "channel": "sms",
            "customer_address": "+34600111222",
            "shop_address": "+36201234567",
            "text": "Shipped",
            "requested_at": "2026-03-29T08:30:00Z",
        },
        {
            "customer_name": None,
            "subject": None,
            "content_sid": None,
            "content_variables": None,
            "shop_incarnation": None,
            "reply_key": None,
            "language": None,
            "decided_from": None,
        },
    ),
    "InboundMessage": (
        parse_inbound,
        {
            "shop_id": "ana",
            "channel": "sms",
            "provider": "twilio",
            "provider_message_id": "SM1",
            "customer_address": "+34600111222",
            "shop_address": "+36201234567",
            "received_at": "2026-03-29T08:30:00Z",
        },
        {
            "customer_name": None,
            "text": "",
            "media": [],
            "email": None,
            "shop_incarnation": None,
            "kind": "message",
            "customer_language": None,
        },
    ),
    "DeliveryWatermark": (
        parse_outbound,
        {
            "kind": "delivery_watermark",
            "shop_id": "ana",
            "customer_address": "messenger:24536372",
            "status": "delivered",
            "watermark": "2026-03-29T08:30:00Z",
        },
        {"received_at": None},
    ),
}


@pytest.mark.parametrize("name", EVERY_FIELD)
def test_every_field_reads_and_writes_as_before(name: str) -> None:
    parse, body = EVERY_FIELD[name]
    job = parse(json.dumps(body))
    assert type(job).__name__ == name
    assert json.loads(job.model_dump_json(ensure_ascii=True)) == body


@pytest.mark.parametrize("name", DEFAULTS)
def test_defaults_are_as_before(name: str) -> None:
    parse, required, defaults = DEFAULTS[name]
    job = parse(json.dumps(required))
    assert type(job).__name__ == name
    assert json.loads(job.model_dump_json(ensure_ascii=True)) == required | defaults

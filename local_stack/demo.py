"""`make demo`: an agent's morning against a running local stack, step by step.

Registers a demo shop; two customers write at once (WhatsApp and SMS, signed as Twilio
signs); in the Slack sandbox an agent assigns one conversation, writes an internal note,
sends a canned response, attaches a file, resolves it; the customer writes again and it
reopens. Then an Instagram DM (signed as Meta signs) and a Telegram message (delivered by the
Bot API sandbox with the bot's secret) are answered from Slack. Last, commerce: the agent
refunds a line of Ana's order from her card (the Shopify sandbox makes the refund), Ana
asking where her order is gets its tracking link at once, without an agent, and when the
warehouse ships Bruno's order he is told first, by SMS, with its tracking link. Every agent
action is a
signed Slack request, and each step waits until its effect shows in the sandboxes' outboxes
(card updates, reactions, sends).
"""

import argparse
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from local_stack.constants import (
    DEMO_ACCOUNT_SID,
    DEMO_AUTH_TOKEN,
    DEMO_CHANNEL_ID,
    DEMO_INSTAGRAM_CUSTOMER,
    DEMO_META_INSTAGRAM_ID,
    DEMO_SHOP,
    DEMO_SHOP_ID,
    DEMO_SHOPIFY_TOKEN,
    DEMO_TEAM_ID,
    DEMO_TELEGRAM_BOT_TOKEN,
    LOCAL_ADMIN_TOKEN,
    LOCAL_META_APP_SECRET,
    LOCAL_SIGNING_SECRET,
    SLA_CHANNEL_ID,
    SLA_SHOP,
    SLA_SHOP_ID,
)

AGENT = "U0BEATRIZ"
# The demo shop as the demo registers it: its agent may refund (up to the limit alone),
# "where is my order?" is answered without an agent, and order updates are sent first.
DEMO_SHOP_WITH_COMMERCE = {
    **DEMO_SHOP,
    "commerce_actions": {"allowed": [AGENT], "refund_limit": 200},
    "order_updates": {"answer_status_questions": True, "send_updates": True},
}
ANAS_TRACKING = "rastreamento.correios.com.br"
BRUNOS_TRACKING = "https://rastreamento.correios.com.br/app/index.php?objeto=BR555000111"


def call(method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310 (local URLs)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (local URLs)
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def twilio_form(api: str, path: str, params: dict[str, str]) -> tuple[int, str]:
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(DEMO_AUTH_TOKEN).compute_signature(api + path, params)
    return call(
        "POST",
        api + path,
        urlencode(params).encode(),
        {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def slack_signed(api: str, path: str, body: bytes, content_type: str) -> tuple[int, str]:
    """A request to one of the Slack routes, signed as Slack signs it."""
    timestamp = str(int(time.time()))
    digest = hmac.new(
        LOCAL_SIGNING_SECRET.encode(), f"v0:{timestamp}:".encode() + body, hashlib.sha256
    ).hexdigest()
    return call(
        "POST",
        api + path,
        body,
        {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}",
        },
    )


def slack_event(api: str, payload: dict[str, Any]) -> tuple[int, str]:
    return slack_signed(api, "/slack/events", json.dumps(payload).encode(), "application/json")


def wait_for_entry(
    outbox_url: str, method: str, match: str, timeout: float = 15, *, field: str | None = None
) -> dict[str, Any]:
    """The first call of `method` whose payload (or its `field`) contains `match`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(outbox_url, timeout=5) as response:  # noqa: S310
            for entry in json.loads(response.read()):
                payload = entry["payload"] if field is None else entry["payload"].get(field, "")
                if entry["method"] == method and match in json.dumps(payload, ensure_ascii=False):
                    return dict(entry)
        time.sleep(0.3)
    raise TimeoutError(f"no {method} containing {match!r} in {outbox_url}")


def slack_form(api: str, path: str, payload: dict[str, Any]) -> tuple[int, str]:
    """An interactivity request (button, shortcut, modal)."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return slack_signed(api, path, body, "application/x-www-form-urlencoded")


def agent_message(api: str, thread_ts: str, text: str, **extra: Any) -> str:
    ts = f"{time.time():.6f}"
    slack_event(
        api,
        {
            "type": "event_callback",
            "team_id": DEMO_TEAM_ID,
            "event_id": "Ev" + ts.replace(".", ""),
            "event_time": int(time.time()),
            "event": {
                "type": "message",
                "channel": DEMO_CHANNEL_ID,
                "user": AGENT,
                "text": text,
                "ts": ts,
                "thread_ts": thread_ts,
                **extra,
            },
        },
    )
    return ts


def press(api: str, thread_ts: str, action_id: str, ref: str) -> None:
    slack_form(
        api,
        "/slack/interactions",
        {
            "type": "block_actions",
            "team": {"id": DEMO_TEAM_ID},
            "user": {"id": AGENT},
            "container": {
                "type": "message",
                "channel_id": DEMO_CHANNEL_ID,
                "message_ts": thread_ts,
            },
            "actions": [{"action_id": action_id, "value": ref, "action_ts": f"{time.time():.6f}"}],
        },
    )


def card_ref(card: dict[str, Any]) -> str:
    """The conversation a card's buttons act on."""
    for block in card["payload"]["blocks"]:
        for element in block.get("elements", []):
            if element.get("action_id") == "resolve":
                return str(element["value"])
    raise ValueError("a card without a Resolve button")


def register(api: str, shop_id: str, document: dict[str, Any], what: str) -> bool:
    status, body = call(
        "PUT",
        f"{api}/admin/shops/{shop_id}",
        json.dumps(document).encode(),
        {"Authorization": f"Bearer {LOCAL_ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    print(f"1. {what} registered: HTTP {status}")
    if status >= 300:
        print(body)
    return status < 300


def customer_writes(
    api: str, sender: str, to: str, text: str, name: str = "", shop_id: str = DEMO_SHOP_ID
) -> None:
    sid = "SM" + hashlib.md5(f"{sender}{text}{time.time()}".encode()).hexdigest()  # noqa: S324
    params = {
        "MessageSid": sid,
        "AccountSid": DEMO_ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": text,
        "NumMedia": "0",
    }
    if name:
        params["ProfileName"] = name
    twilio_form(api, f"/webhooks/twilio/{shop_id}", params)


def sla_demo(api: str, slack_outbox: str) -> int:
    """Two customers wait; one is answered at once, the other never: the acknowledgement,
    then the warning, the breach and the second level for the unanswered one only. Needs a
    stack started with THREADLINE_SLA_MINUTE_SECONDS=1 (a target minute lasts a second)."""
    if not register(api, SLA_SHOP_ID, SLA_SHOP, "shop with a 10-minute first-response target"):
        return 1
    for sender, text in (("+5511911112222", "Meu pedido atrasou"), ("+5511933334444", "Oi!")):
        customer_writes(api, sender, "+14155550110", text, shop_id=SLA_SHOP_ID)
    ack = wait_for_entry(slack_outbox, "chat.postMessage", "Responderemos", field="text")
    print(f"2. two customers wrote; each got an acknowledgement: {ack['payload']['text']}")
    answered = wait_for_entry(slack_outbox, "chat.postMessage", "Oi!", field="text")
    thread = answered["payload"]["thread_ts"]
    slack_event(
        api,
        {
            "type": "event_callback",
            "team_id": DEMO_TEAM_ID,
            "event_id": f"Ev{time.time():.6f}".replace(".", ""),
            "event": {
                "type": "message",
                "channel": SLA_CHANNEL_ID,
                "user": AGENT,
                "text": "Olá! Como posso ajudar?",
                "ts": f"{time.time():.6f}",
                "thread_ts": thread,
            },
        },
    )
    print("3. an agent answered the second customer at once")
    hint = " (is the stack running with THREADLINE_SLA_MINUTE_SECONDS=1?)"
    try:
        wait_for_entry(slack_outbox, "chat.postMessage", "due soon", 30, field="text")
        print("4. warning (80% of the target): noted in the first thread, the card warns")
        wait_for_entry(slack_outbox, "chat.postMessage", "subteam^S0ONCALL", 30, field="text")
        print("5. breach: on-call mentioned, the card red")
        dm = wait_for_entry(slack_outbox, "chat.postMessage", "U0LEAD", 30, field="channel")
        print(f"6. second level: the lead got a DM: {dm['payload']['text']}")
    except TimeoutError:
        print("no escalation in time" + hint)
        return 1
    late = [
        e
        for e in _entries(slack_outbox, "chat.postMessage")
        if e["payload"].get("thread_ts") == thread
        and any(
            mark in e["payload"].get("text", "") for mark in ("due soon", "overdue", "unanswered")
        )
    ]
    print(f"7. the answered conversation got {len(late)} escalations")
    return 0 if not late else 1


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.demo")
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--slack", default="http://127.0.0.1:8001")
    parser.add_argument("--twilio", default="http://127.0.0.1:8002")
    parser.add_argument("--telegram", default="http://127.0.0.1:8004")
    parser.add_argument("--shopify", default="http://127.0.0.1:8005")
    parser.add_argument(
        "--sla",
        action="store_true",
        help="the escalations demo (stack with THREADLINE_SLA_MINUTE_SECONDS=1)",
    )
    args = parser.parse_args(argv)
    api, slack_outbox, twilio_outbox = args.api, f"{args.slack}/_outbox", f"{args.twilio}/_outbox"
    if args.sla:
        return sla_demo(api, slack_outbox)
    if not register(api, DEMO_SHOP_ID, DEMO_SHOP_WITH_COMMERCE, "shop"):
        return 1
    thread_ts, ref = _two_customers_write(api, slack_outbox)
    _agent_takes_over(api, slack_outbox, thread_ts, ref)
    _canned_response(api, slack_outbox, twilio_outbox, thread_ts)
    uploaded = _upload_as_agent(args.slack, "etiqueta.png", b"\x89PNG demo label")
    agent_message(api, thread_ts, "Segue a etiqueta de troca", files=[uploaded])
    wait_for_entry(twilio_outbox, "messages.create", "MediaUrl", timeout=20)
    print("6. the agent attached a file: it went to Ana as WhatsApp media")
    _resolve_and_reopen(api, slack_outbox, thread_ts, ref)
    _instagram_and_telegram(api, slack_outbox, args.telegram)
    _refund_from_slack(api, slack_outbox, thread_ts)
    _where_is_my_order(api, slack_outbox, twilio_outbox, thread_ts)
    _shipment_told_first(args.shopify, twilio_outbox)
    return 0


ANA = "whatsapp:+5511987654321"
ANA_NAME = "Ana Souza"


def _two_customers_write(api: str, slack_outbox: str) -> tuple[str, str]:
    """Two customers at once, on two channels: Ana's thread, and the conversation its card's
    buttons act on."""
    text = "Olá! Meu pedido #1042 ainda não chegou 📦 <!channel>"
    customer_writes(api, ANA, "whatsapp:+14155550101", text, name=ANA_NAME)
    customer_writes(api, "+5521998877665", "+14155550100", "Vocês entregam em Niterói?")
    # The messages' own texts (the cards quote them too, but only in their blocks).
    ana_post = wait_for_entry(slack_outbox, "chat.postMessage", "1042", field="text")
    wait_for_entry(slack_outbox, "chat.postMessage", "Niterói", field="text")
    thread_ts = str(ana_post["payload"]["thread_ts"])
    card = next(
        entry
        for entry in _entries(slack_outbox, "chat.postMessage")
        if entry["payload"].get("response", {}).get("ts") == thread_ts
    )
    print(f"2. two customers wrote at once: two threads; Ana's is {thread_ts}")
    return thread_ts, card_ref(card)


def _agent_takes_over(api: str, slack_outbox: str, thread_ts: str, ref: str) -> None:
    press(api, thread_ts, "assign_to_me", ref)
    wait_for_entry(slack_outbox, "chat.update", f"<@{AGENT}>")
    print("3. the agent took Ana's conversation: the card shows the assignee")
    note = agent_message(api, thread_ts, "note: cliente antiga, já teve um atraso antes")
    wait_for_entry(slack_outbox, "reactions.add", note)
    print("4. a note in the thread stayed internal (:lock:)")


def _canned_response(api: str, slack_outbox: str, twilio_outbox: str, thread_ts: str) -> None:
    """The message shortcut opens the modal; submitting it sends the response to Ana."""
    slack_form(
        api,
        "/slack/interactions",
        {
            "type": "message_action",
            "callback_id": "canned_response",
            "trigger_id": f"{time.time():.6f}.demo",
            "action_ts": f"{time.time():.6f}",
            "team": {"id": DEMO_TEAM_ID},
            "channel": {"id": DEMO_CHANNEL_ID},
            "user": {"id": AGENT},
            "message": {"type": "message", "ts": thread_ts, "text": "…"},
        },
    )
    view = wait_for_entry(slack_outbox, "views.open", "canned_response")["payload"]["view"]
    slack_form(
        api,
        "/slack/interactions",
        {
            "type": "view_submission",
            "team": {"id": DEMO_TEAM_ID},
            "user": {"id": AGENT},
            "view": {
                "id": "V" + hashlib.md5(str(time.time()).encode()).hexdigest()[:10],  # noqa: S324
                "callback_id": "canned_response",
                "private_metadata": view["private_metadata"],
                "state": {
                    "values": {
                        "response": {"response": {"selected_option": {"value": "shipping"}}},
                        "order_number": {"order_number": {"value": None}},
                    }
                },
            },
        },
    )
    wait_for_entry(twilio_outbox, "messages.create", "saiu para entrega", timeout=20)
    print("5. a canned response went to Ana, order number and name filled in")


def _resolve_and_reopen(api: str, slack_outbox: str, thread_ts: str, ref: str) -> None:
    press(api, thread_ts, "resolve", ref)
    wait_for_entry(slack_outbox, "chat.update", "Resolved")
    print("7. the agent resolved the conversation: the card shows it")
    customer_writes(api, ANA, "whatsapp:+14155550101", "Obrigada! Chegou 😊", name=ANA_NAME)
    wait_for_entry(slack_outbox, "chat.postMessage", "open again", field="text")
    print("8. Ana wrote again: the conversation reopened, on the card and in the thread")


def _instagram_and_telegram(api: str, slack_outbox: str, telegram: str) -> None:
    """A DM on Instagram and a message to the shop's bot, both at once; each answered in
    its thread, then marked as the provider reports it."""
    status, body = call(
        "POST",
        f"{api}/admin/shops/{DEMO_SHOP_ID}/telegram/connect",
        b"",
        {"Authorization": f"Bearer {LOCAL_ADMIN_TOKEN}", "Content-Type": "application/json"},
    )
    if status != 200:
        raise RuntimeError(f"connecting the Telegram bot: HTTP {status} {body}")
    now = int(time.time() * 1000)
    dm = {
        "object": "instagram",
        "entry": [
            {
                "id": DEMO_META_INSTAGRAM_ID,
                "time": now,
                "messaging": [
                    {
                        "sender": {"id": DEMO_INSTAGRAM_CUSTOMER},
                        "recipient": {"id": DEMO_META_INSTAGRAM_ID},
                        "timestamp": now,
                        "message": {
                            "mid": f"aWdfZAdemo{now}",
                            "text": "Oi! Tem o vestido azul em M? 👗",
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(dm, ensure_ascii=True).encode()
    digest = hmac.new(LOCAL_META_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    call(
        "POST",
        f"{api}/webhooks/meta",
        raw,
        {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"},
    )
    customer = {"chat_id": 5550101, "first_name": "Yusuf", "text": "Merhaba! Siparişim nerede? 📦"}
    call(
        "POST",
        f"{telegram}/_customers/bot{DEMO_TELEGRAM_BOT_TOKEN}",
        json.dumps(customer).encode(),
        {"Content-Type": "application/json"},
    )
    instagram = wait_for_entry(slack_outbox, "chat.postMessage", "vestido azul", field="text")
    from_bot = wait_for_entry(slack_outbox, "chat.postMessage", "Siparişim", field="text")
    answered = agent_message(api, instagram["payload"]["thread_ts"], "Temos sim! Separei um M 💙")
    thanked = agent_message(api, from_bot["payload"]["thread_ts"], "Yarın kargoda 🚚")
    _wait_reaction(slack_outbox, answered, "eyes")
    print("9. an Instagram DM was answered from Slack: sent, and marked seen")
    _wait_reaction(slack_outbox, thanked, "outbox_tray")
    print("10. a Telegram message was answered from Slack: the bot sent it")


def _refund_from_slack(api: str, slack_outbox: str, thread_ts: str) -> None:
    """*Refund #1042* on Ana's card, the line chosen in the modal, the refund confirmed: the
    Shopify sandbox makes it, and the thread records who refunded what."""
    drawn = [e for e in _entries(slack_outbox, "chat.update") if e["payload"]["ts"] == thread_ts]
    refund = next(
        element
        for entry in reversed(drawn)
        for block in entry["payload"].get("blocks", [])
        for element in block.get("elements", [])
        if element.get("action_id") == "refund_order#1042"
    )
    trigger = f"{time.time():.6f}.refund"
    slack_form(
        api,
        "/slack/interactions",
        {
            "type": "block_actions",
            "trigger_id": trigger,
            "team": {"id": DEMO_TEAM_ID},
            "user": {"id": AGENT},
            "container": {
                "type": "message",
                "channel_id": DEMO_CHANNEL_ID,
                "message_ts": thread_ts,
            },
            "message": {"ts": thread_ts, "thread_ts": thread_ts},
            "actions": [
                {
                    "action_id": refund["action_id"],
                    "type": "button",
                    "value": refund["value"],
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        },
    )
    choice = wait_for_entry(slack_outbox, "views.open", trigger, field="trigger_id")
    # The first line (2 × Camiseta básica), a reason, the customer told by Shopify.
    _, answer = _submit_view(
        api,
        choice["payload"]["view"],
        {
            "lines": {"lines": {"selected_options": [{"value": "0"}]}},
            "reason": {"reason": {"value": "chegou rasgada"}},
            "notify": {"notify": {"selected_options": [{"value": "notify"}]}},
        },
    )
    _submit_view(api, json.loads(answer)["view"], {})
    done = wait_for_entry(slack_outbox, "chat.postMessage", "refunded *", field="text", timeout=20)
    print(f"11. the agent refunded a line of #1042 from Slack: {done['payload']['text']}")


def _submit_view(api: str, view: dict[str, Any], values: dict[str, Any]) -> tuple[int, str]:
    return slack_form(
        api,
        "/slack/interactions",
        {
            "type": "view_submission",
            "team": {"id": DEMO_TEAM_ID},
            "user": {"id": AGENT},
            "view": {
                "id": "V" + hashlib.md5(str(time.time()).encode()).hexdigest()[:10],  # noqa: S324
                "callback_id": view["callback_id"],
                "private_metadata": view["private_metadata"],
                "state": {"values": values},
            },
        },
    )


def _where_is_my_order(api: str, slack_outbox: str, twilio_outbox: str, thread_ts: str) -> None:
    """Ana asks where her order is: the tracking link goes to her at once, and the thread
    shows it as an automatic reply."""
    answered_before = _tracking_sent(twilio_outbox)
    customer_writes(api, ANA, "whatsapp:+14155550101", "Onde está meu pedido?", name=ANA_NAME)
    deadline = time.monotonic() + 20
    while _tracking_sent(twilio_outbox) <= answered_before:
        if time.monotonic() > deadline:
            raise TimeoutError("Ana's question was not answered with her tracking link")
        time.sleep(0.3)
    wait_for_entry(slack_outbox, "chat.postMessage", "Automatic reply", field="blocks")
    print("12. Ana asked where her order is: answered at once with its tracking link")


def _shipment_told_first(shopify: str, twilio_outbox: str) -> None:
    """The warehouse ships Bruno's order (the Shopify sandbox sends its signed webhooks): he
    is told at once, on the SMS he wrote from, in Portuguese, with the tracking link."""
    status, answer = call(
        "POST",
        f"{shopify}/_sandbox/orders/1043/fulfil",
        json.dumps(
            {
                "tracking_number": "BR555000111",
                "tracking_url": BRUNOS_TRACKING,
                "carrier": "Correios",
            }
        ).encode(),
        {"X-Shopify-Access-Token": DEMO_SHOPIFY_TOKEN, "Content-Type": "application/json"},
    )
    if status != 200:
        raise RuntimeError(f"the Shopify sandbox did not ship #1043: {status} {answer}")
    told = wait_for_entry(twilio_outbox, "messages.create", BRUNOS_TRACKING, timeout=20)
    first_line = str(told["payload"]["Body"]).splitlines()[0]
    print(f"13. the warehouse shipped Bruno's #1043: he was told first, by SMS: {first_line}")


def _tracking_sent(twilio_outbox: str) -> int:
    return sum(
        ANAS_TRACKING in json.dumps(entry["payload"])
        for entry in _entries(twilio_outbox, "messages.create")
    )


def _wait_reaction(slack_outbox: str, ts: str, name: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in _entries(slack_outbox, "reactions.add"):
            if entry["payload"].get("timestamp") == ts and entry["payload"].get("name") == name:
                return
        time.sleep(0.3)
    raise TimeoutError(f"no :{name}: on {ts}")


def _entries(outbox_url: str, method: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(outbox_url, timeout=5) as response:  # noqa: S310
        return [e for e in json.loads(response.read()) if e["method"] == method]


def _upload_as_agent(slack: str, name: str, content: bytes) -> dict[str, Any]:
    """A file an agent attaches: uploaded to the sandbox as Slack's clients do."""
    from slack_sdk import WebClient

    client = WebClient(token="xoxp-demo-agent", base_url=f"{slack}/api/")
    done = client.files_upload_v2(file=content, filename=name, channel=DEMO_CHANNEL_ID)
    return dict(done["files"][0])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

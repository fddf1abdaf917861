"""Meta webhook bodies as Meta sends them (WhatsApp Cloud API, Messenger, Instagram), and
their signature, for the tests of every layer."""

import hashlib
import hmac
import json
from typing import Any

META_APP_SECRET = "test-meta-app-secret"
META_VERIFY_TOKEN = "test-meta-verify-token"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
PAGE_ID = "1122334455"
INSTAGRAM_ID = "17841400000000001"
META_TOKEN = "EAAG-test-system-user-token"
CUSTOMER_WA_ID = "5511987654321"


def meta_shop(**meta: Any) -> dict[str, Any]:
    """The `meta` part of a shop JSON with every channel, changed by `meta`."""
    return {
        "access_token": META_TOKEN,
        "whatsapp": {"phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID},
        "messenger": {"page_id": PAGE_ID},
        "instagram": {"account_id": INSTAGRAM_ID},
        "human_agent_tag": False,
    } | meta


def signed(body: bytes, secret: str = META_APP_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={digest}"}


def encoded(document: dict[str, Any]) -> bytes:
    """As Meta sends it: non-ASCII escaped as \\uXXXX."""
    return json.dumps(document, ensure_ascii=True).encode()


def wa_text(n: int, text: str = "Olá! Onde está meu pedido?", **fields: Any) -> dict[str, Any]:
    return {
        "from": CUSTOMER_WA_ID,
        "id": f"wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFjNFQjA{n:06d}",
        "timestamp": "1764000000",
        "type": "text",
        "text": {"body": text},
    } | fields


def whatsapp_change(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
    name: str = "Ana Souza",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": CUSTOMER_WA_ID}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def whatsapp_webhook(*changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": list(changes)}],
    }


def wa_status(wamid: str, status: str, code: int | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": "1764000100",
        "recipient_id": CUSTOMER_WA_ID,
    }
    if code is not None:
        found["errors"] = [{"code": code, "title": "Re-engagement message"}]
    return found


def messaging_webhook(kind: str, account: str, *events: dict[str, Any]) -> dict[str, Any]:
    """`kind` "page" (Messenger) or "instagram"."""
    return {
        "object": kind,
        "entry": [{"id": account, "time": 1764000000000, "messaging": list(events)}],
    }


def messaging_message(
    account: str, customer: str, mid: str, text: str = "Oi", **message: Any
) -> dict[str, Any]:
    return {
        "sender": {"id": customer},
        "recipient": {"id": account},
        "timestamp": 1764000000000,
        "message": {"mid": mid, "text": text} | message,
    }

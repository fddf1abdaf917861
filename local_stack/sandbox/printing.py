"""The outbox's readable lines: what each call to a stand-in would have done, as a newcomer
watching the terminal reads it."""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from local_stack.sandbox.fields import as_blocks, as_str

if TYPE_CHECKING:
    from local_stack.sandbox.outbox import OutboxEntry

_CONTINUATION = "    "


def printable(text: str) -> str:
    # Customer text could carry terminal escape sequences; show control characters instead of
    # obeying them. Everything else (any script, bidi marks, emoji) is left exactly as sent.
    return "".join(
        ch if ch in "\n\t" or unicodedata.category(ch) != "Cc" else f"\\x{ord(ch):02x}"
        for ch in text
    )


def _with_body(head: str, body: str) -> str:
    """`head: body`, continuing a multi-line body on indented lines."""
    if not body:
        return printable(head)
    lines = body.split("\n")
    text = f"{head}: {lines[0]}"
    for line in lines[1:]:
        text += "\n" + _CONTINUATION + line
    return printable(text)


def _describe_ses(entry: OutboxEntry) -> str:
    payload = entry.payload
    if "From" not in payload:
        return printable(f"[ses] {entry.method} ✗ {payload.get('response')}")
    head = (
        f"[ses] mail {as_str(payload.get('From'))} → {as_str(payload.get('To'))}: "
        f"{as_str(payload.get('Subject'))} (In-Reply-To {as_str(payload.get('In-Reply-To'))})"
    )
    attachments = payload.get("Attachments") or []
    body = as_str(payload.get("Body")).strip()
    if attachments:
        body += "\nattachments: " + ", ".join(as_str(a) for a in attachments)
    return _with_body(head, body)


def describe(entry: OutboxEntry) -> str:
    if entry.service == "slack":
        return _describe_slack(entry)
    if entry.service == "twilio":
        return _describe_twilio(entry)
    if entry.service == "ses":
        return _describe_ses(entry)
    if entry.service == "telegram" and entry.method.startswith("send"):
        return _describe_telegram(entry)
    if entry.service == "meta" and entry.method == "send":
        return _describe_meta(entry)
    if entry.service in ("shopify", "woocommerce") and entry.method == "webhook":
        return _describe_webhook(entry)
    return printable(f"[{entry.service}] {entry.method}")


def _describe_webhook(entry: OutboxEntry) -> str:
    """A platform's webhook delivery: topic, address, the answer (and Shopify's attempt)."""
    payload = entry.payload
    status = payload.get("status") or "no answer"
    attempt = f" (attempt {payload['attempt']})" if "attempt" in payload else ""
    return printable(
        f"[{entry.service}] webhook {as_str(payload.get('topic'))} → "
        f"{as_str(payload.get('address'))}: HTTP {status}{attempt}"
    )


def _describe_telegram(entry: OutboxEntry) -> str:
    payload = entry.payload
    if "chat_id" not in payload:
        return printable(f"[telegram] {entry.method} ✗ {payload.get('response')}")
    body = as_str(payload.get("text") or payload.get("caption"))
    if payload.get("filename"):
        body += f"\nfile: {as_str(payload.get('filename'))} ({payload.get('bytes')} bytes)"
    return _with_body(f"[telegram] {entry.method} → chat {payload['chat_id']}", body.strip())


def _describe_meta(entry: OutboxEntry) -> str:
    payload = entry.payload
    if payload.get("channel") == "whatsapp_cloud":
        head = f"[meta] WhatsApp {as_str(payload.get('from'))} → {as_str(payload.get('to'))}"
        text = payload.get("text")
        template = payload.get("template")
        if isinstance(text, dict):
            body = as_str(text.get("body"))
        elif isinstance(template, dict):
            body = f"(template {as_str(template.get('name'))})"
        else:
            body = f"({as_str(payload.get('type'))})"
        return _with_body(head, body)
    recipient = payload.get("recipient")
    message = payload.get("message")
    to = as_str(recipient.get("id")) if isinstance(recipient, dict) else ""
    body = as_str(message.get("text")) if isinstance(message, dict) else ""
    tag = f" {as_str(payload.get('tag'))}" if payload.get("tag") else ""
    head = f"[meta] Send API → {to} ({as_str(payload.get('messaging_type'))}{tag})"
    return _with_body(head, body or "(attachment)")


def _slack_message_text(payload: dict[str, Any]) -> str:
    text = as_str(payload.get("text"))
    if text:
        return text
    blocks = as_blocks(payload.get("blocks"))
    for block in blocks:
        if isinstance(block, dict) and block.get("type") == "section":
            inner = block.get("text")
            if isinstance(inner, dict) and as_str(inner.get("text")):
                return as_str(inner.get("text"))
    if blocks:
        return f"({len(blocks)} blocks, no section text)"
    if payload.get("attachments"):
        return "(attachments only)"
    return ""


def _describe_slack(entry: OutboxEntry) -> str:
    payload = entry.payload
    response = payload.get("response")
    response = response if isinstance(response, dict) else {}
    method = entry.method
    channel = as_str(payload.get("channel"))
    prefix = f"[slack] {method}"
    if not response.get("ok"):
        error = as_str(response.get("error")) or "failed"
        detail = as_str(response.get("detail"))
        return printable(f"{prefix} ✗ {error}" + (f" ({detail})" if detail else ""))
    if method == "chat.postMessage":
        thread_ts = as_str(payload.get("thread_ts"))
        where = f"thread {thread_ts}" if thread_ts else f"new thread {response.get('ts')}"
        # As asked: a post to a user lands in a channel of its own (their direct messages).
        head = f"{prefix} #{channel} ({where})"
        return _with_body(head, _slack_message_text(payload))
    if method == "chat.update":
        head = f"{prefix} #{channel} (message {as_str(payload.get('ts'))})"
        return _with_body(head, _slack_message_text(payload))
    if method == "chat.postEphemeral":
        head = f"{prefix} #{channel} (only for {as_str(payload.get('user'))})"
        return _with_body(head, _slack_message_text(payload))
    if method in ("reactions.add", "reactions.remove"):
        return printable(
            f"{prefix} :{as_str(payload.get('name'))}: on "
            f"{channel}/{as_str(payload.get('timestamp'))}"
        )
    if method == "files.delete":
        return printable(f"{prefix} {as_str(payload.get('file'))}")
    if method in ("chat.getPermalink", "chat.delete"):
        ts = as_str(payload.get("message_ts") or payload.get("ts"))
        return printable(f"{prefix} {channel}/{ts}")
    if method == "auth.test":
        return printable(f"{prefix} → {response.get('user_id')} in {response.get('team_id')}")
    if method == "files.completeUploadExternal":
        names = ", ".join(as_str(f.get("name")) for f in response.get("files", []))
        thread_ts = as_str(payload.get("thread_ts"))
        where = f"#{as_str(payload.get('channel_id'))}" + (
            f" (thread {thread_ts})" if thread_ts else ""
        )
        return printable(f"{prefix} {where}: {names}")
    return printable(prefix)


def _channel_name(to: str, has_media: bool) -> str:
    if to.lower().startswith("whatsapp:"):
        return "WhatsApp"
    return "MMS" if has_media else "SMS"


def _describe_twilio(entry: OutboxEntry) -> str:
    payload = entry.payload
    response = payload.get("response")
    response = response if isinstance(response, dict) else {}
    if entry.method == "status_callback":
        head = (
            f"[twilio] status {as_str(payload.get('MessageSid'))} → "
            f"{as_str(payload.get('MessageStatus'))} ({as_str(payload.get('To'))})"
        )
        if "error" in response:
            head += f" ✗ callback to {as_str(payload.get('url'))} failed: {response['error']}"
        return printable(head)
    if "code" in response:  # Twilio's error resources carry a numeric code, messages don't
        return printable(
            f"[twilio] {entry.method} ✗ {response.get('status')} "
            f"(code {response.get('code')}): {as_str(response.get('message'))}"
        )
    if entry.method == "messages.create":
        media = payload.get("MediaUrl") or []
        to = as_str(payload.get("To"))
        sender = as_str(payload.get("From")) or as_str(payload.get("MessagingServiceSid"))
        head = f"[twilio] {_channel_name(to, bool(media))} {sender} → {to}"
        body = as_str(payload.get("Body"))
        extra = [f"media: {url}" for url in media]
        if payload.get("ContentSid"):
            variables = as_str(payload.get("ContentVariables"))
            extra.append(f"template {as_str(payload.get('ContentSid'))} {variables}".rstrip())
        lines = ([body] if body else []) + extra
        return _with_body(head, "\n".join(lines))
    if entry.method == "messages.list":
        return printable(
            f"[twilio] messages.list to {as_str(payload.get('To'))} from "
            f"{as_str(payload.get('From'))} → {response.get('count')} found"
        )
    if entry.method == "incoming_phone_numbers.update":
        return printable(
            f"[twilio] number {as_str(payload.get('PhoneNumber'))}: messages → "
            f"{as_str(payload.get('SmsMethod'))} {as_str(payload.get('SmsUrl'))}"
        )
    if entry.method == "senders.update":
        webhook = payload.get("webhook")
        webhook = webhook if isinstance(webhook, dict) else {}
        return printable(
            f"[twilio] WhatsApp sender {as_str(payload.get('sender_id'))}: messages → "
            f"{as_str(webhook.get('callback_url'))}, statuses → "
            f"{as_str(webhook.get('status_callback_url'))}"
        )
    if entry.method in ("incoming_phone_numbers.list", "senders.list"):
        wanted = as_str(payload.get("PhoneNumber") or payload.get("Channel"))
        return printable(f"[twilio] {entry.method} {wanted} → {response.get('count')} found")
    if entry.method == "messages.fetch":
        return printable(
            f"[twilio] messages.fetch {as_str(payload.get('MessageSid'))} → "
            f"{as_str(response.get('status'))}"
        )
    return printable(f"[twilio] {entry.method}")

"""Hypothesis strategies of bad (and some good) requests for every HTTP route, what each
request must come to, and how many were tried per route.

Each strategy draws a `Probe`: the request, and whether it must be refused whatever else it
holds (unsigned, forged, stale, for an unknown shop, with the wrong content type...). Probes
that are signed and valid may be accepted and may write.

The number of examples per route is THREADLINE_FUZZ_EXAMPLES: by default a short run for
`make test`, the same requests every time; given, a run of that many, drawn afresh.
"""

import base64
import hashlib
import hmac
import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.integration.conftest import ADMIN_TOKEN, PUBLIC_URL
from tests.signing import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CHANNEL_ID,
    SLACK_SIGNING_SECRET,
    SMS_NUMBER,
    TEAM_ID,
    form,
    shop_document,
    slack_headers,
    twilio_headers,
    twilio_message,
)

EXAMPLES = int(os.environ.get("THREADLINE_FUZZ_EXAMPLES", "10"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # The short run in `make test` draws the same requests every time; a long run explores.
    derandomize="THREADLINE_FUZZ_EXAMPLES" not in os.environ,
    # One moto world per route, shared by its examples: each example compares the state
    # before and after its own request.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
# Bob: a second shop on its own Twilio account, so that its signatures are not ana's.
BOB_ACCOUNT_SID = "AC" + "2" * 32
BOB_AUTH_TOKEN = "bob-twilio-auth-token"
BOB_NUMBER = "+14155550199"
CUSTOMER = "+5511987654321"
# Bob's Telegram bot, and the webhook secret Threadline generated for it; ana has no bot.
BOB_TELEGRAM_TOKEN = "7012345678:AAE" + "b" * 32
BOB_TELEGRAM_SECRET = "bob-telegram-webhook-secret"
SHOPS = ("ana", "bob")
# Characters: above any real provider's request (and Twilio's 96 KiB once percent-encoded).
HUGE = 120_000

Route = tuple[str, str]


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    # Why it must be refused, if it must.
    refuse_because: str | None = None

    def __repr__(self) -> str:
        # Hypothesis prints failing probes; huge ones are cut to what tells them apart.
        return (
            f"Probe({self.method} {cut(self.path)!r}, headers={cut(repr(self.headers))}, "
            f"body={cut(repr(self.body))} ({len(self.body)} bytes), "
            f"refuse_because={self.refuse_because!r})"
        )


def cut(text: str, keep: int = 300) -> str:
    return text if len(text) <= keep else f"{text[:keep]}...[{len(text) - keep} more]"


TRIED: Counter[Route] = Counter()
REFUSED: Counter[Route] = Counter()


def tried() -> dict[str, tuple[int, int]]:
    """Requests tried and refused per route ("METHOD /path"), in this process so far."""
    return {
        f"{method} {path}": (TRIED[method, path], REFUSED[method, path]) for method, path in TRIED
    }


def record(route: Route, status: int) -> None:
    TRIED[route] += 1
    if 400 <= status < 500:
        REFUSED[route] += 1


# Building blocks ----------------------------------------------------------------------------

junk_text = st.text(max_size=40)
huge_text = st.integers(HUGE // 4, HUGE).map(lambda size: "é" * size)
some_text = st.one_of(junk_text, huge_text, st.sampled_from(["", " ", "\x00", "%FF", "ü" * 5]))
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | junk_text
# Two levels of nesting are enough to put a list or an object where a string is expected.
json_shallow = (
    json_scalars
    | st.lists(json_scalars, max_size=4)
    | st.dictionaries(junk_text, json_scalars, max_size=4)
)
json_values = (
    json_shallow
    | st.lists(json_shallow, max_size=3)
    | st.dictionaries(junk_text, json_shallow, max_size=3)
)
not_json = st.sampled_from(
    [b"{", b"", b"null", b"[]", b'"x"', b"{'a': 1}", b"\xff\xfe{}", b"[NaN]", b"1" * 5000]
) | st.binary(max_size=200)


# Nesting past any parser's patience (json.loads raises RecursionError, not ValueError),
# open or closed, alone or inside an object.
def nested(depth: int, closed: bool, wrapped: bool) -> bytes:
    arrays = b"[" * depth + (b"]" * depth if closed else b"")
    return b'{"address": ' + arrays + b"}" if wrapped else arrays


deep_json = st.builds(
    nested,
    st.sampled_from([40, 1_000, 5_000, 100_000]),
    st.booleans(),
    st.booleans(),
)
# A path segment: real shop ids, well-formed unknown ones, and what is not an id at all.
segment = st.one_of(
    st.sampled_from([*SHOPS, "zed", "a" * 63, "a" * 64, "ANA", "-ana", "ana%0A", "..", "%2F"]),
    st.text(
        st.characters(codec="utf-8", exclude_characters="/?#"),
        min_size=1,
        max_size=70,
    ).map(lambda text: quote(text, safe="")),
)
content_types = st.sampled_from(
    [
        None,
        JSON,
        f"{JSON}; charset=utf-8",
        FORM,
        f"{FORM}; charset=utf-8",
        "text/plain",
        "multipart/form-data",
    ]
)


def with_content_type(headers: dict[str, str], content_type: str | None) -> dict[str, str]:
    without = {name: value for name, value in headers.items() if name.lower() != "content-type"}
    return without if content_type is None else {**without, "Content-Type": content_type}


def accepts(route_types: tuple[str, ...], content_type: str | None) -> bool:
    """Whether chalice lets the content type through to the view (it defaults to JSON)."""
    media = (content_type or JSON).split(";")[0].strip()
    return media in route_types


def query(params: dict[str, str]) -> str:
    return f"?{urlencode(params)}" if params else ""


# Digits str.isdigit or int() take that are no plain number, and numbers out of range.
odd_numbers = st.sampled_from(
    ["²", "٣", "１０", "1_0", " 5", "5 ", "-1", "+1", "0", "101", "9" * 30, "1e2", "0x10"]
)
# Days past the calendar's ends (OverflowError once a span is added).
odd_days = st.sampled_from(["9999-12-31", "0001-01-01", "2026-02-30", "２０２６-01-01"])


def cursor_of(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


GOOD_KEY = {
    "PK": "SHOP#ana#CONV#01JCONVERSATION0000000000",
    "SK": "CONVERSATION",
    "GSI1PK": "SHOP#ana#CONVERSATIONS",
    "GSI1SK": "2026-11-20T10:00:00+00:00",
}
# Cursors made up: values DynamoDB refuses (moto takes them), other shops' keys, other
# items' keys, nesting, and what is not base64 or JSON at all.
bogus_cursors = st.one_of(
    st.builds(
        lambda name, value: cursor_of(GOOD_KEY | {name: value}),
        st.sampled_from(sorted(GOOD_KEY)),
        json_shallow | st.sampled_from(["SHOP#bob#CONV#x", "SHOP#bob#CONVERSATIONS", "é" * 900]),
    ),
    st.just(cursor_of(GOOD_KEY)),
    st.just(cursor_of({**GOOD_KEY, "x": "y"})),
    deep_json.map(lambda raw: base64.urlsafe_b64encode(raw).decode()),
    some_text,
)
query_params = st.dictionaries(
    st.sampled_from(["limit", "cursor", "q", "from", "to", "x", "status"]), some_text, max_size=3
) | st.fixed_dictionaries(
    {},
    optional={
        "limit": odd_numbers | some_text,
        "cursor": bogus_cursors,
        "from": odd_days,
        "to": odd_days,
    },
)


# Twilio -------------------------------------------------------------------------------------

TWILIO_SIGNINGS = (
    "valid",
    "missing",
    "forged",
    "another shop's token",
    "another path",
    "changed after signing",
)


@st.composite
def twilio_webhook(draw: st.DrawFn, status_callback: bool) -> Probe:
    shop_id = draw(st.sampled_from(SHOPS) | segment)
    suffix = "/status" if status_callback else ""
    path = f"/webhooks/twilio/{shop_id}{suffix}"
    own_token, own_account = (
        (BOB_AUTH_TOKEN, BOB_ACCOUNT_SID) if shop_id == "bob" else (AUTH_TOKEN, ACCOUNT_SID)
    )
    if status_callback:
        params = {
            "MessageSid": f"SM{draw(st.integers(0, 2**128 - 1)):032x}",
            "MessageStatus": draw(
                st.sampled_from(["delivered", "failed", "read", "sent", "queued"]) | junk_text
            ),
            "AccountSid": own_account,
            "ErrorCode": draw(st.sampled_from(["", "30003"]) | junk_text),
        }
    else:
        params = twilio_message(
            draw(st.integers(0, 2**128 - 1)),
            AccountSid=own_account,
            To=BOB_NUMBER if shop_id == "bob" else SMS_NUMBER,
        )
    if not status_callback and draw(st.booleans()):
        params["Body"] = draw(st.sampled_from(["", "Olá"]) | huge_text)
    for name in draw(st.lists(st.sampled_from(sorted(params)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del params[name]
        else:
            params[name] = draw(some_text)
    params.update(draw(st.dictionaries(junk_text, some_text, max_size=3)))
    # Each defect is drawn about as often as none, so that valid requests come too.
    mismatched_account = draw(st.sampled_from([False, False, True])) and "AccountSid" in params
    if mismatched_account:
        params["AccountSid"] = ACCOUNT_SID if shop_id == "bob" else BOB_ACCOUNT_SID

    signing = draw(st.just("valid") | st.sampled_from(TWILIO_SIGNINGS))
    url = PUBLIC_URL + path
    body = form(params)
    if signing == "valid":
        headers = twilio_headers(url, params, own_token)
    elif signing == "missing":
        headers = {"Content-Type": FORM}
    elif signing == "forged":
        headers = {
            "Content-Type": FORM,
            "X-Twilio-Signature": draw(st.sampled_from(["", "x", "AAAA=", "é"]) | junk_text),
        }
    elif signing == "another shop's token":
        other = AUTH_TOKEN if shop_id == "bob" else BOB_AUTH_TOKEN
        headers = twilio_headers(url, params, other)
    elif signing == "another path":
        headers = twilio_headers(
            f"{PUBLIC_URL}/webhooks/twilio/{'ana' if shop_id == 'bob' else 'bob'}{suffix}",
            params,
            own_token,
        )
    else:
        headers = twilio_headers(url, params, own_token)
        body = draw(
            st.sampled_from([body + b"&Extra=1", body.replace(b"=", b"=\xff", 1), b"\xff" + body])
            | st.binary()
        )

    content_type = draw(st.sampled_from([FORM, f"{FORM}; charset=utf-8"]) | content_types)
    if draw(st.booleans()):
        content_type = FORM
    headers = with_content_type(headers, content_type)
    reasons = [
        ("unknown shop", shop_id not in SHOPS),
        (f"signature {signing}", signing != "valid"),
        ("AccountSid of another account", mismatched_account),
        ("not a form", not accepts((FORM,), content_type)),
    ]
    return Probe("POST", path, headers, body, next((why for why, true in reasons if true), None))


# Telegram -----------------------------------------------------------------------------------


def telegram_update(draw: st.DrawFn) -> dict[str, Any]:
    """A private chat's message as Telegram posts it, with fields removed or made junk."""
    message: dict[str, Any] = {
        "message_id": draw(st.integers(0, 2**31)),
        "from": {"id": 42, "is_bot": False, "first_name": draw(st.just("Ana") | some_text)},
        "chat": {"id": 42, "type": "private"},
        "date": 1774774800,
        "text": draw(st.just("Olá") | some_text),
    }
    for name in draw(st.lists(st.sampled_from(sorted(message)), max_size=1)):
        if draw(st.booleans()):
            del message[name]
        else:
            message[name] = draw(json_values)
    message.update(draw(st.dictionaries(junk_text, json_values, max_size=2)))
    kind = draw(st.sampled_from(["message", "edited_message", "callback_query"]) | junk_text)
    junk_id = draw(st.sampled_from([False, False, True]))
    update_id: Any = draw(json_values if junk_id else st.integers(0, 2**53 - 1))
    return {"update_id": update_id, kind: message}


TELEGRAM_SECRETS = ("missing", "forged", "another shop's")


@st.composite
def telegram_webhook(draw: st.DrawFn) -> Probe:
    # Bob has the bot; each defect is drawn about as often as none, so valid updates come too.
    shop_id = draw(st.sampled_from(["bob", "bob", "ana"]) | segment)
    path = f"/webhooks/telegram/{shop_id}"
    body = json.dumps(telegram_update(draw)).encode()
    if draw(st.sampled_from([False, False, True])):
        body = draw(
            st.just(body)
            | not_json
            | st.builds(nested, st.integers(1, 5000), st.booleans(), st.booleans())
        )
    secret = draw(st.just("valid") | st.sampled_from(TELEGRAM_SECRETS))
    headers: dict[str, str] = {}
    if secret == "valid":
        headers["X-Telegram-Bot-Api-Secret-Token"] = BOB_TELEGRAM_SECRET
    elif secret == "forged":
        forged = st.sampled_from(["", "x", BOB_TELEGRAM_SECRET[:-1], BOB_TELEGRAM_SECRET + "x"])
        headers["X-Telegram-Bot-Api-Secret-Token"] = draw(forged | junk_text.filter(str.isascii))
    elif secret == "another shop's":
        headers["X-Telegram-Bot-Api-Secret-Token"] = "secret-of-another-shop"
    content_type = draw(st.sampled_from([JSON]) | content_types)
    if draw(st.booleans()):
        content_type = JSON
    headers = with_content_type(headers, content_type)
    reasons = [
        ("unknown shop", shop_id not in SHOPS),
        ("a shop without a bot", shop_id == "ana"),
        (f"secret token {secret}", secret != "valid"),
        ("not JSON", not accepts((JSON,), content_type)),
    ]
    return Probe("POST", path, headers, body, next((why for why, true in reasons if true), None))


# Slack --------------------------------------------------------------------------------------

SLACK_SIGNINGS = (
    "valid",
    "missing",
    "another secret",
    "replayed",
    "from the future",
    "timestamp not a number",
    "changed after signing",
    "not ascii",
)


def slack_signed(draw: st.DrawFn, body: bytes) -> tuple[dict[str, str], bytes, str]:
    signing = draw(st.just("valid") | st.sampled_from(SLACK_SIGNINGS))
    now = int(time.time())
    headers = slack_headers(body)
    if signing == "missing":
        headers = {}
    elif signing == "another secret":
        headers = slack_headers(body, "not-" + SLACK_SIGNING_SECRET)
    elif signing == "replayed":
        headers = slack_headers(body, timestamp=now - draw(st.integers(5 * 60 + 5, 10**9)))
    elif signing == "from the future":
        headers = slack_headers(body, timestamp=now + draw(st.integers(5 * 60 + 5, 10**9)))
    elif signing == "timestamp not a number":
        headers = {
            **headers,
            "X-Slack-Request-Timestamp": draw(st.sampled_from(["", "abc", "1e9", "١٢٣"])),
        }
    elif signing == "changed after signing":
        body = body + b" "
    elif signing == "not ascii":
        headers = {**headers, "X-Slack-Signature": "v0=é" + headers["X-Slack-Signature"][4:]}
    if draw(st.booleans()):
        headers.update(
            {
                "X-Slack-Retry-Num": draw(st.sampled_from(["1", "2", "x"])),
                "X-Slack-Retry-Reason": "http_timeout",
            }
        )
    return headers, body, signing


def slack_message_event(draw: st.DrawFn) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "message",
        "channel": draw(st.sampled_from([CHANNEL_ID, "C0OTHER"]) | junk_text),
        "user": "U0AGENT",
        "text": draw(some_text | huge_text),
        "ts": "1764000500.000100",
        "thread_ts": draw(st.sampled_from(["1764000000.000001", "1.2", ""]) | junk_text),
    }
    for name in draw(st.lists(st.sampled_from(sorted(event)), max_size=2, unique=True)):
        event[name] = draw(json_values)
    return {
        "type": "event_callback",
        "team_id": draw(st.sampled_from([TEAM_ID, "T0OTHER"]) | junk_text),
        "event_id": draw(st.sampled_from(["Ev1", "Ev2"]) | junk_text),
        "event": event,
    }


# Slack timestamps, and what is none though float() may take it.
slack_ts = (
    st.sampled_from(["1764000600.000100", "nan", "inf", "-1", "1e9", "٣.٣", "1764000600", ""])
    | junk_text
)


def slack_edit_event(draw: st.DrawFn) -> dict[str, Any]:
    """An agent's edit (or deletion) of a thread message, its timestamps drawn."""
    deleted = draw(st.booleans())
    message = {
        "type": "message",
        "user": "U0AGENT",
        "text": draw(some_text),
        "ts": draw(slack_ts),
        "thread_ts": draw(st.sampled_from(["1764000000.000001"]) | slack_ts),
        "edited": {"user": "U0AGENT", "ts": draw(slack_ts)},
    }
    event: dict[str, Any] = {
        "type": "message",
        "subtype": "message_deleted" if deleted else "message_changed",
        "channel": CHANNEL_ID,
        "ts": draw(slack_ts),
    }
    if deleted:
        event |= {"deleted_ts": draw(slack_ts), "previous_message": message}
    else:
        event["message"] = message
    return {"type": "event_callback", "team_id": TEAM_ID, "event_id": "Ev0EDIT", "event": event}


@st.composite
def slack_event(draw: st.DrawFn) -> Probe:
    kind = draw(
        st.sampled_from(["message", "edit", "url_verification", "json", "not json", "deep", "huge"])
    )
    if kind == "message":
        body = json.dumps(slack_message_event(draw)).encode()
    elif kind == "edit":
        body = json.dumps(slack_edit_event(draw)).encode()
    elif kind == "deep":
        body = draw(deep_json)
    elif kind == "url_verification":
        body = json.dumps({"type": "url_verification", "challenge": draw(json_values)}).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "not json":
        body = draw(not_json)
    else:
        body = json.dumps({"type": "event_callback", "event": {"text": "x" * HUGE}}).encode()
    headers, body, signing = slack_signed(draw, body)
    content_type = draw(st.sampled_from([JSON]) | content_types)
    headers = with_content_type(headers, content_type)
    reasons = [
        (f"signature {signing}", signing != "valid"),
        ("not JSON", not accepts((JSON,), content_type)),
    ]
    return Probe(
        "POST", "/slack/events", headers, body, next((why for why, true in reasons if true), None)
    )


@st.composite
def slack_form(draw: st.DrawFn, path: str) -> Probe:
    if path == "/slack/commands":
        fields = {
            "team_id": draw(st.sampled_from([TEAM_ID, "T0OTHER"]) | junk_text),
            "channel_id": draw(st.sampled_from([CHANNEL_ID]) | junk_text),
            "user_id": "U0AGENT",
            "command": draw(st.sampled_from(["/threadline"]) | junk_text),
            "text": draw(st.sampled_from(["help", "list", "find ana", "stats", ""]) | some_text),
            "trigger_id": "1337.42.abcd",
        }
    else:
        payload = draw(
            st.fixed_dictionaries(
                {
                    "type": st.sampled_from(
                        ["block_actions", "view_submission", "message_action", "shortcut"]
                    )
                    | junk_text,
                    "team": st.fixed_dictionaries({"id": st.sampled_from([TEAM_ID, "T0OTHER"])})
                    | json_values,
                    "user": st.just({"id": "U0AGENT"}),
                    "actions": st.lists(
                        st.fixed_dictionaries({"action_id": junk_text, "value": some_text})
                        | json_values,
                        max_size=2,
                    ),
                    "view": json_values,
                    "trigger_id": st.just("1337.42.abcd"),
                }
            )
            | json_values
        )
        fields = {
            "payload": draw(
                st.one_of(
                    st.just(json.dumps(payload)),
                    junk_text,
                    deep_json.map(lambda raw: raw.decode()),
                )
            )
        }
    for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True)):
        del fields[name]
    body = form(fields) if draw(st.integers(0, 4)) else draw(not_json)
    headers, body, signing = slack_signed(draw, body)
    content_type = draw(st.sampled_from([FORM]) | content_types)
    headers = with_content_type(headers, content_type)
    reasons = [
        (f"signature {signing}", signing != "valid"),
        ("not a form", not accepts((FORM,), content_type)),
    ]
    return Probe("POST", path, headers, body, next((why for why, true in reasons if true), None))


@st.composite
def slack_install(draw: st.DrawFn, genuine_link: Callable[[str], str]) -> Probe:
    if draw(st.booleans()):
        link = genuine_link(draw(st.sampled_from([*SHOPS, "zed"])))
        path = link.removeprefix(PUBLIC_URL)
        return Probe("GET", path, {}, b"", None if "shop=zed" not in path else "unknown shop")
    params = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "shop": st.sampled_from(SHOPS) | junk_text,
                "expires": st.sampled_from(["9999999999", "0", "-1", "1e10"]) | junk_text,
                "signature": st.sampled_from(["", "0" * 64, "é"]) | some_text,
            },
        )
    )
    return Probe("GET", "/slack/install" + query(params), {}, b"", "forged install link")


@st.composite
def slack_oauth_redirect(draw: st.DrawFn) -> Probe:
    params = draw(
        st.fixed_dictionaries(
            {}, optional={"state": some_text, "code": junk_text, "error": some_text}
        )
    )
    state = params.get("state", "")
    cookie = draw(
        st.sampled_from(["", "threadline_slack_state=", "a=b; c"])
        | st.just(f"threadline_slack_state={state}")
        | junk_text.map(lambda value: f"threadline_slack_state={value}")
        # Malformed neighbours, which made http.cookies drop the whole header
        | st.sampled_from(['theme="dark; ', "cart=a b; ", "flag; ", "x=a\\b; ", "é=ü; "]).map(
            lambda neighbour: f"{neighbour}threadline_slack_state={state}"
        )
        | st.text(max_size=60)
    )
    headers = {"Cookie": cookie} if cookie else {}
    return Probe(
        "GET", "/slack/oauth_redirect" + query(params), headers, b"", "no install was started"
    )


# Admin --------------------------------------------------------------------------------------

GOOD_BEARERS = (f"Bearer {ADMIN_TOKEN}", f"bearer {ADMIN_TOKEN}")
BAD_BEARERS = st.sampled_from(
    [
        "",
        "Bearer",
        "Bearer ",
        f"Basic {ADMIN_TOKEN}",
        f"Bearer {ADMIN_TOKEN}x",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        "Bearer é",
        f"{ADMIN_TOKEN}",
    ]
) | junk_text.map(lambda token: f"Bearer {token}")


def admin_body(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["shop", "message", "link", "json", "not json", "deep", "huge"]))
    if kind == "message":
        message = {
            "channel": draw(st.sampled_from(["sms", "whatsapp", "email"]) | junk_text),
            "to": draw(
                st.sampled_from([CUSTOMER, f"whatsapp:{CUSTOMER}", "ana@example.com"]) | some_text
            ),
            "text": draw(st.sampled_from(["Olá!", "x" * 4001]) | some_text),
        }
        message.update(
            draw(
                st.dictionaries(
                    st.sampled_from(["id", "name", "subject", "x"]), json_values, max_size=2
                )
            )
        )
        return json.dumps(message).encode()
    if kind == "link":
        return json.dumps(
            {"address": draw(st.sampled_from([CUSTOMER, "ana@example.com"]) | some_text)}
        ).encode()
    if kind == "shop":
        document = shop_document()
        for name in draw(st.lists(st.sampled_from(sorted(document)), max_size=2, unique=True)):
            document[name] = draw(json_values)
        return json.dumps(document).encode()
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "not json":
        return draw(not_json)
    if kind == "deep":
        return draw(deep_json)
    return json.dumps({"text": "x" * HUGE, "to": ["+5511987654321"]}).encode()


# Admin routes that call Slack or Twilio for a shop that exists.
CALLING_PROVIDERS = frozenset(
    {
        "/admin/shops/{shop_id}/twilio/connect",
        "/admin/shops/{shop_id}/checks",
        "/admin/shops/{shop_id}/telegram/connect",
    }
)


@st.composite
def admin_request(
    draw: st.DrawFn, method: str, template: str, route_types: tuple[str, ...]
) -> Probe:
    path = template.replace("{shop_id}", draw(st.just("ana") | segment))
    for name in ("conversation_id", "customer", "address"):
        path = path.replace("{" + name + "}", draw(st.just(quote(CUSTOMER, safe="")) | segment))
    path += query(draw(query_params))
    authorized = draw(st.booleans())
    authorization = draw(st.sampled_from(GOOD_BEARERS) if authorized else BAD_BEARERS)
    headers = {"Authorization": authorization} if authorization else {}
    body = admin_body(draw) if method in ("PUT", "POST") else draw(st.just(b"") | not_json)
    content_type = draw(st.sampled_from([JSON]) | content_types)
    headers = with_content_type(headers, content_type)
    if template in CALLING_PROVIDERS and authorized:
        # Connecting or checking a real shop calls Twilio and Slack; only refusals are
        # probed here.
        path = path.replace("/admin/shops/ana/", "/admin/shops/zed/").replace(
            "/admin/shops/bob/", "/admin/shops/zed/"
        )
    reasons = [
        ("not signed in", not authorized),
        ("content type", method in ("PUT", "POST") and not accepts(route_types, content_type)),
    ]
    return Probe(method, path, headers, body, next((why for why, true in reasons if true), None))


# What a genuine media link's token may be made of, to change one of its characters to.
TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


@st.composite
def media_link(draw: st.DrawFn, genuine_link: Callable[[str, str], str]) -> Probe:
    """Links to agents' files: made up, genuine with one character changed, or genuine for a
    file the bucket does not hold."""
    path = genuine_link("ana", "ana/outbound/F0GONE/nota.pdf").removeprefix(PUBLIC_URL)
    kind = draw(st.sampled_from(["made up", "altered", "no such file"]))
    if kind == "no such file":
        return Probe("GET", path, {}, b"", "the file is not kept")
    if kind == "altered":
        token = path.removeprefix("/media/")
        at = draw(st.integers(0, len(token) - 1))
        other = draw(st.sampled_from(TOKEN_ALPHABET).filter(lambda c: c != token[at]))
        altered = f"/media/{token[:at]}{other}{token[at + 1 :]}"
        return Probe("GET", altered, {}, b"", "an altered link")
    token = draw(some_text.filter(bool) | st.sampled_from(["a.b", ".", "AAAA.AAAA", "é"]))
    return Probe("GET", "/media/" + quote(token, safe=""), {}, b"", "a made-up link")


# Shopify ------------------------------------------------------------------------------------

# Bob's store (the `shops` fixture connects it); ana has no Shopify secret to sign with.
BOB_SHOPIFY_SECRET = "bob-shopify-webhook-secret"
SHOPIFY_TOPICS = (
    "orders/updated",
    "fulfillments/create",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
    "products/update",
)
SHOPIFY_SIGNINGS = ("missing", "another secret", "another body", "not base64", "empty")


@st.composite
def shopify_webhook(draw: st.DrawFn) -> Probe:
    # Bob's store often: only its requests get past the signature to what follows.
    shop_id = draw(st.just("bob") | st.sampled_from(SHOPS) | segment)
    kind = draw(st.sampled_from(["order", "order", "json", "not json", "deep", "huge"]))
    if kind == "order":
        body = json.dumps(
            {"id": draw(json_scalars), "phone": CUSTOMER, "customer": draw(json_values)}
        ).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "not json":
        body = draw(not_json)
    elif kind == "deep":
        body = draw(deep_json)
    else:
        body = json.dumps({"email": "x" * HUGE}).encode()
    signing = draw(st.just("valid") | st.sampled_from(SHOPIFY_SIGNINGS))
    signed_body = body + b" " if signing == "another body" else body
    secret = "another" if signing == "another secret" else BOB_SHOPIFY_SECRET
    digest = hmac.new(secret.encode(), signed_body, hashlib.sha256).digest()
    signature = {
        "missing": None,
        "not base64": "%%%",
        "empty": "",
    }.get(signing, base64.b64encode(digest).decode())
    headers: dict[str, str] = {}
    if signature is not None:
        headers["X-Shopify-Hmac-Sha256"] = signature
    webhook_id = draw(st.integers(0, 10**9).map(lambda n: f"w-{n}") | st.just("") | junk_text)
    topic = draw(st.sampled_from(SHOPIFY_TOPICS) | st.sampled_from(SHOPIFY_TOPICS) | junk_text)
    headers.update({"X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Topic": topic})
    headers["X-Shopify-Shop-Domain"] = "bobs-bikes.myshopify.com"
    content_type = draw(st.sampled_from([JSON]) | content_types)
    headers = with_content_type(headers, content_type)
    reasons = [
        ("no Shopify store", shop_id != "bob"),
        (f"signature {signing}", signing != "valid"),
        ("not JSON", not accepts((JSON,), content_type)),
    ]
    return Probe(
        "POST",
        f"/webhooks/shopify/{shop_id}",
        headers,
        body,
        next((why for why, true in reasons if true), None),
    )


# WooCommerce --------------------------------------------------------------------------------

# Carol's store (the `shops` fixture connects it); ana and bob have no WooCommerce secret.
CAROL_WOOCOMMERCE_SECRET = "carol-woocommerce-webhook-secret"
WOOCOMMERCE_TOPICS = ("order.updated", "order.created", "product.updated", "action.woocommerce")


@st.composite
def woocommerce_webhook(draw: st.DrawFn) -> Probe:
    shop_id = draw(st.just("carol") | st.sampled_from(SHOPS) | segment)
    kind = draw(st.sampled_from(["order", "order", "json", "not json", "deep", "huge", "ping"]))
    if kind == "order":
        billing = {"phone": CUSTOMER, "email": draw(json_values)}
        body = json.dumps({"id": draw(json_scalars), "billing": billing}).encode()
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "not json":
        body = draw(not_json)
    elif kind == "deep":
        body = draw(deep_json)
    elif kind == "ping":
        body = f"webhook_id={draw(st.integers(0, 10**6))}".encode()
    else:
        body = json.dumps({"billing": {"email": "x" * HUGE}}).encode()
    signing = draw(st.just("valid") | st.sampled_from(SHOPIFY_SIGNINGS))
    signed_body = body + b" " if signing == "another body" else body
    secret = "another" if signing == "another secret" else CAROL_WOOCOMMERCE_SECRET
    digest = hmac.new(secret.encode(), signed_body, hashlib.sha256).digest()
    signature = {
        "missing": None,
        "not base64": "%%%",
        "empty": "",
    }.get(signing, base64.b64encode(digest).decode())
    headers: dict[str, str] = {}
    if signature is not None:
        headers["X-WC-Webhook-Signature"] = signature
    delivery_id = draw(st.integers(0, 10**9).map(str) | st.just("") | junk_text)
    topic = draw(st.sampled_from(WOOCOMMERCE_TOPICS) | junk_text)
    headers.update({"X-WC-Webhook-Delivery-ID": delivery_id, "X-WC-Webhook-Topic": topic})
    content_type = draw(st.sampled_from([JSON, FORM]) | content_types)
    headers = with_content_type(headers, content_type)
    # The unsigned ping is acknowledged whoever it names; a signed request is checked.
    ping = signature is None and kind == "ping"
    reasons = [
        ("not JSON or a form", not accepts((JSON, FORM), content_type)),
        ("no WooCommerce store", shop_id != "carol" and not ping),
        (f"signature {signing}", signing != "valid" and not ping),
    ]
    return Probe(
        "POST",
        f"/webhooks/woocommerce/{shop_id}",
        headers,
        body,
        next((why for why, true in reasons if true), None),
    )


# Meta (WhatsApp Cloud API, Messenger, Instagram) ---------------------------------------------

META_SIGNINGS = ("missing", "another secret", "changed after signing", "not hex", "not ascii")


def meta_body(draw: st.DrawFn) -> bytes:
    kind = draw(
        st.sampled_from(["whatsapp", "messaging", "json", "not json", "deep", "huge", "unicode"])
    )
    if kind == "whatsapp":
        message = {
            "from": draw(st.sampled_from(["5511987654321", "", "+1 x"]) | junk_text),
            "id": draw(st.sampled_from(["wamid.A", ""]) | junk_text),
            "timestamp": draw(json_scalars),
            "type": draw(st.sampled_from(["text", "image", "reaction", "location", "x"])),
            "text": draw(json_values),
            "image": draw(json_values),
        }
        value = {
            "metadata": {"phone_number_id": draw(st.sampled_from(["1", "106540352242922"]))},
            "messages": draw(st.just([message]) | json_values),
            "statuses": draw(json_values),
            "contacts": draw(json_values),
        }
        document: Any = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
        }
    elif kind == "messaging":
        document = {
            "object": draw(st.sampled_from(["page", "instagram"])),
            "entry": [{"id": draw(junk_text), "messaging": draw(json_values)}],
        }
    elif kind == "json":
        document = draw(json_values)
    elif kind == "not json":
        return draw(not_json)
    elif kind == "deep":
        return draw(deep_json)
    elif kind == "unicode":
        return json.dumps(
            {"object": "page", "entry": [{"id": "é" * 50}]}, ensure_ascii=False
        ).encode()
    else:
        document = {"object": "page", "entry": [{"id": "1", "messaging": ["x" * HUGE]}]}
    return json.dumps(document).encode()


@st.composite
def meta_webhook(draw: st.DrawFn, app_secret: str) -> Probe:
    body = meta_body(draw)
    signing = draw(st.just("valid") | st.sampled_from(META_SIGNINGS))
    digest = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-Hub-Signature-256": f"sha256={digest}"}
    if signing == "missing":
        headers = {}
    elif signing == "another secret":
        other = hmac.new(b"not-the-secret", body, hashlib.sha256).hexdigest()
        headers = {"X-Hub-Signature-256": f"sha256={other}"}
    elif signing == "changed after signing":
        body = body + b" "
    elif signing == "not hex":
        headers = {"X-Hub-Signature-256": "sha256=" + draw(junk_text)}
    elif signing == "not ascii":
        headers = {"X-Hub-Signature-256": "sha256=é" + digest[1:]}
    content_type = draw(st.sampled_from([JSON]) | content_types)
    headers = with_content_type(headers, content_type)
    reasons = [
        (f"signature {signing}", signing != "valid"),
        ("not JSON", not accepts((JSON,), content_type)),
    ]
    return Probe(
        "POST", "/webhooks/meta", headers, body, next((why for why, true in reasons if true), None)
    )


@st.composite
def meta_handshake(draw: st.DrawFn, verify_token: str) -> Probe:
    params = {
        "hub.mode": draw(st.sampled_from(["subscribe", "", "unsubscribe"]) | junk_text),
        "hub.verify_token": draw(st.sampled_from([verify_token, "", "é"]) | junk_text),
        "hub.challenge": draw(st.sampled_from(["1158201444", ""]) | some_text),
    }
    for name in draw(st.lists(st.sampled_from(sorted(params)), max_size=2, unique=True)):
        del params[name]
    right = params.get("hub.mode") == "subscribe" and params.get("hub.verify_token") == verify_token
    return Probe(
        "GET",
        f"/webhooks/meta?{urlencode(params)}",
        {},
        b"",
        None if right else "verify token refused",
    )

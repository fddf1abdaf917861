"""The admin API's conversations: pages with filters and a cursor, a transcript as JSON, CSV
or HTML; and its OpenAPI document, valid and true to the routes and models."""

import base64
import csv
import io
import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from app import app
from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN, PUBLIC_URL
from tests.openapi_schemas import OPENAPI, current_schemas
from tests.signing import form, slack_headers, slack_thread_reply, twilio_headers, twilio_message


def customer_writes(client: Any, n: int, sender: str, body: str) -> None:
    params = twilio_message(n, From=sender, Body=body)
    path = "/webhooks/twilio/ana"
    client.http.post(path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params))


def get(client: Any, path: str) -> Any:
    return client.http.get(path, headers=ADMIN)


@pytest.fixture
def three_conversations(client, shop, run_workers, slack: FakeSlack) -> list[str]:
    for n, sender in enumerate(("+5511900000001", "+5511900000002", "+5511900000003"), 1):
        customer_writes(client, n, sender, f"Mensagem {n} =SUM(A1)")
        run_workers()
    return [root.ts for root in slack.roots()]


def test_conversations_come_in_pages_newest_first_and_filter(client, three_conversations):
    first = json.loads(get(client, "/admin/shops/ana/conversations?limit=2").body)
    assert [c["customer_address"] for c in first["conversations"]] == [
        "+5511900000003",
        "+5511900000002",
    ]
    rest = json.loads(
        get(client, f"/admin/shops/ana/conversations?limit=2&cursor={first['next_cursor']}").body
    )
    assert [c["customer_address"] for c in rest["conversations"]] == ["+5511900000001"]
    open_ones = json.loads(get(client, "/admin/shops/ana/conversations?status=open").body)
    assert len(open_ones["conversations"]) == 3
    none = json.loads(get(client, "/admin/shops/ana/conversations?channel=whatsapp").body)
    assert none == {"conversations": [], "next_cursor": None}


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("status=closed", "status must be one of"),
        ("limit=1000", "limit must be 1 to 100"),
        ("colour=red", "unknown parameter colour"),
        ("cursor=bm90IGEga2V5", "invalid cursor"),
    ],
)
def test_bad_parameters_are_refused_with_a_reason(client, shop, query, reason):
    response = get(client, f"/admin/shops/ana/conversations?{query}")
    assert response.status_code == 400
    assert reason in json.loads(response.body)["error"]


def cursor_of(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def nested(depth: int) -> object:
    value: object = "2026-11-20T10:00:00+00:00"
    for _ in range(depth):
        value = [value]
    return value


GOOD_KEY = {
    "PK": "SHOP#ana#CONV#01JCONVERSATION0000000000",
    "SK": "CONVERSATION",
    "GSI1PK": "SHOP#ana#CONVERSATIONS",
    "GSI1SK": "2026-11-20T10:00:00+00:00",
}


@pytest.mark.parametrize(
    "query",
    [
        # Digits that pass str.isdigit but not int(), or int() but not a plain reading
        "limit=%C2%B2",
        "limit=%D9%A3",
        "limit=%201",
        "limit=1_0",
        "limit=-1",
        "limit=",
        # Cursors DynamoDB would refuse (moto takes them): values that are not strings
        f"cursor={cursor_of(GOOD_KEY | {'GSI1SK': 5})}",
        f"cursor={cursor_of(GOOD_KEY | {'PK': ['SHOP#ana#CONV#x']})}",
        f"cursor={cursor_of(GOOD_KEY | {'SK': {'S': 'CONVERSATION'}})}",
        f"cursor={cursor_of(GOOD_KEY | {'GSI1SK': None})}",
        # Cursors naming another shop's item, or no item a page ends on
        f"cursor={cursor_of(GOOD_KEY | {'PK': 'SHOP#bob#CONV#01JCONVERSATION0000000000'})}",
        f"cursor={cursor_of(GOOD_KEY | {'SK': 'PROFILE'})}",
        f"cursor={cursor_of(GOOD_KEY | {'PK': 'SHOP#ana#CONV#' + 'x' * 3000})}",
        f"cursor={cursor_of(GOOD_KEY | {'GSI1SK': 'é' * 2000})}",
        # Nested past any parser's patience
        f"cursor={base64.urlsafe_b64encode(b'[' * 50_000).decode()}",
        f"cursor={cursor_of(GOOD_KEY | {'GSI1SK': nested(900)})}",
    ],
    ids=[
        "superscript two",
        "arabic-indic three",
        "leading space",
        "underscore",
        "negative",
        "empty",
        "number sort key",
        "list partition key",
        "typed sort key",
        "null sort key",
        "another shops item",
        "not a conversation",
        "partition key too long",
        "sort key not a time",
        "deep array",
        "deep sort key",
    ],
)
def test_malformed_limits_and_cursors_are_a_400_not_a_503(client, three_conversations, query):
    # Given a shop with conversations
    # When its list is asked for with a parameter nobody should send
    response = get(client, f"/admin/shops/ana/conversations?{query}")
    # Then it is refused as bad input, not answered "try again"
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"] in ("limit must be 1 to 100", "invalid cursor")


def test_a_well_formed_cursor_of_this_shop_still_pages(client, three_conversations):
    # Given a cursor in the shape the query gives, for an instant after every conversation
    key = GOOD_KEY | {"GSI1SK": "2999-01-01T00:00:00+00:00"}
    # When it is used, then the page starts there (with everything older)
    response = get(client, f"/admin/shops/ana/conversations?cursor={cursor_of(key)}")
    assert response.status_code == 200, response.body
    assert len(json.loads(response.body)["conversations"]) == 3


def test_a_cursor_of_another_shop_is_refused(client, put_shop, three_conversations):
    from tests.signing import shop_document

    document = shop_document()
    document["twilio"]["sms_numbers"] = ["+14155550999"]
    document["twilio"]["whatsapp_numbers"] = []
    assert put_shop("bob", document).status_code == 201
    page = json.loads(get(client, "/admin/shops/ana/conversations?limit=1").body)
    response = get(client, f"/admin/shops/bob/conversations?cursor={page['next_cursor']}")
    assert response.status_code == 400


def test_a_transcript_as_json_csv_and_html(client, three_conversations, run_workers, container):
    # Given a conversation with an agent's reply
    conversation = container.store.conversations.find_open_conversation("ana", "+5511900000001")
    reply = slack_thread_reply(
        three_conversations[0], "1764000500.000100", "Olá &lt;b&gt;!&lt;/b&gt;"
    )
    client.http.post("/slack/events", headers=slack_headers(reply), body=reply)
    run_workers()
    path = f"/admin/shops/ana/conversations/{conversation.conversation_id}"

    transcript = json.loads(get(client, path).body)["transcript"]
    assert [(e["author"], e["text"]) for e in transcript] == [
        ("customer", "Mensagem 1 =SUM(A1)"),
        ("agent", "Olá <b>!</b>\n— Bia"),
    ]
    assert transcript[1]["delivery"] == "queued"

    exported = get(client, path + "?format=csv")
    assert exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.body.decode())))
    assert rows[0] == ["at", "author", "name", "text", "attachments", "delivery"]
    assert rows[1][3] == "Mensagem 1 =SUM(A1)"
    page = get(client, path + "?format=html").body.decode()
    assert "Olá &lt;b&gt;!&lt;/b&gt;" in page
    assert '<p dir="auto">' in page

    assert get(client, path + "?format=pdf").status_code == 400
    assert get(client, "/admin/shops/ana/conversations/01NOSUCH").status_code == 404


def test_the_admin_routes_need_the_token(client, shop):
    for path in ("/admin/shops/ana/conversations", "/admin/openapi.json"):
        assert client.http.get(path).status_code == 401


def test_the_openapi_document_is_valid_served_and_true_to_the_routes_and_models(client):
    document = json.loads(OPENAPI.read_text())
    validate(document)
    assert json.loads(get(client, "/admin/openapi.json").body) == document
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    routed = {
        (path, method)
        for path, entries in app.routes.items()
        if path.startswith("/admin")
        for method in entries
    }
    assert documented == routed
    for name, schema in current_schemas().items():
        assert document["components"]["schemas"][name] == schema, name

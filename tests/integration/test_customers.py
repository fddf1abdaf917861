"""One customer across channels: the same phone number on SMS and WhatsApp is one customer;
the shop links an email address to it; a new conversation from any of their addresses links
to the latest earlier one, and the admin finds them by any address or by name."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from tests.fakes import FakeSlack
from tests.integration.conftest import ADMIN, PUBLIC_URL, Clock
from tests.integration.test_data_rights import table_items
from tests.integration.test_email import deliver, mime
from tests.signing import form, shop_document, twilio_headers, twilio_message

PHONE = "+5511987654321"
EMAIL = "ana@example.com.br"


def writes(client: Any, n: int, **fields: str) -> None:
    params = twilio_message(n, **fields)
    path = "/webhooks/twilio/ana"
    headers = twilio_headers(PUBLIC_URL + path, params)
    assert client.http.post(path, headers=headers, body=form(params)).status_code == 200


def admin(client: Any, method: str, path: str, body: object = None) -> tuple[int, Any]:
    call = getattr(client.http, method)
    headers = {**ADMIN, "Content-Type": "application/json"}
    kwargs = {"body": json.dumps(body)} if body is not None else {}
    response = call(path, headers=headers, **kwargs)
    return response.status_code, json.loads(response.body)


def find(client: Any, q: str) -> list[dict[str, Any]]:
    status, found = admin(client, "get", f"/admin/shops/ana/customers?q={quote(q)}")
    assert status == 200, found
    return list(found["customers"])


@pytest.fixture
def ana(client, put_shop, run_workers) -> None:
    """Ana wrote by SMS, then from the same number on WhatsApp."""
    document = shop_document(email={"address": "support@lojadaana.com.br"})
    assert put_shop("ana", document).status_code == 201
    boto3.client("sesv2").create_email_identity(EmailIdentity="lojadaana.com.br")
    writes(client, 1, From=PHONE, Body="Oi, pelo SMS")
    run_workers()
    writes(client, 2, From=f"whatsapp:{PHONE}", To="whatsapp:+14155550101", ProfileName="Ana Souza")
    run_workers()


def test_the_same_number_on_two_channels_is_one_customer_found_by_either_or_by_name(client, ana):
    for query in (PHONE, f"whatsapp:{PHONE}", "souza", "ANA S"):
        [customer] = find(client, query)
        assert customer["customer_id"] is None
        assert customer["name"] == "Ana Souza"
        # The number on the WhatsApp Cloud API is the same person too.
        assert [a["channel"] for a in customer["addresses"]] == [
            "sms",
            "whatsapp_cloud",
            "whatsapp",
        ]
        channels = [c["channel"] for c in customer["conversations"]]
        assert channels == ["whatsapp", "sms"]
    assert find(client, "+5511900000000") == []
    assert find(client, "Bruno") == []


def test_a_linked_email_continues_from_the_latest_thread_and_is_found_with_the_rest(
    client, ana, run_workers, slack: FakeSlack, container
):
    # When the shop links Ana's email address to her number
    status, customer = admin(
        client, "post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"address": EMAIL}
    )
    assert status == 200, customer
    assert customer["customer_id"]
    assert [a["address"] for a in customer["addresses"]] == [
        PHONE,
        EMAIL,
        f"wa:{PHONE}",
        f"whatsapp:{PHONE}",
    ]

    # And Ana then mails the shop
    deliver(mime("Oi, agora por email", sender=f"Ana Souza <{EMAIL}>"))
    run_workers()

    # Then the mail's card links to her latest thread (WhatsApp), which links forward
    whatsapp = container.store.conversations.find_open_conversation("ana", f"whatsapp:{PHONE}")
    mail = container.store.conversations.find_open_conversation("ana", EMAIL)
    assert mail.previous_conversation_id == whatsapp.conversation_id
    [card] = [root for root in slack.roots() if root.ts == mail.slack_thread_ts]
    assert "The customer wrote before, on WhatsApp: <" in json.dumps(card.message.blocks)
    forward = slack.thread(whatsapp.slack_thread_ts)[-1].message.text
    assert forward.startswith(":arrow_right: The customer wrote again, on Email: <")
    # And any of her addresses finds all three conversations
    [found] = find(client, EMAIL)
    assert found["customer_id"] == customer["customer_id"]
    assert sorted(c["channel"] for c in found["conversations"]) == ["email", "sms", "whatsapp"]


def test_linking_two_linked_customers_merges_them_and_unlinking_takes_one_address_out(client, ana):
    other_phone, other_email = "+5511900000002", "ana.souza@example.org"
    admin(client, "post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"address": EMAIL})
    admin(
        client,
        "post",
        f"/admin/shops/ana/customers/{quote(other_phone)}/links",
        {"address": other_email},
    )

    status, merged = admin(
        client, "post", f"/admin/shops/ana/customers/{quote(EMAIL)}/links", {"address": other_email}
    )

    assert status == 200
    twins = ("whatsapp", "whatsapp_cloud")
    identities = {a["address"] for a in merged["addresses"] if a["channel"] not in twins}
    assert identities == {PHONE, EMAIL, other_phone, other_email}
    profiles = [i for i in table_items() if i["SK"]["S"] == "PROFILE"]
    assert len(profiles) == 1

    status, remaining = admin(
        client, "delete", f"/admin/shops/ana/customers/{quote(PHONE)}/links/{quote(other_email)}"
    )
    assert status == 200
    assert other_email not in {a["address"] for a in remaining["addresses"]}
    # The address taken out is nobody's any more: it never wrote
    assert find(client, other_email) == []
    [linked_phone] = find(client, other_phone)
    assert linked_phone["customer_id"] == merged["customer_id"]
    # Down to one identity, a profile is no profile
    for address in (other_phone, EMAIL):
        admin(client, "delete", f"/admin/shops/ana/customers/{quote(PHONE)}/links/{quote(address)}")
    assert not [i for i in table_items() if i["SK"]["S"] == "PROFILE"]
    assert not [i for i in table_items() if "#IDENTITY#" in i["PK"]["S"]]


def test_export_and_erasure_cover_every_linked_address(client, ana, run_workers):
    admin(client, "post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"address": EMAIL})
    deliver(mime("Oi, agora por email", sender=f"Ana Souza <{EMAIL}>"))
    run_workers()

    status, exported = admin(client, "get", f"/admin/shops/ana/customers/{quote(EMAIL)}")
    assert status == 200
    assert exported["linked_identities"] == [PHONE, EMAIL]
    assert len(exported["conversations"]) == 3

    status, receipt = admin(client, "delete", f"/admin/shops/ana/customers/{quote(EMAIL)}")
    assert status == 200
    assert receipt["conversations"] == 3
    dump = json.dumps(table_items(), ensure_ascii=False)
    for trace in (PHONE, EMAIL, "Ana Souza"):
        assert trace not in dump, trace


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/admin/shops/ana/customers?q=a", None, 400),
        ("get", "/admin/shops/nope/customers?q=ana", None, 404),
        ("post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"address": "nope"}, 400),
        ("post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"phone": PHONE}, 400),
        ("post", "/admin/shops/ana/customers/12/links", {"address": EMAIL}, 400),
        (
            "post",
            f"/admin/shops/ana/customers/{quote(PHONE)}/links",
            {"address": f"whatsapp:{PHONE}"},
            409,
        ),
        ("delete", f"/admin/shops/ana/customers/{quote(PHONE)}/links/{quote(EMAIL)}", None, 404),
    ],
)
def test_bad_requests_get_a_reason_and_change_nothing(client, ana, method, path, body, status):
    before = table_items()
    answered, reason = admin(client, method, path, body)
    assert answered == status
    assert reason["error"]
    assert table_items() == before


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b'{"address": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
        json.dumps({"address": EMAIL, "x": json.loads("[" * 40 + "]" * 40)}).encode(),
        b'{"address": NaN}',
        b"\xff\xfe\x00{",
    ],
    ids=["unclosed arrays", "deep but closed", "past the depth bound", "NaN", "not UTF-8"],
)
def test_a_link_body_nested_too_deep_or_not_json_is_a_400(client, ana, body):
    # Given a customer
    before = table_items()
    # When a link is asked for with a body no JSON reader should walk
    response = client.http.post(
        f"/admin/shops/ana/customers/{quote(PHONE)}/links",
        headers={**ADMIN, "Content-Type": "application/json"},
        body=body,
    )
    # Then it is refused as bad input (not a 503 to retry), and nothing changes
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"]
    assert table_items() == before


def test_customer_routes_need_the_token(client, ana):
    assert client.http.get(f"/admin/shops/ana/customers?q={quote(PHONE)}").status_code == 401


def test_a_shops_retention_period_applies_to_its_customers_links(client, put_shop, clock: Clock):
    clock.now = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
    assert put_shop("ana", shop_document(retention_days=30)).status_code == 201

    admin(client, "post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"address": EMAIL})

    expected = int((clock.now + timedelta(days=30)).timestamp())
    linked = [
        i for i in table_items() if "#CUSTOMER#" in i["PK"]["S"] or "#IDENTITY#" in i["PK"]["S"]
    ]
    assert len(linked) == 3
    assert {int(i["expires_at"]["N"]) for i in linked} == {expected}


def link(client: Any, address: str) -> tuple[int, Any]:
    return admin(
        client, "post", f"/admin/shops/ana/customers/{quote(PHONE)}/links", {"address": address}
    )


def refuse_in_past_100_operands(dynamodb: Any) -> None:
    """What DynamoDB does and moto does not: an IN takes at most 100 operands (a
    ValidationException, "Too many operands for IN")."""
    import re

    from botocore.exceptions import ClientError

    def check(params: dict[str, Any], **_: Any) -> None:
        for expression in (params.get("FilterExpression"), params.get("ConditionExpression")):
            for operands in re.findall(r"\bIN \(([^)]*)\)", expression or ""):
                if operands.count(",") + 1 > 100:
                    error = {"Code": "ValidationException", "Message": "Too many operands for IN"}
                    raise ClientError({"Error": error}, "Query")

    dynamodb.meta.events.register("provide-client-params.dynamodb.*", check)


def test_a_customer_has_at_most_fifty_addresses_and_one_more_is_refused_not_503(client, ana):
    # Given a customer with 50 linked numbers (theirs and 49 others)
    for n in range(49):
        assert link(client, f"+55119000{n:05d}")[0] == 200
    # When the shop links one more
    status, answer = link(client, "+5511900099999")
    # Then it is refused saying why (503 would tell the client to retry what never works)
    assert status == 409, answer
    assert "at most 50" in answer["error"]


def test_a_customer_linked_to_many_numbers_before_the_cap_can_still_be_exported_and_erased(
    client, ana, container
):
    # Given a customer linked, before links were capped at 50, to 60 numbers: 120 addresses
    # with their WhatsApp twins, more than one IN of DynamoDB takes
    from chalicelib.domain.customers import CustomerProfile

    identities = tuple(sorted({PHONE, *(f"+55119000{n:05d}" for n in range(59))}))
    profile = CustomerProfile(
        shop_id="ana",
        customer_id="01OLDPROFILE",
        identities=identities,
        linked_at=datetime.now(UTC),
    )
    container.store.profiles.save_profile(profile, [])
    refuse_in_past_100_operands(container.store.client)
    # When the customer is exported, then erased
    exported, _ = admin(client, "get", f"/admin/shops/ana/customers/{quote(PHONE)}")
    erased, receipt = admin(client, "delete", f"/admin/shops/ana/customers/{quote(PHONE)}")
    # Then both are done (not 503, which a retry can never mend)
    assert (exported, erased) == (200, 200), receipt
    assert receipt["conversations"] == 2

"""Who placed a Shopify order, asked by the order's id (`OrderContacts`): a refund's or a
shipment event's webhook names the order, never its customer. The answer gives the order's
name, the addresses of its customer (the order's own email and phone, and the customer
record's) and each shipment's tracking link. Nothing of it is logged."""

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from chalicelib.commerce.shopify import EmailAddress, PhoneNumber, ShopifyGraphQL, endpoint
from chalicelib.domain.errors import Retryable
from chalicelib.domain.order_updates import OrderContact
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.domain.shopify_webhooks import customer_addresses

# Shipments of one order whose tracking links are read.
FULFILMENTS_READ = 10

ORDER_CONTACT_QUERY = f"""
query ThreadlineOrderContact($id: ID!) {{
  order(id: $id) {{
    name
    email
    phone
    customer {{
      defaultEmailAddress {{ emailAddress }}
      defaultPhoneNumber {{ phoneNumber }}
    }}
    fulfillments(first: {FULFILMENTS_READ}) {{ id trackingInfo(first: 1) {{ url }} }}
  }}
}}
"""


class _Answer(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="ignore")


class _Customer(_Answer):
    defaultEmailAddress: EmailAddress | None = None
    defaultPhoneNumber: PhoneNumber | None = None


class _Tracking(_Answer):
    url: str | None = None


class _Fulfilment(_Answer):
    id: str
    trackingInfo: list[_Tracking] = []


class _Order(_Answer):
    name: str
    email: str | None = None
    phone: str | None = None
    customer: _Customer | None = None
    fulfillments: list[_Fulfilment] = []


def _numeric(gid: str) -> str:
    return gid.rsplit("/", 1)[-1]


def _web_link(url: str | None) -> str | None:
    return url if url and url.startswith(("https://", "http://")) else None


def _contact(order: _Order) -> OrderContact:
    customer = order.customer
    named: dict[str, Any] = {
        "email": order.email,
        "phone": order.phone,
        "customer": {
            "email": customer.defaultEmailAddress.emailAddress
            if customer and customer.defaultEmailAddress
            else None,
            "phone": customer.defaultPhoneNumber.phoneNumber
            if customer and customer.defaultPhoneNumber
            else None,
        },
    }
    tracking = {
        _numeric(fulfilment.id): url
        for fulfilment in order.fulfillments
        for info in fulfilment.trackingInfo[:1]
        if (url := _web_link(info.url)) is not None
    }
    return OrderContact(order.name, customer_addresses(named), tracking)


class ShopifyOrderContacts:
    def __init__(self, api_url: str | None = None) -> None:
        import requests

        self._api_url = api_url or None
        self._session = requests.Session()

    def order_contact(self, shop: Shop, secrets: ShopSecrets, order_id: str) -> OrderContact | None:
        """The order's contact, or None when the shop has no Shopify store or the order is
        gone; raises `Retryable` (down, throttled) and `CommerceRefused` as lookups do."""
        config = shop.shopify
        token = secrets.shopify_access_token
        if config is None or token is None or not order_id.isdigit():
            return None
        client = ShopifyGraphQL(
            self._session, endpoint(config, self._api_url), token.get_secret_value()
        )
        data = client.query(ORDER_CONTACT_QUERY, {"id": f"gid://shopify/Order/{order_id}"})
        found = data.get("order")
        if found is None:
            return None
        try:
            return _contact(_Order.model_validate(found))
        except ValidationError as error:
            raise Retryable("Shopify's order was not as expected") from error

"""An order's contact in the Shopify stand-in (`ThreadlineOrderContact`): the order by its
global id, with its customer's email and phone and its shipment's tracking link, as Shopify
answers `order(id:)`. An id that is no Order's global id is refused as Shopify refuses an
invalid variable; an order the store does not have is `null`."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from local_stack.sandbox.shopify_refunds import GraphQLRefusal

if TYPE_CHECKING:
    from local_stack.sandbox.shopify import SeededOrder, SeededStore

ORDER_CONTACT = "ThreadlineOrderContact"
_ORDER_GID = re.compile(r"^gid://shopify/Order/(?P<number>\d{1,20})$")


def fulfilment_gid(order: SeededOrder) -> str:
    """The global id of a seeded order's shipment (its latest): the id its webhooks carry."""
    return f"gid://shopify/Fulfillment/{order.fulfillment_id}"


def order_contact(store: SeededStore, variables: dict[str, Any]) -> dict[str, Any]:
    order_id = variables.get("id")
    if not isinstance(order_id, str) or not _ORDER_GID.match(order_id):
        raise GraphQLRefusal("Variable $id of type ID! was provided invalid value", "INVALID")
    for customer in store.customers:
        for order in customer.orders:
            if order.order_id != order_id:
                continue
            fulfillments = []
            if order.shipment is not None:
                url = order.shipment[4]
                tracking = [{"url": url}] if url else []
                fulfillments.append({"id": fulfilment_gid(order), "trackingInfo": tracking})
            return {
                "order": {
                    "name": order.name,
                    "email": customer.email,
                    "phone": customer.phone,
                    "customer": {
                        "defaultEmailAddress": {"emailAddress": customer.email}
                        if customer.email
                        else None,
                        "defaultPhoneNumber": {"phoneNumber": customer.phone}
                        if customer.phone
                        else None,
                    },
                    "fulfillments": fulfillments,
                }
            }
    return {"order": None}

"""Order updates sent first (`order_updates.send_updates`), as pure rules: which platform
event is an update worth telling, its id (what makes it sent once), and its words in the
customer's language.

An update is one event of the platform's own: a fulfilment and a later event of the same
fulfilment are two updates, a redelivered webhook is the same one. The customer is found by
the addresses the payload names (email, E.164 phone), never by name.
"""

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.shopify_webhooks import customer_addresses


class OrderEvent(StrEnum):
    FULFILMENT_CREATED = "fulfilment_created"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    REFUND_CREATED = "refund_created"
    ORDER_CANCELLED = "order_cancelled"


ALL_EVENTS = tuple(OrderEvent)


class OrderUpdatesConfig(BaseModel):
    """The shop's `order_updates` section (SHOP_CONFIG.md)."""

    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    # Answer "where is my order?" with the order's status and tracking link
    # (domain/order_status_answers.py).
    answer_status_questions: bool = False
    # Tell the customer first when their order ships, is out for delivery, is delivered,
    # refunded or cancelled: the events chosen here.
    send_updates: bool = False
    events: tuple[OrderEvent, ...] = ALL_EVENTS


@dataclass(frozen=True)
class OrderUpdate:
    event: OrderEvent
    # The platform's id of this event, namespaced by platform and kind ("shopify:fulfilment:7").
    event_id: str
    # The order as the customer knows it ("#1042"); empty when the payload does not say.
    order_name: str
    addresses: tuple[str, ...]
    tracking_url: str | None = None
    # The platform's ids of the order and the shipment, for what the payload leaves out (a
    # refund's or a shipment event's payload names no customer).
    order_id: str = ""
    fulfilment_id: str = ""
    # How long the event is remembered as told; None: as long as the platform redelivers.
    remembered_for: timedelta | None = None

    @property
    def incomplete(self) -> bool:
        """Whether the platform must be asked who placed the order (or what it is called)."""
        return bool(self.order_id) and (not self.addresses or not self.order_name)

    def completed(self, contact: "OrderContact") -> "OrderUpdate":
        """The update with what the platform says of its order: its name, its customer's
        addresses, the shipment's tracking link."""
        return replace(
            self,
            order_name=self.order_name or contact.name,
            addresses=self.addresses or contact.addresses,
            tracking_url=self.tracking_url or contact.tracking_urls.get(self.fulfilment_id),
        )


@dataclass(frozen=True)
class OrderContact:
    """An order as the platform tells it by id: its name, the addresses of whoever placed it
    (email in lower case, phone in E.164 and its twins) and each shipment's tracking link."""

    name: str
    addresses: tuple[str, ...]
    tracking_urls: dict[str, str] = field(default_factory=dict)


def _text(payload: dict[str, Any], name: str) -> str:
    value = payload.get(name)
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def _tracking_url(payload: dict[str, Any]) -> str | None:
    url = _text(payload, "tracking_url")
    if not url:
        urls = payload.get("tracking_urls")
        first = urls[0] if isinstance(urls, list) and urls else None
        url = first.strip() if isinstance(first, str) else ""
    # Only a web link is passed on to the customer.
    return url if url.startswith("https://") or url.startswith("http://") else None


_SHOPIFY_DELIVERY = {
    "out_for_delivery": OrderEvent.OUT_FOR_DELIVERY,
    "delivered": OrderEvent.DELIVERED,
}


def shopify_update(topic: str, payload: dict[str, Any]) -> OrderUpdate | None:
    """The update a Shopify webhook tells, or None when it tells the customer nothing new."""
    event_id = _text(payload, "id")
    if not event_id:
        return None
    addresses = customer_addresses(payload)
    order_id = _text(payload, "order_id")
    match topic.strip().lower():
        case "fulfillments/create":
            # A fulfilment is named after its order: "#1042.1".
            name = _text(payload, "name").rsplit(".", 1)[0]
            return OrderUpdate(
                OrderEvent.FULFILMENT_CREATED,
                f"shopify:fulfilment:{event_id}",
                name,
                addresses,
                _tracking_url(payload),
                order_id=order_id,
                fulfilment_id=event_id,
            )
        case "fulfillment_events/create":
            event = _SHOPIFY_DELIVERY.get(_text(payload, "status"))
            if event is None:
                return None
            return OrderUpdate(
                event,
                f"shopify:fulfilment_event:{event_id}",
                "",
                addresses,
                order_id=order_id,
                fulfilment_id=_text(payload, "fulfillment_id"),
            )
        case "refunds/create":
            return OrderUpdate(
                OrderEvent.REFUND_CREATED,
                f"shopify:refund:{event_id}",
                "",
                addresses,
                order_id=order_id,
            )
        case "orders/cancelled":
            return OrderUpdate(
                OrderEvent.ORDER_CANCELLED,
                f"shopify:cancelled:{event_id}",
                _text(payload, "name"),
                addresses,
            )
    return None


# WooCommerce's order statuses that are an update: "completed" is the store's word for an
# order sent (core WooCommerce has no shipments of its own).
# A WooCommerce order's status is no event with an id: every later `order.updated` of the
# order (a note, an edit, weeks on) carries it again, so it is remembered as told for as long
# as an order is talked about, not only for a redelivery's days.
WOOCOMMERCE_STATUS_MEMORY = timedelta(days=400)
_WOOCOMMERCE_STATUSES = {
    "completed": OrderEvent.FULFILMENT_CREATED,
    "refunded": OrderEvent.REFUND_CREATED,
    "cancelled": OrderEvent.ORDER_CANCELLED,
}


def woocommerce_update(topic: str, payload: dict[str, Any]) -> OrderUpdate | None:
    """The update a WooCommerce order webhook tells: the order reaching a status the
    customer is told of. WooCommerce sends `order.updated` on any change; the order reaching
    that status is the event, so a later change of something else tells nothing again."""
    if topic.strip().lower() != "order.updated":
        return None
    event = _WOOCOMMERCE_STATUSES.get(_text(payload, "status"))
    order_id = _text(payload, "id")
    if event is None or not order_id or _long_after_completion(event, payload):
        return None
    number = _text(payload, "number") or order_id
    billing = payload.get("billing")
    addresses = customer_addresses(billing) if isinstance(billing, dict) else ()
    return OrderUpdate(
        event,
        f"woocommerce:{order_id}:{event.value}",
        f"#{number}",
        addresses,
        remembered_for=WOOCOMMERCE_STATUS_MEMORY,
    )


# A completed order's change this long after it was completed is no news of its completion:
# an edit or a note of an order completed before the shop turned updates on, or before its
# customer first wrote (the save that completes it comes within seconds).
WOOCOMMERCE_COMPLETION_NEWS = timedelta(hours=1)


def _long_after_completion(event: OrderEvent, payload: dict[str, Any]) -> bool:
    """Whether a completed order's delivery is a change made long after its completion. Only
    a completion says when it happened (`date_completed_gmt`): a refund's or cancellation's
    moment is in no order payload, so those are told as they come (docs/SHOP_CONFIG.md)."""
    if event is not OrderEvent.FULFILMENT_CREATED:
        return False
    completed = _gmt(payload, "date_completed_gmt")
    modified = _gmt(payload, "date_modified_gmt")
    if completed is None or modified is None:
        return False
    return modified - completed > WOOCOMMERCE_COMPLETION_NEWS


def _gmt(payload: dict[str, Any], name: str) -> datetime | None:
    """A WooCommerce `*_gmt` time (ISO 8601 in UTC, no offset written); None if absent or
    malformed."""
    try:
        parsed = datetime.fromisoformat(_text(payload, name))
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


_WORDS: dict[str, dict[OrderEvent, str]] = {
    "en": {
        OrderEvent.FULFILMENT_CREATED: "Good news: your order {name} has shipped.",
        OrderEvent.OUT_FOR_DELIVERY: "Your order {name} is out for delivery today.",
        OrderEvent.DELIVERED: "Your order {name} has been delivered.",
        OrderEvent.REFUND_CREATED: "We have refunded your order {name}.",
        OrderEvent.ORDER_CANCELLED: "Your order {name} has been cancelled.",
    },
    "pt": {
        OrderEvent.FULFILMENT_CREATED: "Boa notícia: seu pedido {name} foi enviado.",
        OrderEvent.OUT_FOR_DELIVERY: "Seu pedido {name} saiu para entrega hoje.",
        OrderEvent.DELIVERED: "Seu pedido {name} foi entregue.",
        OrderEvent.REFUND_CREATED: "Reembolsamos seu pedido {name}.",
        OrderEvent.ORDER_CANCELLED: "Seu pedido {name} foi cancelado.",
    },
    "es": {
        OrderEvent.FULFILMENT_CREATED: "Buenas noticias: tu pedido {name} ha sido enviado.",
        OrderEvent.OUT_FOR_DELIVERY: "Tu pedido {name} está en reparto hoy.",
        OrderEvent.DELIVERED: "Tu pedido {name} ha sido entregado.",
        OrderEvent.REFUND_CREATED: "Hemos reembolsado tu pedido {name}.",
        OrderEvent.ORDER_CANCELLED: "Tu pedido {name} ha sido cancelado.",
    },
    "hu": {
        OrderEvent.FULFILMENT_CREATED: "Jó hír: a(z) {name} rendelését feladtuk.",
        OrderEvent.OUT_FOR_DELIVERY: "A(z) {name} rendelését ma kézbesítik.",
        OrderEvent.DELIVERED: "A(z) {name} rendelését kézbesítették.",
        OrderEvent.REFUND_CREATED: "A(z) {name} rendelés árát visszatérítettük.",
        OrderEvent.ORDER_CANCELLED: "A(z) {name} rendelését törölték.",
    },
    "id": {
        OrderEvent.FULFILMENT_CREATED: "Kabar baik: pesanan Anda {name} telah dikirim.",
        OrderEvent.OUT_FOR_DELIVERY: "Pesanan Anda {name} sedang diantar hari ini.",
        OrderEvent.DELIVERED: "Pesanan Anda {name} telah diterima.",
        OrderEvent.REFUND_CREATED: "Kami telah mengembalikan dana pesanan Anda {name}.",
        OrderEvent.ORDER_CANCELLED: "Pesanan Anda {name} telah dibatalkan.",
    },
    "hi": {
        OrderEvent.FULFILMENT_CREATED: "अच्छी खबर: आपका ऑर्डर {name} भेज दिया गया है।",
        OrderEvent.OUT_FOR_DELIVERY: "आपका ऑर्डर {name} आज डिलीवरी के लिए निकला है।",
        OrderEvent.DELIVERED: "आपका ऑर्डर {name} डिलीवर हो गया है।",
        OrderEvent.REFUND_CREATED: "हमने आपके ऑर्डर {name} का रिफ़ंड कर दिया है।",
        OrderEvent.ORDER_CANCELLED: "आपका ऑर्डर {name} रद्द कर दिया गया है।",
    },
    "ar": {
        OrderEvent.FULFILMENT_CREATED: "خبر سار: تم شحن طلبك {name}.",
        OrderEvent.OUT_FOR_DELIVERY: "طلبك {name} خرج للتوصيل اليوم.",
        OrderEvent.DELIVERED: "تم تسليم طلبك {name}.",
        OrderEvent.REFUND_CREATED: "لقد رددنا إليك مبلغ طلبك {name}.",
        OrderEvent.ORDER_CANCELLED: "تم إلغاء طلبك {name}.",
    },
}
_TRACK = {
    "en": "Track it here: {url}",
    "pt": "Acompanhe aqui: {url}",
    "es": "Síguelo aquí: {url}",
    "hu": "Itt követheti: {url}",
    "id": "Lacak di sini: {url}",
    "hi": "यहाँ ट्रैक करें: {url}",
    "ar": "تتبّعه هنا: {url}",
}


def update_text(update: OrderUpdate, language: str) -> str:
    """The update as the customer reads it, in their language (English when it is none of
    the shipped ones), with the tracking link when there is one."""
    words = _WORDS.get(language, _WORDS["en"])
    text = words[update.event].format(name=update.order_name)
    # An update that does not name its order reads as well without the name.
    text = text.replace("  ", " ").replace(" .", ".").replace(" ।", "।")
    if update.tracking_url:
        text += "\n" + _TRACK.get(language, _TRACK["en"]).format(url=update.tracking_url)
    return text

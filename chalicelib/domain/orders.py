"""A customer's orders with the shop, as a commerce platform (Shopify) tells them: pure records
and the rules that use them.

The summary kept on a conversation is short and bounded (the latest orders, lifetime figures)
and is only ever about the customer of that conversation: a customer is looked up by their
email addresses and phone numbers, never by name, and an order number typed in a thread is
matched against that customer's own orders alone. An order of someone else is never
described: the placeholders that would quote it are refused, with the reason, instead.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.domain.customers import identity

# Kept on a conversation: the latest orders (and the one the customer quoted, if older).
ORDERS_KEPT = 5
# Addresses a lookup asks about: a customer links a few, never dozens.
ADDRESSES_ASKED = 10
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_EMAIL = re.compile(r"^[^@\s\"\\]+@[^@\s\"\\]+\.[^@\s\"\\]+$")
_ORDER_DIGITS = re.compile(r"^#?\s?(\d{1,20})$")

ORDER_PLACEHOLDERS = frozenset(
    {
        "order_status",
        "tracking_url",
        "tracking_number",
        "carrier",
        "eta",
        "order_total",
        "order_date",
    }
)


class CommerceRefused(Exception):
    """The platform refused Threadline's credentials or query; retrying will not help until
    the shop's configuration changes. `reason` is short and safe to show and log."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Money(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True)

    amount: Decimal
    currency: str = Field(pattern=r"^[A-Z]{3}$")

    def shown(self) -> str:
        return f"{self.amount:.2f} {self.currency}"


class Order(BaseModel):
    """One order, as much of it as the card and the placeholders need. Statuses are the
    platform's, lower case with underscores ("paid", "partially_fulfilled", "in_transit")."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    number: str = Field(pattern=r"^\d{1,20}$")
    placed_at: datetime
    total: Money
    payment_status: str
    fulfilment_status: str
    # The latest shipment's state and tracking, once there is one.
    delivery_status: str | None = None
    cancelled: bool = False
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    estimated_delivery: datetime | None = None

    @property
    def name(self) -> str:
        return f"#{self.number}"


class LookupOutcome(StrEnum):
    FOUND = "found"
    # The platform knows no customer with any of the addresses.
    NOT_A_CUSTOMER = "not_a_customer"
    # The platform did not answer: retried; what was found before (if anything) is kept.
    UNAVAILABLE = "unavailable"
    # The platform refused the shop's credentials: shown with the reason, not retried.
    REFUSED = "refused"


class OrderSummary(BaseModel):
    """What a conversation keeps of its customer's orders: latest first, at most
    `ORDERS_KEPT`, with lifetime figures."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    outcome: LookupOutcome
    checked_at: datetime
    orders: tuple[Order, ...] = Field(default=(), max_length=ORDERS_KEPT)
    order_count: int = 0
    total_spent: Money | None = None
    # Why the platform refused (REFUSED only).
    reason: str | None = None

    def order(self, number: str) -> Order | None:
        return next((order for order in self.orders if order.number == number), None)


@dataclass(frozen=True)
class CustomerKeys:
    """Who to look up: the customer's email addresses and E.164 numbers (never a name), and
    the order number they quoted, which is looked for among their own orders only."""

    emails: tuple[str, ...]
    phones: tuple[str, ...]
    quoted_number: str | None = None

    @property
    def empty(self) -> bool:
        return not self.emails and not self.phones


def customer_keys(addresses: Iterable[str], quoted_number: str | None) -> CustomerKeys:
    """The lookup keys of a customer's addresses ("whatsapp:+…", "wa:+…", "+…", "x@y.z"):
    each once, emails in lower case, anything else left out; at most `ADDRESSES_ASKED`."""
    emails: list[str] = []
    phones: list[str] = []
    for address in addresses:
        # A number on WhatsApp (through Twilio or the Cloud API) is looked up as the number.
        value = identity(address.strip())
        if _E164.match(value) and value not in phones:
            phones.append(value)
        elif _EMAIL.match(value) and value.lower() not in emails:
            emails.append(value.lower())
    emails = emails[:ADDRESSES_ASKED]
    phones = phones[: ADDRESSES_ASKED - len(emails)]
    return CustomerKeys(tuple(emails), tuple(phones), order_digits(quoted_number))


def order_digits(typed: str | None) -> str | None:
    """An order number as typed ("#1042", "1042", "# 1042") reduced to its digits."""
    if typed is None:
        return None
    found = _ORDER_DIGITS.match(typed.strip())
    return found.group(1) if found else None


def summary(
    orders: Iterable[Order],
    *,
    order_count: int,
    total_spent: Money | None,
    checked_at: datetime,
    quoted_number: str | None = None,
) -> OrderSummary:
    """The summary of a customer found: their latest orders first, each once, bounded; the
    one they quoted kept among them even when it is older."""
    unique = {order.number: order for order in orders}
    latest = sorted(unique.values(), key=lambda order: order.placed_at, reverse=True)
    kept = latest[:ORDERS_KEPT]
    quoted = unique.get(quoted_number or "")
    if quoted is not None and quoted not in kept:
        kept = [*kept[: ORDERS_KEPT - 1], quoted]
    return OrderSummary(
        outcome=LookupOutcome.FOUND,
        checked_at=checked_at,
        orders=tuple(kept),
        order_count=max(order_count, len(unique)),
        total_spent=total_spent,
    )


def not_a_customer(checked_at: datetime) -> OrderSummary:
    return OrderSummary(outcome=LookupOutcome.NOT_A_CUSTOMER, checked_at=checked_at)


def unavailable(previous: OrderSummary | None, checked_at: datetime) -> OrderSummary:
    """The platform did not answer: what was known before is kept (it is still this
    customer's), marked unavailable."""
    if previous is None or previous.outcome is not LookupOutcome.FOUND:
        return OrderSummary(outcome=LookupOutcome.UNAVAILABLE, checked_at=checked_at)
    return previous.model_copy(update={"outcome": LookupOutcome.UNAVAILABLE})


def refused(reason: str, checked_at: datetime) -> OrderSummary:
    return OrderSummary(outcome=LookupOutcome.REFUSED, checked_at=checked_at, reason=reason)


def latest_first(orders: tuple[Order, ...]) -> tuple[Order, ...]:
    return tuple(sorted(orders, key=lambda order: order.placed_at, reverse=True))


@dataclass(frozen=True)
class OrderRefusal:
    """Why an order cannot be quoted: shown to the agent, never to the customer."""

    reason: str


def order_in_question(
    orders: OrderSummary | None, quoted_number: str | None
) -> Order | OrderRefusal:
    """The order a conversation is about: the number quoted (by the customer, or typed by the
    agent) if it is one of this customer's orders, else, with none quoted, their latest. A
    number that is not theirs gets a refusal that says nothing of that order."""
    if orders is None:
        return OrderRefusal("the customer's orders have not been looked up yet")
    if not orders.orders:
        if orders.outcome is LookupOutcome.NOT_A_CUSTOMER:
            return OrderRefusal("the shop has no customer with this customer's addresses")
        if orders.outcome is LookupOutcome.REFUSED:
            return OrderRefusal("the shop's orders are unavailable: " + (orders.reason or ""))
        if orders.outcome is LookupOutcome.UNAVAILABLE:
            return OrderRefusal("the customer's orders are unavailable just now")
        return OrderRefusal("the customer has no orders")
    digits = order_digits(quoted_number)
    if quoted_number is not None and quoted_number.strip() and digits is None:
        return OrderRefusal(f"{quoted_number.strip()[:20]!r} is not an order number")
    if digits is None:
        return latest_first(orders.orders)[0]
    found = orders.order(digits)
    if found is None:
        return OrderRefusal(
            f"#{digits} is not one of this customer's orders (as last looked up; "
            "press Refresh orders if it is new)"
        )
    return found


# How an order's state reads to the customer, in the shipped languages.
_STATUS_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "cancelled": "cancelled",
        "delivered": "delivered",
        "out_for_delivery": "out for delivery",
        "problem": "delayed: a delivery attempt failed",
        "shipped": "shipped",
        "preparing": "being prepared",
    },
    "pt": {
        "cancelled": "cancelado",
        "delivered": "entregue",
        "out_for_delivery": "saiu para entrega",
        "problem": "atrasado: uma tentativa de entrega falhou",
        "shipped": "enviado",
        "preparing": "em preparação",
    },
    "es": {
        "cancelled": "cancelado",
        "delivered": "entregado",
        "out_for_delivery": "en reparto",
        "problem": "retrasado: falló un intento de entrega",
        "shipped": "enviado",
        "preparing": "en preparación",
    },
    "hu": {
        "cancelled": "törölve",
        "delivered": "kézbesítve",
        "out_for_delivery": "kiszállítás alatt",
        "problem": "késik: egy kézbesítési kísérlet sikertelen volt",
        "shipped": "feladva",
        "preparing": "előkészítés alatt",
    },
    "id": {
        "cancelled": "dibatalkan",
        "delivered": "telah diterima",
        "out_for_delivery": "sedang diantar",
        "problem": "tertunda: upaya pengiriman gagal",
        "shipped": "telah dikirim",
        "preparing": "sedang disiapkan",
    },
    "hi": {
        "cancelled": "रद्द",
        "delivered": "डिलीवर हो गया",
        "out_for_delivery": "डिलीवरी के लिए निकला",
        "problem": "देरी: डिलीवरी का एक प्रयास विफल रहा",
        "shipped": "भेज दिया गया",
        "preparing": "तैयार किया जा रहा है",
    },
    "ar": {
        "cancelled": "ملغى",
        "delivered": "تم التسليم",
        "out_for_delivery": "خرج للتوصيل",
        "problem": "متأخر: فشلت محاولة توصيل",
        "shipped": "تم الشحن",
        "preparing": "قيد التجهيز",
    },
}
_DELIVERED = {"delivered", "picked_up"}
_OUT = {"out_for_delivery", "ready_for_pickup"}
_PROBLEM = {"attempted_delivery", "failure", "not_delivered"}


def order_state(order: Order) -> str:
    """Where an order is, in one of a few words the customer understands."""
    delivery = order.delivery_status or ""
    if order.cancelled:
        return "cancelled"
    if delivery in _DELIVERED:
        return "delivered"
    if delivery in _OUT:
        return "out_for_delivery"
    if delivery in _PROBLEM:
        return "problem"
    if delivery or order.fulfilment_status in ("fulfilled", "partially_fulfilled"):
        return "shipped"
    return "preparing"


def status_words(order: Order, language: str) -> str:
    words = _STATUS_WORDS.get(language, _STATUS_WORDS["en"])
    return words[order_state(order)]


def order_values(order: Order, language: str) -> dict[str, str]:
    """Every order placeholder's value; empty where the order has none yet."""
    return {
        "order_status": status_words(order, language),
        "tracking_url": order.tracking_url or "",
        "tracking_number": order.tracking_number or "",
        "carrier": order.carrier or "",
        "eta": order.estimated_delivery.date().isoformat() if order.estimated_delivery else "",
        "order_total": order.total.shown(),
        "order_date": order.placed_at.date().isoformat(),
    }


_MISSING = {
    "tracking_url": "has no tracking link yet",
    "tracking_number": "has no tracking number yet",
    "carrier": "has no carrier yet",
    "eta": "has no estimated delivery date",
}


def fill_order(
    used: Iterable[str],
    orders: OrderSummary | None,
    quoted_number: str | None,
    language: str,
) -> Mapping[str, str] | OrderRefusal:
    """The order placeholders a template uses, filled from the order the conversation is
    about; a refusal (never a blank) when there is no such order of this customer's, or it
    lacks what the template quotes. A template that uses none needs no order."""
    wanted = set(used) & ORDER_PLACEHOLDERS
    if not wanted:
        return {}
    order = order_in_question(orders, quoted_number)
    if isinstance(order, OrderRefusal):
        return order
    values = order_values(order, language)
    for name in sorted(wanted):
        if not values[name]:
            return OrderRefusal(f"order {order.name} {_MISSING[name]}")
    return {name: values[name] for name in wanted}

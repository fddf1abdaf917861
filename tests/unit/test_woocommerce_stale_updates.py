"""A WooCommerce order completed long before the delivery that carries its status (an edit
or a note weeks on, after the shop turned updates on or the customer first wrote) is no
news of its shipment; the save that completes it is."""

from typing import Any

import pytest

from chalicelib.domain.order_updates import OrderEvent, woocommerce_update

pytestmark = pytest.mark.unit


def _order(**changes: Any) -> dict[str, Any]:
    return {
        "id": 727,
        "number": "727",
        "status": "completed",
        "billing": {"email": "ana@example.com", "phone": "+5511987654321"},
        "date_completed_gmt": "2026-10-01T12:00:00",
        "date_modified_gmt": "2026-10-01T12:00:02",
        **changes,
    }


def test_the_save_that_completes_the_order_is_told() -> None:
    update = woocommerce_update("order.updated", _order())

    assert update is not None
    assert update.event is OrderEvent.FULFILMENT_CREATED


def test_a_change_weeks_after_the_completion_is_not() -> None:
    assert (
        woocommerce_update("order.updated", _order(date_modified_gmt="2026-11-20T09:00:00")) is None
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"date_completed_gmt": None},
        {"date_modified_gmt": "yesterday"},
        {"status": "refunded", "date_modified_gmt": "2026-11-20T09:00:00"},
    ],
)
def test_without_a_completion_time_to_compare_the_update_is_told(changes: dict[str, Any]) -> None:
    assert woocommerce_update("order.updated", _order(**changes)) is not None

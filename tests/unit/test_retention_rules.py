"""Each retention period a shop may choose has its S3 lifecycle rule, in every bucket that
holds customers' files or raw mail, so the shop JSON and the template cannot drift apart."""

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.domain.shop import RETENTION_DAYS, Shop
from chalicelib.media import RETENTION_TAG

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.json"


def resources() -> dict[str, Any]:
    return dict(json.loads(TEMPLATE.read_text(encoding="utf-8"))["Resources"])


def customer_buckets() -> dict[str, str]:
    """The media bucket the workers write to, and the bucket SES stores received mail in."""
    found = resources()
    media = found["ProcessInbound"]["Properties"]["Environment"]["Variables"]
    [action] = found["StoreAndNotifyRule"]["Properties"]["Rule"]["Actions"]
    return {
        "media": media["THREADLINE_MEDIA_BUCKET"]["Ref"],
        "mail": action["S3Action"]["BucketName"]["Ref"],
    }


@pytest.mark.parametrize("holds", ["media", "mail"])
def test_every_allowed_retention_has_its_lifecycle_rule(holds: str) -> None:
    bucket = resources()[customer_buckets()[holds]]
    rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
    expiring = {
        int(rule["TagFilters"][0]["Value"]): rule["ExpirationInDays"]
        for rule in rules
        if rule.get("TagFilters") and rule["TagFilters"][0]["Key"] == RETENTION_TAG
    }
    assert expiring == {days: days for days in RETENTION_DAYS}
    assert all(rule["Status"] == "Enabled" for rule in rules)
    assert any("AbortIncompleteMultipartUpload" in rule for rule in rules)


def test_a_retention_period_outside_the_list_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match="30, 90, 180, 365, 730, 1825"):
        Shop(shop_id="ana", name="Loja da Ana", retention_days=45)


def test_a_record_expires_its_shops_retention_after_it_was_written() -> None:
    from datetime import UTC, datetime

    written = datetime(2025, 11, 24, 17, 0, tzinfo=UTC)
    keeping = Shop(shop_id="ana", name="Loja da Ana", retention_days=30)
    assert keeping.expiry(written) == int(written.timestamp()) + 30 * 24 * 3600
    assert Shop(shop_id="ana", name="Loja da Ana").expiry(written) is None

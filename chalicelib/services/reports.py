"""Reports of a shop's conversations, on demand (admin API) and as a daily Slack digest.

The digest goes out at the first hourly run at or after the shop's digest hour, each local
day, for the day before. Exactly once per shop and day, whatever runs overlap or fail: a run
first takes the day's digest lease in the table (a conditional write), then posts, records
the post, uploads the chart and marks the day done, each step only while it holds the lease.

- Two runs at once: one takes the lease, the other skips the shop.
- The post fails: the lease is given back, nothing was posted, the next hour tries again.
- The chart upload fails after the post: the post is recorded, so the next run uploads only
  the chart.
- The run dies between Slack's answer and recording it (a timeout): the lease expires and
  the next run posts again. Slack has no idempotency key for posts, so this window (one
  write long) is the one way to a second digest; the alternative, marking the day done
  before posting, would lose the digest on every failed post instead.
"""

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from aws_lambda_powertools import Logger

from chalicelib.channels.base import MediaFile
from chalicelib.domain.errors import BadRequest, NotFound, Retryable
from chalicelib.domain.reports import Report, build_report, local_days
from chalicelib.domain.shop import Shop, is_shop_id
from chalicelib.presentation.chart import bar_chart_png
from chalicelib.presentation.digest import daily_digest
from chalicelib.services.ports import (
    Clock,
    ConversationLists,
    DigestRecords,
    IdFactory,
    Metric,
    MetricsPort,
    ShopRecords,
    Workspaces,
)
from chalicelib.store.digests import DigestLease

logger = Logger(service="threadline", child=True)

DEFAULT_DAYS = 7
MAX_DAYS = 92
# Longer than a run may last (the function's timeout), shorter than the hour between runs.
DIGEST_LEASE = timedelta(minutes=15)


# The days a report may name: wide enough for any shop's history, narrow enough that the
# default span and a day either side (time zones) never leave the calendar (OverflowError).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 31)


def _day(query: dict[str, str], name: str) -> date | None:
    value = query.get(name)
    if value is None:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise BadRequest(f"{name} must be a date such as 2026-11-23") from error
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadRequest(f"{name} must be a day of the years {FIRST_DAY.year} to {LAST_DAY.year}")
    return day


def report_days(query: dict[str, str], today: date) -> tuple[date, date]:
    """The local days asked for (`from`, `to` inclusive): by default the last seven, today
    included; one bound alone spans seven days from or up to it."""
    unknown = set(query) - {"from", "to"}
    if unknown:
        raise BadRequest(f"unknown parameter {sorted(unknown)[0]}")
    first, last = _day(query, "from"), _day(query, "to")
    span = timedelta(days=DEFAULT_DAYS - 1)
    if last is None:
        last = today if first is None else first + span
    if first is None:
        first = last - span
    if first > last:
        raise BadRequest("from must not be after to")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"a report spans at most {MAX_DAYS} days")
    return first, last


class Reports:
    def __init__(
        self,
        shops: ShopRecords,
        listings: ConversationLists,
        digests: DigestRecords,
        workspaces: Workspaces,
        clock: Clock,
        new_id: IdFactory,
        metrics: MetricsPort,
    ) -> None:
        self._shops = shops
        self._listings = listings
        self._digests = digests
        self._workspaces = workspaces
        self._clock = clock
        self._new_id = new_id
        self._metrics = metrics

    def _report(self, shop: Shop, first: date, last: date) -> Report:
        start, end = local_days(first, last, shop.timezone)
        conversations = self._listings.conversations_created(shop.shop_id, start, end)
        return build_report(shop.shop_id, conversations, shop.timezone, start, end)

    def report(self, shop_id: str, query: dict[str, str]) -> Report:
        """The shop's report over local days (see the OpenAPI document for the query)."""
        shop = self._shops.get_shop(shop_id, fresh=True) if is_shop_id(shop_id) else None
        if shop is None:
            raise NotFound(f"no shop {shop_id}")
        today = self._clock().astimezone(ZoneInfo(shop.timezone)).date()
        first, last = report_days(query, today)
        return self._report(shop, first, last)

    def post_due_digests(self) -> int:
        """Posts every digest due by now that is not out yet; returns how many went out. One
        shop's failure does not stop the others; it is retried at the next run, and raised at
        the end so the function's error alarm hears of it."""
        posted = failed = 0
        for shop in self._shops.shops():
            if shop.digest is None or shop.digest_channel is None:
                continue
            now = self._clock()
            local = now.astimezone(ZoneInfo(shop.timezone))
            if local.hour < shop.digest.hour:
                continue
            lease = self._digests.lease_digest(
                shop.shop_id, local.date(), self._new_id(), now, DIGEST_LEASE
            )
            if lease is None:
                continue
            try:
                self._post_digest(shop, shop.digest_channel, lease)
            except Exception:
                logger.exception("digest not posted", shop_id=shop.shop_id)
                self._digests.release_digest(lease)
                failed += 1
                continue
            posted += 1
        if failed:
            raise Retryable(f"{failed} digests not posted; the next run tries again")
        return posted

    def _post_digest(self, shop: Shop, channel: str, lease: DigestLease) -> None:
        # Without a bot token (WorkspaceUnavailable) the digest fails like any other
        # failure: its lease goes back and the next run tries again.
        slack = self._workspaces.slack_for(shop.shop_id)
        yesterday = lease.day - timedelta(days=1)
        report = self._report(shop, yesterday, yesterday)
        if lease.posted_ts is None:
            names = {
                agent.assignee_user_id: slack.display_name(agent.assignee_user_id)
                or agent.assignee_user_id
                for agent in report.agents
                if agent.assignee_user_id
            }
            ts = slack.post(channel, daily_digest(report, shop.name, yesterday, names))
            self._digests.digest_posted(lease, ts)
            self._metrics.count(Metric.DIGEST_POSTED)
            logger.info("digest posted", shop_id=shop.shop_id, day=yesterday.isoformat())
        chart = MediaFile(
            filename=f"conversations-per-hour-{yesterday.isoformat()}.png",
            content_type="image/png",
            content=bar_chart_png(report.by_hour),
        )
        slack.upload_files(channel, None, [chart])
        self._digests.digest_done(lease, self._clock())

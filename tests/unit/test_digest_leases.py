"""The daily digest posted once per shop and day, whatever runs overlap or fail: its lease
decides, over the in-memory digest records."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import SecretStr

from chalicelib.channels.slack import ShopWorkspaces
from chalicelib.domain.errors import Retryable
from chalicelib.domain.shop import DigestConfig, Shop, ShopSecrets, SlackConfig
from chalicelib.services.ports import Metric, SlackPort, Workspaces
from chalicelib.services.reports import DIGEST_LEASE, Reports
from tests.fakes import FakeDigests, FakeSlack, FakeVault
from tests.unit.stand_ins import CountedMetrics, Ids, NoConversations, SetClock, ShopsInMemory

# 09:30 in São Paulo (UTC-3), the shop's digest hour.
DUE = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
TODAY = date(2026, 11, 24)
SHOP = Shop(
    shop_id="ana",
    name="Ana's Shop",
    timezone="America/Sao_Paulo",
    slack=SlackConfig(team_id="T0ANA", channel_id="C0ANA"),
    digest=DigestConfig(hour=9, channel_id="C0DIGEST"),
)


@dataclass
class Run:
    """The digest's world: one shop, its Slack, its digest records; each `reports()` is
    another run (another container) over the same records."""

    slack: FakeSlack
    vault: FakeVault
    digests: FakeDigests
    shops: ShopsInMemory
    clock: SetClock
    metrics: CountedMetrics

    def reports(self, workspaces: Workspaces | None = None) -> Reports:
        return Reports(
            self.shops,
            NoConversations(),
            self.digests,
            workspaces or ShopWorkspaces(self.vault.get, self.slack.workspace),
            self.clock,
            Ids("run"),
            self.metrics,
        )

    def digests_posted(self) -> list[str]:
        return [post.channel for post in self.slack.roots()]

    def charts_uploaded(self) -> int:
        return len(self.slack.uploads)


@pytest.fixture
def run() -> Run:
    vault = FakeVault()
    vault.put("ana", ShopSecrets(slack_bot_token=SecretStr("xoxb-ana")))
    return Run(
        FakeSlack(),
        vault,
        FakeDigests(),
        ShopsInMemory({"ana": SHOP}),
        SetClock(DUE),
        CountedMetrics(),
    )


def test_a_due_digest_is_posted_with_its_chart_and_the_day_is_done(run: Run) -> None:
    assert run.reports().post_due_digests() == 1
    assert run.digests_posted() == ["C0DIGEST"]
    assert run.charts_uploaded() == 1
    assert run.metrics.counted == [Metric.DIGEST_POSTED]
    run.clock.advance(timedelta(hours=1))
    assert run.reports().post_due_digests() == 0
    assert run.digests_posted() == ["C0DIGEST"]
    assert run.charts_uploaded() == 1


def test_no_digest_before_the_shops_hour_then_one_the_next_day(run: Run) -> None:
    run.clock.now = DUE - timedelta(hours=1)
    assert run.reports().post_due_digests() == 0
    assert run.digests_posted() == []
    run.clock.now = DUE + timedelta(days=1)
    assert run.reports().post_due_digests() == 1
    run.clock.now = DUE + timedelta(days=1, hours=1)
    run.reports().post_due_digests()
    assert run.digests_posted() == ["C0DIGEST"]


@dataclass
class Overlapped:
    """The shop's workspace, opened while another run starts: that run meets the lease."""

    workspaces: Workspaces
    other: Reports
    others_posts: int | None = None

    def slack_for(self, shop_id: str) -> SlackPort:
        if self.others_posts is None:
            self.others_posts = self.other.post_due_digests()
        return self.workspaces.slack_for(shop_id)


def test_two_overlapping_runs_post_one_digest(run: Run) -> None:
    overlapped = Overlapped(ShopWorkspaces(run.vault.get, run.slack.workspace), run.reports())
    assert run.reports(overlapped).post_due_digests() == 1
    assert overlapped.others_posts == 0
    assert run.digests_posted() == ["C0DIGEST"]
    assert run.charts_uploaded() == 1


def test_a_failed_post_is_given_back_and_the_next_run_posts(run: Run) -> None:
    run.slack.failures.append(TimeoutError("Slack did not answer"))
    with pytest.raises(Retryable):
        run.reports().post_due_digests()
    assert run.digests_posted() == []
    # Released: the next run need not wait for the lease to run out.
    run.clock.advance(timedelta(minutes=1))
    assert run.reports().post_due_digests() == 1
    assert run.digests_posted() == ["C0DIGEST"]
    assert run.charts_uploaded() == 1


def test_a_shop_without_a_bot_token_is_tried_again_once_it_has_one(run: Run) -> None:
    run.vault.put("ana", ShopSecrets())
    with pytest.raises(Retryable):
        run.reports().post_due_digests()
    run.vault.put("ana", ShopSecrets(slack_bot_token=SecretStr("xoxb-ana")))
    assert run.reports().post_due_digests() == 1
    assert run.digests_posted() == ["C0DIGEST"]


def test_a_failed_chart_is_uploaded_alone_by_the_next_run(run: Run) -> None:
    run.slack.upload_failures.append(TimeoutError("Slack did not answer"))
    with pytest.raises(Retryable):
        run.reports().post_due_digests()
    assert run.digests_posted() == ["C0DIGEST"]
    assert run.charts_uploaded() == 0
    assert run.reports().post_due_digests() == 1
    assert run.digests_posted() == ["C0DIGEST"]
    assert run.charts_uploaded() == 1
    assert run.metrics.counted == [Metric.DIGEST_POSTED]


def test_a_run_that_died_holds_the_day_until_its_lease_runs_out(run: Run) -> None:
    # A run that stopped mid-way (its function timed out) released nothing.
    assert run.digests.lease_digest("ana", TODAY, "dead", DUE, DIGEST_LEASE) is not None
    assert run.reports().post_due_digests() == 0
    assert run.digests_posted() == []
    run.clock.advance(DIGEST_LEASE + timedelta(seconds=1))
    assert run.reports().post_due_digests() == 1
    assert run.digests_posted() == ["C0DIGEST"]


def test_one_shops_failure_does_not_stop_anothers_digest(run: Run) -> None:
    bia = SHOP.model_copy(update={"shop_id": "bia", "timezone": "UTC"})
    run.shops.put_shop(bia, None)
    run.vault.put("bia", ShopSecrets(slack_bot_token=SecretStr("xoxb-bia")))
    run.slack.failures.append(TimeoutError("Slack did not answer"))
    with pytest.raises(Retryable, match="1 digests not posted"):
        run.reports().post_due_digests()
    assert [post.token for post in run.slack.roots()] == ["xoxb-bia"]
    assert run.reports().post_due_digests() == 1
    assert sorted(post.token for post in run.slack.roots()) == ["xoxb-ana", "xoxb-bia"]

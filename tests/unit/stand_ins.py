"""Stand-ins for the ports the digest and install tests touch only in passing: the shops'
configs, the conversations a report reads, the metrics, the clock."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.shop import Shop
from chalicelib.services.ports import StoredItem


@dataclass
class ShopsInMemory:
    """The shops' configs by id, as ShopRecords reads and writes them (no address claims)."""

    stored: dict[str, Shop] = field(default_factory=dict)

    def get_shop(self, shop_id: str, *, fresh: bool = False) -> Shop | None:
        return self.stored.get(shop_id)

    def put_shop(self, shop: Shop, previous: Shop | None) -> None:
        self.stored[shop.shop_id] = shop

    def delete_shop(self, shop: Shop, now: datetime, recreate_after: timedelta) -> None:
        self.stored.pop(shop.shop_id, None)

    def shop_deleted_until(self, shop_id: str, now: datetime) -> datetime | None:
        return None

    def shops(self) -> list[Shop]:
        return list(self.stored.values())

    def shops_of_team(self, team_id: str) -> list[Shop]:
        return [s for s in self.stored.values() if s.slack and s.slack.team_id == team_id]

    def addresses_taken(self, shop: Shop) -> list[str]:
        return []

    def shop_for_address(self, address: str) -> str | None:
        return None


@dataclass
class NoConversations:
    """A table with no conversations: every listing is empty."""

    def recent_conversations(self, shop_id: str, limit: int) -> list[Conversation]:
        return []

    def conversations_page(
        self, shop_id: str, filters: dict[str, str], limit: int, after: StoredItem | None
    ) -> tuple[list[Conversation], StoredItem | None]:
        return [], None

    def conversations_created(
        self, shop_id: str, start: datetime, end: datetime
    ) -> list[Conversation]:
        return []

    def conversations_of(self, shop_id: str, addresses: tuple[str, ...]) -> list[Conversation]:
        return []

    def timeline(self, shop_id: str, conversation_id: str) -> Iterator[StoredItem]:
        return iter(())


@dataclass
class CountedMetrics:
    """The names counted, in order."""

    counted: list[str] = field(default_factory=list)

    def count(self, name: str, channel: str | None = None) -> None:
        self.counted.append(name)

    def seconds(self, name: str, value: float, channel: str | None = None) -> None:
        """Timings matter to none of these tests."""

    def value(self, name: str, value: float, channel: str | None = None) -> None:
        """Values matter to none of these tests."""


@dataclass
class SetClock:
    """The use cases' clock, at the time a test sets."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> None:
        self.now += by


@dataclass
class Ids:
    """Ids in order: run-1, run-2, ..."""

    prefix: str
    issued: int = 0

    def __call__(self) -> str:
        self.issued += 1
        return f"{self.prefix}-{self.issued}"

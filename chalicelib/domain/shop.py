"""A shop (tenant): its channels, its Slack channel and its secrets.

`ShopDocument` is the shop JSON of the admin API (secrets included); it splits into `Shop`,
the plain configuration that may be stored and cached anywhere, and `ShopSecrets`, which only
ever lives in the secret store.
"""

import re
import string
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    model_validator,
)

from chalicelib.domain.auto_replies import AutoReplyPolicy
from chalicelib.domain.canned import CannedResponse
from chalicelib.domain.csat import CsatPolicy
from chalicelib.domain.order_updates import OrderUpdatesConfig
from chalicelib.domain.outside_input import whole_number
from chalicelib.domain.single_line import SingleLine
from chalicelib.domain.sla import SlaPolicy
from chalicelib.domain.triage.policy import TriagePolicy
from chalicelib.domain.vocabulary import Channel

MASK = "********"
SHOP_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"
_SHOP_ID = re.compile(SHOP_ID_PATTERN)
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def is_shop_id(value: str) -> bool:
    return _SHOP_ID.fullmatch(value) is not None


def _phone_number(value: str) -> str:
    number = value.removeprefix("whatsapp:").replace(" ", "")
    if not _E164.match(number):
        raise ValueError("must be an E.164 number such as +14155550100")
    return number


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    # A region's name ("Europe") is a folder of the time zone database: with the `tzdata`
    # package, opening it raises IsADirectoryError rather than ZoneInfoNotFoundError.
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError("must be an IANA time zone such as Europe/Budapest") from error
    return value


PhoneNumber = Annotated[str, AfterValidator(_phone_number)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


class _Strict(BaseModel):
    model_config = ConfigDict(
        defer_build=True, extra="forbid", frozen=True, str_strip_whitespace=True
    )


SlackChannelId = Annotated[str, Field(pattern=r"^[CG][A-Z0-9]{2,20}$")]


class SlackConfig(_Strict):
    team_id: str = Field(pattern=r"^[TE][A-Z0-9]{2,20}$")
    channel_id: SlackChannelId
    # Per customer channel (sms, whatsapp, email, telegram), a Slack channel of its own; the others
    # go to `channel_id`.
    channels: dict[Channel, SlackChannelId] = Field(default_factory=dict)

    def channel_for(self, channel: Channel) -> str:
        return self.channels.get(channel, self.channel_id)


def _template_variables(values: dict[str, str]) -> dict[str, str]:
    for key, value in values.items():
        if whole_number(key) is None:
            raise ValueError(f"variable {key!r}: WhatsApp numbers its variables (1, 2, ...)")
        used = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = used - {"first_name", "shop", "agent"}
        if unknown:
            raise ValueError(f"unknown placeholder {sorted(unknown)[0]!r}")
    return values


class WhatsAppTemplate(_Strict):
    """An approved WhatsApp template (Twilio Content API), sent when the 24-hour window is
    closed: its variables may use {first_name}, {shop} and {agent}."""

    name: str = Field(min_length=1, max_length=120)
    content_sid: str = Field(pattern=r"^HX[0-9a-fA-F]{32}$")
    variables: Annotated[dict[str, str], AfterValidator(_template_variables)] = Field(
        default_factory=dict
    )


class TwilioConfig(_Strict):
    account_sid: str = Field(pattern=r"^AC[0-9a-fA-F]{32}$")
    sms_numbers: list[PhoneNumber] = Field(default_factory=list, max_length=20)
    whatsapp_numbers: list[PhoneNumber] = Field(default_factory=list, max_length=20)
    whatsapp_template: WhatsAppTemplate | None = None

    def addresses(self) -> set[str]:
        """The numbers customers write to through Twilio, as it reports them in `To`."""
        return {*self.sms_numbers, *(f"whatsapp:{n}" for n in self.whatsapp_numbers)}


class TelegramConfig(_Strict):
    """The shop's Telegram bot, known by its id (the part of its token before the colon,
    which is not secret); the token itself is a secret."""

    bot_id: str = Field(pattern=r"^[0-9]{1,20}$")

    @property
    def address(self) -> str:
        """The bot as an address: what a conversation on Telegram is written to."""
        return f"telegram:bot{self.bot_id}"


class NewSubject(StrEnum):
    # A customer's mail with a subject of its own joins their open conversation...
    SAME_CONVERSATION = "same_conversation"
    # ... or starts a new one, linked to it.
    NEW_CONVERSATION = "new_conversation"


class EmailConfig(_Strict):
    address: str = Field(pattern=r"^[^@\s+]+@[^@\s]+\.[^@\s]+$", max_length=254)
    new_subject: NewSubject = NewSubject.SAME_CONVERSATION

    @property
    def domain(self) -> str:
        return self.address.rsplit("@", 1)[1].lower()

    def reply_address(self, conversation_id: str) -> str:
        """The conversation's own address: replies to it find their thread by it."""
        local, domain = self.address.rsplit("@", 1)
        return f"{local}+c{conversation_id.lower()}@{domain}"


class ReplyMode(StrEnum):
    # Every message in a conversation thread goes to the customer, unless marked internal.
    REPLY = "reply"
    # Thread messages stay internal, unless marked to be sent.
    SAFE = "safe"


# Markdown an agent may wrap a prefix in: "*note:*", "_send:_".
_MARKS = "*_~`"
SIGNATURE_FIELDS = frozenset({"agent", "shop"})


def _signature(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as error:
        raise ValueError("must be text with {agent} and {shop} placeholders") from error
    unknown = fields - SIGNATURE_FIELDS
    if unknown:
        raise ValueError(f"unknown placeholder {sorted(unknown)[0]!r}: use {{agent}} or {{shop}}")
    return value


class ReplyPolicy(_Strict):
    """How agents' thread messages become replies to the customer.

    In both modes a reply waits `grace_seconds` before it is sent: deleting it in Slack
    meanwhile cancels it, editing it changes what is sent."""

    mode: ReplyMode = ReplyMode.REPLY
    # Matched case-insensitively at the start of a message, formatting marks aside.
    internal_prefix: str = Field(default="note:", min_length=1, max_length=20)
    send_prefix: str = Field(default="send:", min_length=1, max_length=20)
    grace_seconds: int = Field(default=10, ge=0, le=300)
    # Appended on a line of its own; null sends replies unsigned.
    signature: Annotated[str | None, AfterValidator(_signature)] = Field(
        default="— {agent}", max_length=200
    )

    @model_validator(mode="after")
    def _distinct_prefixes(self) -> Self:
        if self.internal_prefix.casefold() == self.send_prefix.casefold():
            raise ValueError("internal_prefix and send_prefix must differ")
        return self

    def outgoing(self, text: str, *, explicit: bool = False) -> str | None:
        """What goes to the customer for an agent's message, or None when it stays internal.
        `explicit`: the agent chose "Send to customer" on it, whatever the mode."""
        for prefix in (self.internal_prefix, self.send_prefix):
            rest = _without_prefix(text, prefix)
            if rest is not None:
                sends = explicit or prefix == self.send_prefix
                return rest if sends and rest else None
        sends = explicit or self.mode is ReplyMode.REPLY
        return text if sends else None

    def signed(self, text: str, agent: str, shop: str) -> str:
        if self.signature is None:
            return text
        return f"{text}\n{self.signature.format(agent=agent, shop=shop)}"


def _without_prefix(text: str, prefix: str) -> str | None:
    """`text` after `prefix` (and the formatting marks around it), if it starts with it."""
    stripped = text.lstrip()
    start = stripped.lstrip(_MARKS)
    marks = stripped[: len(stripped) - len(start)]
    if start[: len(prefix)].casefold() != prefix.casefold():
        return None
    return start[len(prefix) :].removeprefix(marks[::-1]).strip()


def _unique_names(responses: list[CannedResponse]) -> list[CannedResponse]:
    names = [response.name for response in responses]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"each name must be unique: {', '.join(duplicates)}")
    return responses


CannedResponses = Annotated[
    list[CannedResponse], AfterValidator(_unique_names), Field(max_length=100)
]


# How long a shop may keep its customers' data, in days: a month, a quarter, half a year, one,
# two or five years. A short fixed list, because S3 expires objects by bucket-wide lifecycle
# rules: each period has its own rule, matched by the object's retention tag
# (infra/template.json, checked against this list by a test).
RETENTION_DAYS = (30, 90, 180, 365, 730, 1825)


def _retention_days(value: int | None) -> int | None:
    if value is not None and value not in RETENTION_DAYS:
        allowed = ", ".join(str(days) for days in RETENTION_DAYS)
        raise ValueError(f"must be one of {allowed} (days), or null to keep data until erased")
    return value


RetentionDays = Annotated[int | None, AfterValidator(_retention_days)]


class DigestConfig(_Strict):
    """The daily digest: yesterday's figures, posted once a day at `hour` (local time) into
    `channel_id`, or the shop's Slack channel."""

    hour: int = Field(default=9, ge=0, le=23)
    channel_id: SlackChannelId | None = None


class ShopifyConfig(_Strict):
    """The shop's Shopify store, read through the Admin GraphQL API at a pinned version
    (Shopify supports each quarterly version for about a year)."""

    domain: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,59}\.myshopify\.com$")
    api_version: str = Field(default="2026-07", pattern=r"^20\d\d-(01|04|07|10)$")


class WooCommerceConfig(_Strict):
    """The shop's WooCommerce store, read through its REST API v3 (`/wp-json/wc/v3`) with a
    consumer key and secret over HTTPS basic auth."""

    url: str = Field(max_length=200, pattern=r"^https://[a-z0-9.-]+(:\d{1,5})?(/[\w./~-]*)?$")


def _one_platform(shopify: object | None, woocommerce: object | None) -> None:
    # The card shows one store's orders: two would mean two customers under one address.
    if shopify is not None and woocommerce is not None:
        raise ValueError("commerce takes one platform: shopify or woocommerce")


class CommerceConfig(_Strict):
    """The shop's commerce platform, whose orders the card shows."""

    shopify: ShopifyConfig | None = None
    woocommerce: WooCommerceConfig | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        _one_platform(self.shopify, self.woocommerce)
        return self


# A Slack user ("U…", "W…" in Enterprise Grid) or user group ("S…").
SlackPrincipal = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,20}$")]


class CommerceActionsConfig(_Strict):
    """Who may act on the customer's orders from Slack (refunds): these users, and the
    members of these user groups; a refund above `refund_limit` (in the order's currency)
    waits for a second of them to approve it."""

    allowed: list[SlackPrincipal] = Field(default_factory=list, max_length=100)
    refund_limit: Annotated[
        Decimal,
        Field(ge=0, max_digits=12, decimal_places=2),
        PlainSerializer(float, when_used="json"),
    ] = Decimal(0)


def _cloud_template_variables(values: list[str]) -> list[str]:
    for value in values:
        used = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        unknown = used - {"first_name", "shop", "agent"}
        if unknown:
            raise ValueError(f"unknown placeholder {sorted(unknown)[0]!r}")
    return values


class CloudTemplateConfig(_Strict):
    """An approved WhatsApp Cloud API template, as WhatsApp Manager names it: its body's
    variables in order ({{1}}, {{2}}, ...), each of which may use {first_name}, {shop} and
    {agent}."""

    name: str = Field(pattern=r"^[a-z0-9_]{1,512}$")
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(_[A-Za-z]{2,4})?$")
    body_variables: Annotated[list[str], AfterValidator(_cloud_template_variables)] = Field(
        default_factory=list, max_length=20
    )


# Ids Meta gives phone numbers, accounts and Pages: digits.
MetaId = Annotated[str, Field(pattern=r"^[0-9]{1,32}$")]
# The template sent in place of a reply once WhatsApp's 24-hour window is closed.
REPLY_TEMPLATE = "reply"


class MetaWhatsAppConfig(_Strict):
    phone_number_id: MetaId
    waba_id: MetaId | None = None
    # Keyed by what they are for: `reply` goes out for replies past the 24-hour window.
    templates: dict[Annotated[str, Field(pattern=r"^[a-z0-9_]{1,40}$")], CloudTemplateConfig] = (
        Field(default_factory=dict, max_length=50)
    )


class MetaMessengerConfig(_Strict):
    page_id: MetaId


class MetaInstagramConfig(_Strict):
    account_id: MetaId


class MetaConfig(_Strict):
    """The shop's channels through the deployment's Meta app: a WhatsApp Cloud API number,
    a Facebook Page (Messenger), an Instagram professional account. Each id is claimed by
    one shop, like a Twilio number."""

    whatsapp: MetaWhatsAppConfig | None = None
    messenger: MetaMessengerConfig | None = None
    instagram: MetaInstagramConfig | None = None
    # Messenger and Instagram: a person's reply may go out up to 7 days after the customer's
    # last message with the HUMAN_AGENT tag (the app needs Meta's Human Agent permission).
    human_agent_tag: bool = False

    def ids(self) -> dict[Channel, str]:
        """The id the shop receives at on each of its Meta channels."""
        ids = {
            Channel.WHATSAPP_CLOUD: self.whatsapp.phone_number_id if self.whatsapp else None,
            Channel.MESSENGER: self.messenger.page_id if self.messenger else None,
            Channel.INSTAGRAM: self.instagram.account_id if self.instagram else None,
        }
        return {channel: id_ for channel, id_ in ids.items() if id_}

    def addresses(self) -> set[str]:
        """The claims of the ids this shop receives at (see `meta_address`)."""
        return {meta_address(channel, id_) for channel, id_ in self.ids().items()}


def meta_address(channel: Channel, meta_id: str) -> str:
    """The claim on a Meta id, kept apart from phone numbers and from the other kinds of
    Meta id (a Page and a number may share digits)."""
    return f"meta:{channel.value}:{meta_id}"


class Shop(_Strict):
    """A shop's plain configuration: nothing in here is secret."""

    shop_id: str = Field(pattern=SHOP_ID_PATTERN)
    name: str = Field(min_length=1, max_length=120)
    timezone: TimeZoneName = "UTC"
    # None until the shop connects its workspace ("Add to Slack"); its customers' messages
    # wait stored until then.
    slack: SlackConfig | None = None
    twilio: TwilioConfig | None = None
    email: EmailConfig | None = None
    replies: ReplyPolicy = Field(default_factory=ReplyPolicy)
    canned_responses: CannedResponses = Field(default_factory=list)
    # A customer writing to a resolved conversation after this many quiet hours starts a
    # new one, linked to it; null always reopens.
    new_conversation_after_hours: int | None = Field(default=None, ge=1, le=24 * 365)
    # Response and resolution targets; none promised without it.
    sla: SlaPolicy | None = None
    # Automatic replies; none without it.
    auto_replies: AutoReplyPolicy | None = None
    # The satisfaction question after a resolve; none asked without it.
    csat: CsatPolicy | None = None
    # Customers' data expires this many days after it was written (a conversation: after
    # its last activity); null keeps it until it is erased.
    retention_days: RetentionDays = None
    # Given when the shop is created (or first changed, for shops older than it), never
    # shown: messages carry it, so a shop deleted and created again with the same id never
    # takes what was queued for the one before.
    incarnation: str | None = None

    def takes(self, incarnation: str | None) -> bool:
        """Whether a message stamped with `incarnation` was meant for this shop (unstamped
        ones, and any for a shop older than incarnations, are)."""
        return incarnation is None or self.incarnation in (None, incarnation)

    def expiry(self, written_at: datetime) -> int | None:
        """When a record written (or last touched) at `written_at` expires, in epoch seconds
        as DynamoDB's TTL reads them; None when the shop keeps its data."""
        if self.retention_days is None:
            return None
        return int((written_at + timedelta(days=self.retention_days)).timestamp())

    # The daily digest in Slack; none without it.
    digest: DigestConfig | None = None
    # The shop's Telegram bot; none without it.
    telegram: TelegramConfig | None = None
    # Triage of customers' messages (mood, urgency, intent); none without it.
    triage: TriagePolicy | None = None

    # The customer's orders on the card; none without it.
    commerce: CommerceConfig | None = None

    @property
    def shopify(self) -> ShopifyConfig | None:
        return self.commerce.shopify if self.commerce else None

    @property
    def woocommerce(self) -> WooCommerceConfig | None:
        return self.commerce.woocommerce if self.commerce else None

    @property
    def sells_online(self) -> bool:
        """Whether a commerce platform (either) tells the shop's customers' orders."""
        return self.shopify is not None or self.woocommerce is not None

    # WhatsApp Cloud API, Messenger, Instagram; none without it.
    meta: MetaConfig | None = None
    # Refunds from Slack; nobody may act without it.
    commerce_actions: CommerceActionsConfig | None = None
    # What the shop tells customers of their orders by itself; nothing without it.
    order_updates: OrderUpdatesConfig | None = None

    @property
    def digest_channel(self) -> str | None:
        """Where the daily digest goes; None without a digest or before Slack is connected."""
        if self.digest is None or self.slack is None:
            return None
        return self.digest.channel_id or self.slack.channel_id

    @property
    def quiet_period(self) -> timedelta | None:
        hours = self.new_conversation_after_hours
        return timedelta(hours=hours) if hours else None

    def canned(self, name: str) -> CannedResponse | None:
        return next((c for c in self.canned_responses if c.name == name), None)

    def inbound_addresses(self) -> set[str]:
        """Every address customers write to, as a provider reports it in `To`."""
        addresses: set[str] = set()
        if self.twilio:
            addresses.update(self.twilio.addresses())
        if self.email:
            addresses.add(self.email.address.lower())
        if self.telegram:
            # Claimed like a number: one bot has one webhook, so it serves one shop.
            addresses.add(self.telegram.address)
        if self.meta:
            addresses.update(self.meta.addresses())
        return addresses


class ShopSecrets(_Strict):
    slack_bot_token: SecretStr | None = None
    twilio_auth_token: SecretStr | None = None
    telegram_bot_token: SecretStr | None = None
    # Generated by Threadline (never given in the shop JSON) and set on the bot's webhook:
    # Telegram echoes it in X-Telegram-Bot-Api-Secret-Token.
    telegram_webhook_secret: SecretStr | None = None

    shopify_access_token: SecretStr | None = None
    shopify_webhook_secret: SecretStr | None = None
    meta_access_token: SecretStr | None = None
    woocommerce_consumer_key: SecretStr | None = None
    woocommerce_consumer_secret: SecretStr | None = None
    woocommerce_webhook_secret: SecretStr | None = None

    def merged_over(self, stored: "ShopSecrets") -> "ShopSecrets":
        """Secrets left out (or sent back masked) keep their stored value."""
        return ShopSecrets(
            slack_bot_token=self.slack_bot_token or stored.slack_bot_token,
            twilio_auth_token=self.twilio_auth_token or stored.twilio_auth_token,
            telegram_bot_token=self.telegram_bot_token or stored.telegram_bot_token,
            telegram_webhook_secret=self.telegram_webhook_secret or stored.telegram_webhook_secret,
            shopify_access_token=self.shopify_access_token or stored.shopify_access_token,
            shopify_webhook_secret=self.shopify_webhook_secret or stored.shopify_webhook_secret,
            meta_access_token=self.meta_access_token or stored.meta_access_token,
            woocommerce_consumer_key=self.woocommerce_consumer_key
            or stored.woocommerce_consumer_key,
            woocommerce_consumer_secret=self.woocommerce_consumer_secret
            or stored.woocommerce_consumer_secret,
            woocommerce_webhook_secret=self.woocommerce_webhook_secret
            or stored.woocommerce_webhook_secret,
        )


def _secret_or_none(value: str | None) -> str | None:
    if value is None or value in ("", MASK):
        return None
    return value


OptionalSecret = Annotated[str | None, AfterValidator(_secret_or_none)]


class SlackDocument(SlackConfig):
    bot_token: OptionalSecret = Field(default=None, max_length=512)

    @model_validator(mode="after")
    def _bot_token_shape(self) -> Self:
        if self.bot_token is not None and not self.bot_token.startswith("xoxb-"):
            raise ValueError("bot_token must be a Slack bot token (xoxb-...)")
        return self


class TwilioDocument(TwilioConfig):
    auth_token: OptionalSecret = Field(default=None, max_length=128)


# A bot token as BotFather gives it: the bot's id, a colon, then its secret part.
TELEGRAM_BOT_TOKEN_PATTERN = r"^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$"


class TelegramDocument(_Strict):
    """`telegram` in the shop JSON: the bot's token (its id is read from it); on GET the
    token is masked and its id shown."""

    bot_token: OptionalSecret = Field(default=None, max_length=128)
    # Shown on GET; on PUT it names the bot whose stored token a masked one keeps.
    bot_id: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")

    @model_validator(mode="after")
    def _bot_known(self) -> Self:
        if self.bot_token is not None:
            if not re.fullmatch(TELEGRAM_BOT_TOKEN_PATTERN, self.bot_token):
                raise ValueError("bot_token must be a Telegram bot token (123456:ABC-...)")
            bot_id = self.bot_token.split(":", 1)[0]
            if self.bot_id not in (None, bot_id):
                raise ValueError("bot_id must be the id at the start of bot_token")
            return self.model_copy(update={"bot_id": bot_id})
        if self.bot_id is None:
            raise ValueError("bot_token is required")
        return self


class ShopifyDocument(ShopifyConfig):
    access_token: OptionalSecret = Field(default=None, max_length=256)
    webhook_secret: OptionalSecret = Field(default=None, max_length=256)


class WooCommerceDocument(WooCommerceConfig):
    consumer_key: OptionalSecret = Field(default=None, max_length=256)
    consumer_secret: OptionalSecret = Field(default=None, max_length=256)
    webhook_secret: OptionalSecret = Field(default=None, max_length=256)


class CommerceDocument(_Strict):
    shopify: ShopifyDocument | None = None
    woocommerce: WooCommerceDocument | None = None

    @model_validator(mode="after")
    def _one(self) -> Self:
        _one_platform(self.shopify, self.woocommerce)
        return self


class MetaDocument(MetaConfig):
    # A system user's token with whatsapp_business_messaging, pages_messaging and
    # instagram_manage_messages, as the shop's channels need.
    access_token: OptionalSecret = Field(default=None, max_length=1024)


class ShopDocument(_Strict):
    """The shop JSON of `PUT /admin/shops/{shop_id}`. What GET returns can be sent back as
    it is: `shop_id` must then match the path, and `webhooks` is shown only, never stored."""

    shop_id: str | None = None
    webhooks: dict[str, str] | None = None
    # The display name of every mail the shop sends: one line.
    name: SingleLine = Field(min_length=1, max_length=120)
    timezone: TimeZoneName = "UTC"
    slack: SlackDocument | None = None
    twilio: TwilioDocument | None = None
    email: EmailConfig | None = None
    replies: ReplyPolicy = Field(default_factory=ReplyPolicy)
    canned_responses: CannedResponses = Field(default_factory=list)
    new_conversation_after_hours: int | None = Field(default=None, ge=1, le=24 * 365)
    sla: SlaPolicy | None = None
    auto_replies: AutoReplyPolicy | None = None
    csat: CsatPolicy | None = None
    retention_days: RetentionDays = None
    digest: DigestConfig | None = None
    telegram: TelegramDocument | None = None
    triage: TriagePolicy | None = None

    commerce: CommerceDocument | None = None
    meta: MetaDocument | None = None
    commerce_actions: CommerceActionsConfig | None = None
    order_updates: OrderUpdatesConfig | None = None

    def split(self, shop_id: str) -> tuple[Shop, ShopSecrets]:
        slack = self.slack.model_dump(exclude={"bot_token"}) if self.slack else None
        twilio = self.twilio.model_dump(exclude={"auth_token"}) if self.twilio else None
        shop = Shop.model_validate(
            {
                "shop_id": shop_id,
                "name": self.name,
                "timezone": self.timezone,
                "slack": slack,
                "twilio": twilio,
                "email": self.email.model_dump() if self.email else None,
                "replies": self.replies,
                "canned_responses": self.canned_responses,
                "new_conversation_after_hours": self.new_conversation_after_hours,
                "sla": self.sla,
                "auto_replies": self.auto_replies,
                "csat": self.csat,
                "retention_days": self.retention_days,
                "digest": self.digest,
                "telegram": {"bot_id": self.telegram.bot_id} if self.telegram else None,
                "triage": self.triage,
                "commerce": self.commerce.model_dump(
                    exclude={
                        "shopify": {"access_token", "webhook_secret"},
                        "woocommerce": {"consumer_key", "consumer_secret", "webhook_secret"},
                    }
                )
                if self.commerce
                else None,
                "meta": self.meta.model_dump(exclude={"access_token"}) if self.meta else None,
                "commerce_actions": self.commerce_actions,
                "order_updates": self.order_updates,
            }
        )
        shopify = self.commerce.shopify if self.commerce else None
        woocommerce = self.commerce.woocommerce if self.commerce else None
        secrets = ShopSecrets(
            slack_bot_token=(
                SecretStr(self.slack.bot_token) if self.slack and self.slack.bot_token else None
            ),
            twilio_auth_token=(
                SecretStr(self.twilio.auth_token)
                if self.twilio and self.twilio.auth_token
                else None
            ),
            telegram_bot_token=(
                SecretStr(self.telegram.bot_token)
                if self.telegram and self.telegram.bot_token
                else None
            ),
            shopify_access_token=_secret(shopify.access_token if shopify else None),
            shopify_webhook_secret=_secret(shopify.webhook_secret if shopify else None),
            meta_access_token=(
                SecretStr(self.meta.access_token) if self.meta and self.meta.access_token else None
            ),
            woocommerce_consumer_key=_secret(woocommerce.consumer_key if woocommerce else None),
            woocommerce_consumer_secret=_secret(
                woocommerce.consumer_secret if woocommerce else None
            ),
            woocommerce_webhook_secret=_secret(woocommerce.webhook_secret if woocommerce else None),
        )
        return shop, secrets


def _secret(value: str | None) -> SecretStr | None:
    return SecretStr(value) if value else None


def missing_secrets(shop: Shop, secrets: ShopSecrets) -> list[str]:
    """Secret fields a shop needs for its configured channels but does not have."""
    missing = []
    if shop.slack and secrets.slack_bot_token is None:
        missing.append("slack.bot_token")
    if shop.twilio and secrets.twilio_auth_token is None:
        missing.append("twilio.auth_token")
    if shop.telegram and not _telegram_token_of(shop.telegram, secrets):
        missing.append("telegram.bot_token")

    if shop.shopify and secrets.shopify_access_token is None:
        missing.append("commerce.shopify.access_token")
    if shop.shopify and secrets.shopify_webhook_secret is None:
        missing.append("commerce.shopify.webhook_secret")
    if shop.meta and secrets.meta_access_token is None:
        missing.append("meta.access_token")
    if shop.woocommerce and secrets.woocommerce_consumer_key is None:
        missing.append("commerce.woocommerce.consumer_key")
    if shop.woocommerce and secrets.woocommerce_consumer_secret is None:
        missing.append("commerce.woocommerce.consumer_secret")
    if shop.woocommerce and secrets.woocommerce_webhook_secret is None:
        missing.append("commerce.woocommerce.webhook_secret")
    return missing


def _telegram_token_of(telegram: TelegramConfig, secrets: ShopSecrets) -> bool:
    """Whether the stored token is the configured bot's (a masked token kept for another bot
    would leave the shop with a token that does not match its bot)."""
    token = secrets.telegram_bot_token
    return token is not None and token.get_secret_value().split(":", 1)[0] == telegram.bot_id


def webhook_urls(public_url: str, shop_id: str) -> dict[str, str]:
    """Where the shop's providers must send their webhooks."""
    return {
        "twilio_messaging": f"{public_url}/webhooks/twilio/{shop_id}",
        "twilio_status_callback": f"{public_url}/webhooks/twilio/{shop_id}/status",
        "slack_events": f"{public_url}/slack/events",
        "slack_interactivity": f"{public_url}/slack/interactions",
        "slack_commands": f"{public_url}/slack/commands",
        "slack_oauth_redirect": f"{public_url}/slack/oauth_redirect",
    }


def telegram_webhook_url(public_url: str, shop_id: str) -> str:
    """Where the shop's bot delivers its updates (set by `threadline shop connect-telegram`)."""
    return f"{public_url}/webhooks/telegram/{shop_id}"


def meta_webhook_setup(public_url: str) -> dict[str, str]:
    """What to paste into the Meta app's dashboard (Webhooks, per product)."""
    return {
        "meta_callback": f"{public_url}/webhooks/meta",
        "meta_verify_token": "the deployment secret's meta_verify_token (docs/DEPLOY.md)",
        "meta_fields_whatsapp": "messages, smb_message_echoes",
        "meta_fields_page": "messages, message_echoes, message_deliveries, message_reactions, "
        "message_reads, message_edits",
        "meta_fields_instagram": "messages, message_reactions, messaging_seen",
    }


def masked_document(shop: Shop, secrets: ShopSecrets, public_url: str) -> dict[str, object]:
    """The shop JSON as the admin API shows it: secrets replaced by a mask or null, and the
    webhook URLs to paste into Twilio and Slack."""
    document: dict[str, object] = shop.model_dump(mode="json", exclude={"incarnation"})
    webhooks = webhook_urls(public_url, shop.shop_id)
    if shop.meta:
        webhooks |= meta_webhook_setup(public_url)
    document["webhooks"] = webhooks
    if shop.slack:
        slack = dict(shop.slack.model_dump(mode="json"))
        slack["bot_token"] = MASK if secrets.slack_bot_token else None
        document["slack"] = slack
    if shop.twilio:
        twilio = dict(shop.twilio.model_dump(mode="json"))
        twilio["auth_token"] = MASK if secrets.twilio_auth_token else None
        document["twilio"] = twilio
    if shop.telegram:
        telegram = dict(shop.telegram.model_dump(mode="json"))
        telegram["bot_token"] = MASK if secrets.telegram_bot_token else None
        document["telegram"] = telegram
        webhooks["telegram"] = telegram_webhook_url(public_url, shop.shop_id)
    if shop.commerce and shop.commerce.shopify:
        shopify = dict(shop.commerce.shopify.model_dump(mode="json"))
        shopify["access_token"] = MASK if secrets.shopify_access_token else None
        shopify["webhook_secret"] = MASK if secrets.shopify_webhook_secret else None
        document["commerce"] = {"shopify": shopify}
        # Where the shop's Shopify app must send its webhooks (and the compliance topics).
        webhooks["shopify"] = f"{public_url}/webhooks/shopify/{shop.shop_id}"
    if shop.meta:
        meta = dict(shop.meta.model_dump(mode="json"))
        meta["access_token"] = MASK if secrets.meta_access_token else None
        document["meta"] = meta
    if shop.commerce and shop.commerce.woocommerce:
        woocommerce = dict(shop.commerce.woocommerce.model_dump(mode="json"))
        woocommerce["consumer_key"] = MASK if secrets.woocommerce_consumer_key else None
        woocommerce["consumer_secret"] = MASK if secrets.woocommerce_consumer_secret else None
        woocommerce["webhook_secret"] = MASK if secrets.woocommerce_webhook_secret else None
        document["commerce"] = {"woocommerce": woocommerce}
        # Where the store's webhooks (order updated, order created) must be delivered.
        webhooks["woocommerce"] = f"{public_url}/webhooks/woocommerce/{shop.shop_id}"
    return document

"""Verdicts on a deployment and its shops: what `threadline doctor` prints, one per check.

The facts come from AWS, Slack and Twilio (gathered by the admin API's checkup for what
needs a shop's secrets, by the CLI for what needs only the operator's credentials); the
functions here only judge them, each into a `Check` that says what is wrong and what to do.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from chalicelib.domain.shop import Shop
from chalicelib.domain.vocabulary import META_CHANNELS, Channel


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    # Nothing to check: the shop does not use it, or the channel does not exist yet.
    NOT_CONFIGURED = "not_configured"


class Check(BaseModel):
    """One check: what was checked, the verdict, what was found and what to do."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    # What is checked: a provider or part of the deployment ("Slack", "Twilio", "AWS").
    subject: str
    name: str
    verdict: Verdict
    detail: str
    # What to do about a failure; empty when there is nothing to do.
    fix: str = ""


class CheckReport(BaseModel):
    """The admin API's answer: every check of a shop, or of the deployment."""

    checks: list[Check]


def passed(subject: str, name: str, detail: str) -> Check:
    return Check(subject=subject, name=name, verdict=Verdict.PASSED, detail=detail)


def failed(subject: str, name: str, detail: str, fix: str) -> Check:
    return Check(subject=subject, name=name, verdict=Verdict.FAILED, detail=detail, fix=fix)


def not_configured(subject: str, detail: str) -> Check:
    return Check(subject=subject, name="", verdict=Verdict.NOT_CONFIGURED, detail=detail)


@dataclass(frozen=True)
class Refusal:
    """A provider's no: its error code (Slack's `token_revoked`, Twilio's 20003, or
    `unreachable`) and what it said."""

    code: str
    detail: str = ""


# The deployment ------------------------------------------------------------------------


def public_url_check(public_url: str) -> Check:
    if not public_url:
        return failed(
            "API",
            "public URL",
            "THREADLINE_PUBLIC_URL is not set: Twilio webhooks answer 503",
            "set it to the API's URL with its stage and deploy (DEPLOY.md §5)",
        )
    return passed("API", "public URL", public_url)


def signing_secret_check(is_set: bool) -> Check:
    if not is_set:
        return failed(
            "API",
            "Slack signing secret",
            "not set: every Slack request is refused (403)",
            "put the Slack app's in the deployment's secret, field slack_signing_secret "
            "(DEPLOY.md §3, §6)",
        )
    return passed("API", "Slack signing secret", "set")


# Slack ---------------------------------------------------------------------------------

SLACK = "Slack"
REINSTALL = "send the shop its install link (threadline urls {shop}) to install the app again"


@dataclass(frozen=True)
class SlackBot:
    """Who a bot token belongs to (Slack's `auth.test`)."""

    team_id: str
    team: str
    user_id: str


@dataclass(frozen=True)
class SlackChannelState:
    """A channel as the bot sees it (Slack's `conversations.info`)."""

    name: str
    is_member: bool
    is_archived: bool


def slack_channels(shop: Shop) -> dict[str, str]:
    """Every Slack channel the shop's threads and digest go to, with what goes there."""
    if shop.slack is None:
        return {}
    conversations: dict[str, list[str]] = {}
    # Channels a shop connects one by one (a bot, a Meta id) count once it has them.
    connected = set(shop.meta.ids()) if shop.meta else set()
    if shop.telegram:
        connected.add(Channel.TELEGRAM)
    for channel in Channel:
        if channel in META_CHANNELS | {Channel.TELEGRAM} and channel not in connected:
            continue
        conversations.setdefault(shop.slack.channel_for(channel), []).append(channel.value)
    uses = {
        slack_channel: [f"{', '.join(channels)} conversations"]
        for slack_channel, channels in conversations.items()
    }
    if shop.digest_channel is not None:
        uses.setdefault(shop.digest_channel, []).append("the daily digest")
    return {slack_channel: " and ".join(what) for slack_channel, what in uses.items()}


def slack_token_check(shop: Shop, bot: SlackBot | Refusal) -> Check:
    fix = REINSTALL.format(shop=shop.shop_id)
    if isinstance(bot, Refusal):
        if bot.code == "unreachable":
            return failed(SLACK, "bot token", f"Slack unreachable: {bot.detail}", "try again")
        return failed(SLACK, "bot token", f"Slack refused the bot token: {bot.code}", fix)
    expected = shop.slack.team_id if shop.slack else ""
    if bot.team_id != expected:
        return failed(
            SLACK,
            "bot token",
            f"the token is of workspace {bot.team_id} ({bot.team}), the shop's is {expected}",
            fix + ", or correct slack.team_id",
        )
    return passed(SLACK, "bot token", f"valid: bot {bot.user_id} in {bot.team} ({bot.team_id})")


def slack_channel_check(
    shop: Shop, channel_id: str, uses: str, state: SlackChannelState | Refusal
) -> Check:
    name = f"channel {channel_id}"
    if isinstance(state, Refusal):
        if state.code == "unreachable":
            return failed(SLACK, name, f"Slack unreachable: {state.detail}", "try again")
        if state.code == "missing_scope":
            return failed(
                SLACK,
                name,
                f"the app may not read channels ({state.detail or 'a scope is missing'})",
                REINSTALL.format(shop=shop.shop_id) + " (the manifest asks for the scope)",
            )
        if state.code == "channel_not_found":
            return failed(
                SLACK,
                name,
                f"no such channel the bot can see (for {uses})",
                "correct the shop's Slack channel (threadline shop put), or invite the app "
                "to the private channel",
            )
        return failed(SLACK, name, f"Slack refused: {state.code}", "see RUNBOOK.md, Slack")
    if state.is_archived:
        return failed(
            SLACK,
            name,
            f"#{state.name} is archived (for {uses})",
            "unarchive it, or move the shop to another channel (threadline shop put)",
        )
    if not state.is_member:
        return failed(
            SLACK,
            name,
            f"the bot is not in #{state.name} (for {uses})",
            f"in #{state.name}: /invite @Threadline",
        )
    return passed(SLACK, name, f"the bot is in #{state.name} (for {uses})")


# Twilio --------------------------------------------------------------------------------

TWILIO = "Twilio"
# The refusal of an account SID and auth token that do not match (Twilio's error 20003).
CREDENTIALS_REFUSED = "credentials_refused"


@dataclass(frozen=True)
class NumberWebhook:
    """Where Twilio sends a number's incoming messages now."""

    number: str
    channel: Channel
    # False when the shop's Twilio account has no such number or WhatsApp sender.
    found: bool
    url: str = ""
    method: str = "POST"
    # What decides the URL instead of the number itself ("Messaging Service MG…").
    via: str = ""


def twilio_account_check(shop: Shop, refusal: Refusal) -> Check:
    account = shop.twilio.account_sid if shop.twilio else ""
    if refusal.code == "unreachable":
        return failed(TWILIO, "account", f"Twilio unreachable: {refusal.detail}", "try again")
    if refusal.code == CREDENTIALS_REFUSED:
        return failed(
            TWILIO,
            "account",
            f"Twilio refused the credentials of {account}",
            "store the account's current auth token (threadline shop put; RUNBOOK.md, "
            "Twilio auth token rotated)",
        )
    return failed(
        TWILIO,
        "account",
        f"Twilio answered {refusal.code}: {refusal.detail}",
        "try again; Twilio's console shows the error (Monitor, Errors)",
    )


def twilio_number_check(shop: Shop, found: NumberWebhook, expected: str) -> Check:
    name = f"{found.channel.value} {found.number}"
    if not found.found:
        kind = "WhatsApp sender" if found.channel is Channel.WHATSAPP else "phone number"
        return failed(
            TWILIO,
            name,
            f"not a {kind} of the shop's Twilio account",
            "correct the shop's numbers (threadline shop put), or add it to the account "
            "(the WhatsApp Sandbox's webhook is set in the console)",
        )
    through = f" (through {found.via})" if found.via else ""
    connect = f"threadline shop connect-twilio {shop.shop_id}"
    fix = f"set {found.via}'s incoming message URL to {expected}" if found.via else connect
    if found.url != expected:
        return failed(TWILIO, name, f"messages go to {found.url or 'no URL'}{through}", fix)
    if found.method.upper() != "POST":
        return failed(TWILIO, name, f"Twilio calls {found.url} with {found.method}", fix)
    return passed(TWILIO, name, f"messages come here{through}")


# Email (SES) ---------------------------------------------------------------------------

EMAIL = "Email"


@dataclass(frozen=True)
class ReceiptRule:
    name: str
    enabled: bool
    # Addresses and domains the rule takes mail for; none: every verified domain's.
    recipients: tuple[str, ...]


def takes_mail_for(condition: str, address: str) -> bool:
    """Whether a receipt rule's recipient condition matches an address, as SES matches it:
    an address also with a +label, a domain without its subdomains, a leading dot every
    subdomain."""
    wanted = condition.lower()
    local, _, domain = address.lower().rpartition("@")
    if "@" in wanted:
        wanted_local, _, wanted_domain = wanted.rpartition("@")
        return wanted_domain == domain and local.split("+", 1)[0] == wanted_local
    if wanted.startswith("."):
        return domain.endswith(wanted)
    return domain == wanted


def receiving_check(
    address: str, active_rule_set: str | None, rule_set: str, rules: Sequence[ReceiptRule]
) -> Check:
    name = "receiving"
    if active_rule_set != rule_set:
        active = f"{active_rule_set!r} is" if active_rule_set else "no rule set is"
        return failed(
            EMAIL,
            name,
            f"{active} active, not {rule_set!r}: SES keeps no mail for Threadline",
            f"aws ses set-active-receipt-rule-set --rule-set-name {rule_set} (DEPLOY.md §7)",
        )
    taking = [
        rule.name
        for rule in rules
        if rule.enabled
        and (not rule.recipients or any(takes_mail_for(c, address) for c in rule.recipients))
    ]
    if not taking:
        return failed(
            EMAIL,
            name,
            f"no enabled rule of {rule_set!r} takes mail for {address}",
            "deploy the stack again (its rule names the recipients Threadline serves)",
        )
    return passed(EMAIL, name, f"rule {taking[0]} of {rule_set!r} takes mail for {address}")


def domain_check(address: str, statuses: Mapping[str, str]) -> Check:
    """`statuses`: SES's verification status of the address's identities (the address,
    its domain), as SES names them (Success, Pending, Failed, …)."""
    domain = address.rpartition("@")[2].lower()
    name = f"domain {domain}"
    status = statuses.get(domain)
    if status == "Success":
        return passed(EMAIL, name, "verified in SES")
    if statuses.get(address) == "Success":
        return failed(
            EMAIL,
            name,
            f"only {address} is verified: mail is sent, but SES receives only for a "
            "verified domain",
            f"aws sesv2 create-email-identity --email-identity {domain}, then its DNS "
            "records (DEPLOY.md §7)",
        )
    shown = f"verification {status.lower()}" if status else "not an SES identity"
    return failed(
        EMAIL,
        name,
        shown,
        f"aws sesv2 create-email-identity --email-identity {domain}, then publish its DKIM "
        "and MX records (DEPLOY.md §7)",
    )


# Channels Threadline has no adapter for yet: one check each, until they exist.
NOT_YET = (not_configured("Commerce", "not configured (Shopify, WooCommerce)"),)


# Telegram ------------------------------------------------------------------------------

TELEGRAM = "Telegram"
CONNECT_TELEGRAM = "threadline shop connect-telegram {shop}"
# No token of the shop's bot is stored (none, or another bot's).
NO_BOT_TOKEN = "no_token"


@dataclass(frozen=True)
class TelegramWebhookInfo:
    """Where Telegram delivers a bot's updates now (its `getWebhookInfo`)."""

    url: str
    # Telegram's words on the last delivery that failed, if the last one did.
    last_error_message: str = ""
    # None: Telegram's default, every update type but a few member updates.
    allowed_updates: tuple[str, ...] | None = None
    pending_update_count: int = 0


def telegram_webhook_check(
    shop: Shop, found: TelegramWebhookInfo | Refusal, expected_url: str
) -> Check:
    bot = shop.telegram.bot_id if shop.telegram else ""
    name = f"bot {bot}"
    connect = CONNECT_TELEGRAM.format(shop=shop.shop_id)
    if isinstance(found, Refusal):
        if found.code == "unreachable":
            return failed(TELEGRAM, name, f"Telegram unreachable: {found.detail}", "try again")
        if found.code == NO_BOT_TOKEN:
            return failed(
                TELEGRAM,
                name,
                "no token of this bot is stored: nothing can be sent or checked",
                "store it: threadline shop put with telegram.bot_token, then " + connect,
            )
        if found.code in ("401", "404"):
            return failed(
                TELEGRAM,
                name,
                "Telegram refused the bot token (revoked, or another bot's)",
                "store the bot's current token from @BotFather (threadline shop put with "
                f"telegram.bot_token), then {connect}",
            )
        return failed(
            TELEGRAM, name, f"Telegram answered {found.code}: {found.detail}", "try again"
        )
    if found.url != expected_url:
        where = found.url or "nowhere (no webhook set)"
        return failed(TELEGRAM, name, f"updates go to {where}", connect)
    if found.allowed_updates is not None and "message" not in found.allowed_updates:
        return failed(
            TELEGRAM,
            name,
            f"the bot receives only {', '.join(found.allowed_updates) or 'nothing'}: "
            "customers' messages are not delivered",
            connect,
        )
    if found.last_error_message:
        waiting = (
            f"; {found.pending_update_count} updates wait" if found.pending_update_count else ""
        )
        return failed(
            TELEGRAM,
            name,
            f"Telegram's last delivery here failed: {found.last_error_message}{waiting}",
            f"{connect} sets the webhook and its secret token again; if deliveries still "
            "fail, the API's logs for /webhooks/telegram say why",
        )
    return passed(TELEGRAM, name, "updates come here")


# Meta ----------------------------------------------------------------------------------

META = "Meta"
STORE_META_TOKEN = (
    "store a current system-user token (threadline shop put with meta.access_token; "
    "DEPLOY.md, Meta app)"
)
# Graph's code for an access token that is invalid, expired or revoked.
GRAPH_TOKEN_REFUSED = "190"


@dataclass(frozen=True)
class GraphObject:
    """An object the token may read: its id and what Meta calls it (a Page's name, a
    number's display number, an account's username)."""

    id: str
    label: str = ""


def meta_token_check(found: GraphObject | Refusal) -> Check:
    if isinstance(found, Refusal):
        if found.code == "unreachable":
            return failed(
                META, "access token", f"Graph API unreachable: {found.detail}", "try again"
            )
        if found.code == GRAPH_TOKEN_REFUSED:
            return failed(
                META,
                "access token",
                f"Meta refused the access token (expired or revoked): {found.detail}",
                STORE_META_TOKEN,
            )
        return failed(
            META, "access token", f"Meta answered {found.code}: {found.detail}", "try again"
        )
    shown = f" ({found.label})" if found.label else ""
    return passed(META, "access token", f"accepted: it is {found.id}{shown}")


def meta_id_check(channel: Channel, meta_id: str, found: GraphObject | Refusal) -> Check:
    name = f"{channel.value} {meta_id}"
    if isinstance(found, Refusal):
        if found.code == "unreachable":
            return failed(META, name, f"Graph API unreachable: {found.detail}", "try again")
        return failed(
            META,
            name,
            f"the token may not read it ({found.code}: {found.detail})",
            "correct the id (threadline shop put), or give the token's system user the "
            "asset and its permission in Business Settings (DEPLOY.md, Meta app)",
        )
    shown = f" ({found.label})" if found.label else ""
    return passed(META, name, f"readable with the shop's token{shown}")

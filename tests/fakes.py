"""In-memory stand-ins for the ports: Slack and Twilio, the table's records, the shops'
secrets."""

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.channels.base import DeliveryRefused, MediaFile, SendReceipt
from chalicelib.channels.twilio import TwilioChannel
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import DeliveryStatus, MediaItem, OutboundMessage, SlackFile
from chalicelib.domain.shop import Shop, ShopSecrets
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.store.claims import ShopMessageClaim
from chalicelib.store.digests import DIGEST_RECORD_LIFETIME, DigestLease
from local_stack.slack_limits import message_refusal, view_refusal


@dataclass
class SlackPost:
    token: str
    channel: str
    message: SlackMessage
    thread_ts: str | None
    ts: str


@dataclass
class FakeSlack:
    """Every workspace's posts and reactions, by token; ts values increase like Slack's."""

    posts: list[SlackPost] = field(default_factory=list)
    updates: list[SlackPost] = field(default_factory=list)
    reactions: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    failures: list[Exception] = field(default_factory=list)
    views: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    joined: list[tuple[str, str]] = field(default_factory=list)
    # Files agents attached, by download URL; and what was uploaded into threads.
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: list[tuple[str, str | None, list[MediaFile]]] = field(default_factory=list)
    upload_failures: list[Exception] = field(default_factory=list)
    # Display names by user id; users.info knows nobody else.
    names: dict[str, str] = field(default_factory=lambda: {"U0AGENT": "Bia"})
    # (channel, ts) of the messages deleted; queue exceptions to make the next deletes fail.
    deleted: list[tuple[str, str]] = field(default_factory=list)
    delete_failures: list[Exception] = field(default_factory=list)
    # Files the bot shared, by the id Slack gave each; the ids of those deleted, and
    # exceptions to make the next file deletions fail.
    shared_files: dict[str, MediaFile] = field(default_factory=dict)
    deleted_files: list[str] = field(default_factory=list)
    delete_file_failures: list[Exception] = field(default_factory=list)
    _clock: Any = field(default_factory=lambda: itertools.count(1))

    def workspace(self, token: str) -> "FakeWorkspace":
        return FakeWorkspace(self, token)

    def roots(self) -> list[SlackPost]:
        return [p for p in self.posts if p.thread_ts is None]

    def thread(self, thread_ts: str) -> list[SlackPost]:
        return [p for p in self.posts if p.thread_ts == thread_ts]


def refused_as_slack_does(method: str, refusal: dict[str, Any] | None) -> None:
    """Raises what slack_sdk's WebClient raises when Slack refuses a call (`ok: false`)."""
    if refusal is None:
        return
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url=f"https://slack.com/api/{method}",
        req_args={},
        data=refusal,
        headers={},
        status_code=200,
    )
    raise SlackApiError(f"The request to the Slack API failed. ({method})", response)  # type: ignore[no-untyped-call]


def direct_messages(destination: str) -> str:
    """Where Slack puts a message posted to a user: the bot's direct messages with them,
    a channel of its own (D…)."""
    return "D" + destination[1:] if destination[:1] in ("U", "W") else destination


def message_params(channel: str, message: SlackMessage) -> dict[str, Any]:
    """What SlackWorkspace sends for a message."""
    return {"channel": channel, "text": message.text, "blocks": message.blocks}


@dataclass
class FakeWorkspace:
    """One workspace of FakeSlack: it refuses, as Slack does, what Slack would refuse
    (blocks past Block Kit's limits, a text too long), with slack_sdk's error."""

    slack: FakeSlack
    token: str

    def post(self, channel: str, message: SlackMessage, thread_ts: str | None = None) -> str:
        if self.slack.failures:
            raise self.slack.failures.pop(0)
        refused_as_slack_does("chat.postMessage", message_refusal(message_params(channel, message)))
        ts = f"1764000000.{next(self.slack._clock):06d}"
        self.slack.posts.append(SlackPost(self.token, channel, message, thread_ts, ts))
        return ts

    def post_to(self, destination: str, message: SlackMessage) -> tuple[str, str]:
        return direct_messages(destination), self.post(destination, message)

    def find_posted(
        self, channel: str, thread_ts: str, metadata: dict[str, Any], since: datetime
    ) -> str | None:
        # The fake's clock is not the messages' clock: `since` narrows nothing here.
        return next(
            (
                p.ts
                for p in self.slack.posts
                if (p.channel, p.thread_ts) == (channel, thread_ts)
                and p.message.metadata == metadata
            ),
            None,
        )

    def update(self, channel: str, ts: str, message: SlackMessage) -> None:
        refused_as_slack_does("chat.update", message_refusal(message_params(channel, message)))
        self.slack.updates.append(SlackPost(self.token, channel, message, None, ts))

    def delete(self, channel: str, ts: str) -> None:
        if self.slack.delete_failures:
            raise self.slack.delete_failures.pop(0)
        if direct_messages(channel) != channel:
            # A user id names no channel: their direct messages have an id of their own.
            refused_as_slack_does("chat.delete", {"ok": False, "error": "channel_not_found"})
        if (channel, ts) in self.slack.deleted:
            return
        self.slack.deleted.append((channel, ts))

    def display_name(self, user_id: str) -> str | None:
        return self.slack.names.get(user_id)

    def join(self, channel: str) -> None:
        self.slack.joined.append((self.token, channel))

    def permalink(self, channel: str, ts: str) -> str:
        return f"https://fake.slack.com/archives/{channel}/p{ts.replace('.', '')}"

    def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        refused_as_slack_does("views.open", view_refusal(view))
        self.slack.views.append((trigger_id, view))

    def upload_files(
        self, channel: str, thread_ts: str | None, files: list[MediaFile]
    ) -> list[str]:
        if self.slack.upload_failures:
            raise self.slack.upload_failures.pop(0)
        self.slack.uploads.append((channel, thread_ts, files))
        ids = [f"F{len(self.slack.shared_files) + n:08d}" for n in range(1, len(files) + 1)]
        self.slack.shared_files.update(zip(ids, files, strict=True))
        return ids

    def delete_file(self, file_id: str) -> None:
        if self.slack.delete_file_failures:
            raise self.slack.delete_file_failures.pop(0)
        if file_id not in self.slack.deleted_files:
            self.slack.deleted_files.append(file_id)

    def download_file(self, file: SlackFile) -> MediaFile | None:
        content = self.slack.files.get(file.url)
        if content is None:
            return None
        return MediaFile(filename=file.name, content_type=file.mimetype, content=content)

    # Like SlackWorkspace: adding a reaction twice or removing a missing one is harmless.
    def react(self, channel: str, ts: str, name: str) -> None:
        shown = self.slack.reactions.setdefault((channel, ts), [])
        if name not in shown:
            shown.append(name)

    def unreact(self, channel: str, ts: str, name: str) -> None:
        shown = self.slack.reactions.setdefault((channel, ts), [])
        if name in shown:
            shown.remove(name)


@dataclass
class SentMessage:
    to: str
    from_: str
    text: str
    status_callback: str
    sid: str
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: dict[str, str] | None = None


class RecordingTwilio(TwilioChannel):
    """The real Twilio adapter (signatures, parsing), with sending recorded instead of made.

    Queue exceptions in `failures` to make the next sends fail before sending; count
    `lost_answers` to make the next sends go out but time out before Twilio's answer."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SentMessage] = []
        self.failures: list[Retryable | DeliveryRefused] = []
        self.lost_answers = 0
        # Customers' attachments Twilio holds, by media URL.
        self.media: dict[str, MediaFile] = {}

    def fetch_media(self, item: MediaItem, shop: Shop, secrets: ShopSecrets) -> MediaFile | None:
        return self.media.get(item.url)

    def send(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        status_callback: str,
        media_urls: tuple[str, ...] = (),
    ) -> SendReceipt:
        if self.failures:
            raise self.failures.pop(0)
        sid = f"SM{len(self.sent) + 1:032x}"
        self.sent.append(
            SentMessage(
                message.to,
                message.from_,
                message.text,
                status_callback,
                sid,
                media_urls,
                message.content_sid,
                message.content_variables,
            )
        )
        if self.lost_answers:
            self.lost_answers -= 1
            raise Retryable("Twilio unreachable: ReadTimeout")
        return SendReceipt(provider_message_id=sid, status=DeliveryStatus.QUEUED)

    def sent_like(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[SendReceipt]:
        return [
            SendReceipt(provider_message_id=sent.sid, status=DeliveryStatus.QUEUED)
            for sent in self.sent
            if (sent.to, sent.from_, sent.text) == (message.to, message.from_, message.text)
        ]


# Independent records and secrets: counters, installs, digests, claims, the vault


def condition_check_failed(operation: str) -> ClientError:
    """What botocore raises when a conditional write of DynamoDB's finds its condition false."""
    return ClientError(
        {
            "Error": {
                "Code": "ConditionalCheckFailedException",
                "Message": "The conditional request failed",
            }
        },
        operation,
    )


def epoch_seconds(moment: datetime) -> int:
    """A time as the table stores it for comparisons (`expires_at`, `lease_until`)."""
    return int(moment.timestamp())


@dataclass
class FakeCounters:
    """A shop's counters, as `store.counters.Counters` keeps them."""

    values: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, shop_id: str, name: str) -> None:
        counters = self.values.setdefault(shop_id, {})
        counters[name] = counters.get(name, 0) + 1

    def counters(self, shop_id: str) -> dict[str, int]:
        return dict(self.values.get(shop_id, {}))


@dataclass
class FakeInstallations:
    """Slack installations and OAuth states, as `store.installs.Installations` keeps them: a
    state is consumed once and only before its expiry; an expired state stays (DynamoDB's
    TTL deletes it later), so its value cannot be issued again either."""

    # state -> (shop id, expiry in epoch seconds)
    states: dict[str, tuple[str, int]] = field(default_factory=dict)
    # (enterprise id or "-", team id) -> the installation as stored, in DynamoDB's types
    installations: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    def issue_oauth_state(self, state: str, shop_id: str, expires_at: datetime) -> None:
        if state in self.states:
            raise condition_check_failed("PutItem")
        self.states[state] = (shop_id, epoch_seconds(expires_at))

    def consume_oauth_state(self, state: str, now: datetime) -> str | None:
        issued = self.states.get(state)
        if issued is None or issued[1] <= epoch_seconds(now):
            return None
        del self.states[state]
        return issued[0]

    def put_installation(self, values: dict[str, Any]) -> None:
        from boto3.dynamodb.types import TypeSerializer

        # Through DynamoDB's types, as the table does: numbers come back as Decimals.
        serializer = TypeSerializer()
        key = _installation_key(values.get("enterprise_id"), str(values["team_id"]))
        self.installations[key] = {
            name: serializer.serialize(value) for name, value in values.items() if value is not None
        }

    def get_installation(self, enterprise_id: str | None, team_id: str) -> dict[str, Any] | None:
        from boto3.dynamodb.types import TypeDeserializer

        stored = self.installations.get(_installation_key(enterprise_id, team_id))
        if stored is None:
            return None
        deserializer = TypeDeserializer()
        return {name: deserializer.deserialize(value) for name, value in stored.items()}

    def delete_installation(self, enterprise_id: str | None, team_id: str) -> None:
        self.installations.pop(_installation_key(enterprise_id, team_id), None)


def _installation_key(enterprise_id: str | None, team_id: str) -> tuple[str, str]:
    # No enterprise (None or "") is one key, as in the table's.
    return enterprise_id or "-", team_id


@dataclass
class StoredDigest:
    """One day's digest record: the lease of the run holding it and its progress."""

    lease_token: str
    lease_until: int | None
    expires_at: int
    posted_ts: str | None = None
    done_at: str | None = None


@dataclass
class FakeDigests:
    """Daily digest leases, as `store.digests.Digests` keeps them: one holder at a time, a
    lease that ran out taken over, a day done never leased again; a step by a run that lost
    its lease raises DynamoDB's conditional-check error (its release is silent)."""

    days: dict[tuple[str, date], StoredDigest] = field(default_factory=dict)

    def lease_digest(
        self, shop_id: str, day: date, token: str, now: datetime, lease: timedelta
    ) -> DigestLease | None:
        stored = self.days.get((shop_id, day))
        if stored is not None and (
            stored.done_at is not None
            or stored.lease_until is None
            or stored.lease_until >= epoch_seconds(now)
        ):
            return None
        posted_ts = stored.posted_ts if stored else None
        self.days[(shop_id, day)] = StoredDigest(
            lease_token=token,
            lease_until=epoch_seconds(now + lease),
            expires_at=epoch_seconds(now + DIGEST_RECORD_LIFETIME),
            posted_ts=posted_ts,
        )
        return DigestLease(shop_id, day, token, posted_ts)

    def _held(self, lease: DigestLease) -> StoredDigest:
        stored = self.days.get((lease.shop_id, lease.day))
        if stored is None or stored.lease_token != lease.token:
            raise condition_check_failed("UpdateItem")
        return stored

    def digest_posted(self, lease: DigestLease, ts: str) -> None:
        self._held(lease).posted_ts = ts

    def digest_done(self, lease: DigestLease, now: datetime) -> None:
        stored = self._held(lease)
        stored.done_at = now.isoformat()
        stored.lease_until = None

    def release_digest(self, lease: DigestLease) -> None:
        stored = self.days.get((lease.shop_id, lease.day))
        if stored is not None and stored.lease_token == lease.token:
            stored.lease_until = 0

    def erase_digests(self, shop_id: str) -> None:
        for key in [key for key in self.days if key[0] == shop_id]:
            del self.days[key]


@dataclass
class FakeDeadLetterClaims:
    """Dead letters told, by SQS message id, as `store.claims.DeadLetterClaims` keeps
    them: the first claimer wins until the claim is released."""

    # message id -> when it was claimed
    told: dict[str, datetime] = field(default_factory=dict)

    def claim_dead_letter(self, message_id: str, now: datetime) -> bool:
        if message_id in self.told:
            return False
        self.told[message_id] = now
        return True

    def release_dead_letter(self, message_id: str) -> None:
        self.told.pop(message_id, None)


@dataclass
class StoredShopMessageClaim:
    request_id: str
    fingerprint: str
    queued: bool
    incarnation: str
    expires_at: int


@dataclass
class FakeShopMessageClaims:
    """Shop messages by their caller's id, as `store.claims.ShopMessageClaims` keeps them:
    the first claim answers every later one, unless it expired or its shop's incarnation
    is not the claimer's (a shop deleted since whose id another took)."""

    claims: dict[tuple[str, str], StoredShopMessageClaim] = field(default_factory=dict)

    def claim_shop_message(
        self, claim: ShopMessageClaim, *, now: datetime, expires_at: int
    ) -> ShopMessageClaim:
        key = (claim.shop_id, claim.caller_id)
        filed = self.claims.get(key)
        incarnation = claim.incarnation or ""
        if (
            filed is None
            or filed.expires_at <= epoch_seconds(now)
            or filed.incarnation != incarnation
        ):
            self.claims[key] = StoredShopMessageClaim(
                request_id=claim.request_id,
                fingerprint=claim.fingerprint,
                queued=False,
                incarnation=incarnation,
                expires_at=expires_at,
            )
            return claim
        return ShopMessageClaim(
            shop_id=claim.shop_id,
            caller_id=claim.caller_id,
            request_id=filed.request_id,
            fingerprint=filed.fingerprint,
            queued=filed.queued,
            incarnation=claim.incarnation,
        )

    def shop_message_queued(self, claim: ShopMessageClaim) -> None:
        filed = self.claims.get((claim.shop_id, claim.caller_id))
        if filed is not None:
            filed.queued = True


@dataclass
class FakeVault:
    """The shops' secrets, as `secrets.SecretVault` keeps them in Secrets Manager: each write
    a new version; a deleted secret is kept, unreadable and, as AWS does (moto does not),
    unwritable until revived; an undo takes back only the current version. Reads are never
    stale (the real vault clears its cache on its own writes)."""

    # shop id -> (current version id, the secrets of that version)
    current: dict[str, tuple[str, ShopSecrets]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    _versions: Any = field(default_factory=lambda: itertools.count(1))

    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets:
        if shop_id in self.deleted:
            from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

            # As powertools wraps the SDK's refusal, which the real vault lets through.
            try:
                raise _secret_refused("GetSecretValue")
            except ClientError as refusal:
                raise GetParameterError(str(refusal)) from refusal
        stored = self.current.get(shop_id)
        return stored[1].model_copy() if stored else ShopSecrets()

    def put(self, shop_id: str, secrets: ShopSecrets) -> str:
        if shop_id in self.deleted:
            raise _secret_refused("PutSecretValue")
        version = f"{next(self._versions):08d}-0000-4000-8000-000000000000"
        self.current[shop_id] = (version, secrets.model_copy())
        return version

    def revive(self, shop_id: str) -> None:
        self.deleted.discard(shop_id)

    def delete(self, shop_id: str) -> None:
        if shop_id in self.current:
            self.deleted.add(shop_id)

    def undo(self, shop_id: str, version_id: str, previous: ShopSecrets | None) -> None:
        stored = self.current.get(shop_id)
        if stored is None or stored[0] != version_id:
            return
        if previous is None:
            del self.current[shop_id]
            self.deleted.discard(shop_id)
        else:
            self.put(shop_id, previous)


def _secret_refused(operation: str) -> ClientError:
    """What Secrets Manager answers about a secret scheduled for deletion."""
    return ClientError(
        {"Error": {"Code": "InvalidRequestException", "Message": "marked for deletion"}},
        operation,
    )

"""Meta's ack path: the one webhook of WhatsApp Cloud API, Messenger and Instagram.

The signature is checked before anything else, against the app secret (read afresh once
if it refuses: the secret was rotated). A POST may carry many entries for many shops: every
message is stored and queued, and every status queued, before the 200; if any one cannot
be, the answer is 503 and Meta sends the whole batch again, which the stored copies make
harmless (a message already processed is not queued twice). Warm, each message costs one
DynamoDB write and one SQS send: which shop claims an id is remembered per container.
"""

import time
from collections.abc import Callable, Mapping
from datetime import datetime

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.meta import MetaBatch, handshake_challenge, parse_webhook, verify_signature
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import InboundMessage, InboundStatus
from chalicelib.queues import Queues
from chalicelib.secrets import DeploymentSecrets
from chalicelib.services.ports import Clock, InboundRecords, MetricsPort, ShopRecords

logger = Logger(service="threadline", child=True)

AWS_ERRORS = (ClientError, BotoCoreError)
UNROUTED_META_ENTRY = "UnroutedMetaEntry"


# An id no shop claims is asked about again this soon: a shop that has just claimed it
# (before subscribing the id in Meta's dashboard) must not lose its first messages for long.
UNCLAIMED_RECHECK_SECONDS = 5.0


class ClaimCache:
    """Which shop claims each Meta id, as this container last read it: kept `max_age`
    seconds (an id moved to another shop is followed within that; the inbound worker reads
    the claim afresh and re-files what came meanwhile, see meta_routes.py), unknown ids for
    UNCLAIMED_RECHECK_SECONDS, so a stream of entries for an unclaimed id costs a read in
    that time and a newly claimed id is routed within it."""

    def __init__(
        self,
        lookup: Callable[[str], str | None],
        max_age: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._max_age = max_age
        self._monotonic = monotonic
        self._known: dict[str, tuple[float, str | None]] = {}

    def __call__(self, address: str) -> str | None:
        now = self._monotonic()
        known = self._known.get(address)
        if known is not None:
            kept_for = self._max_age if known[1] is not None else UNCLAIMED_RECHECK_SECONDS
            if now - known[0] < min(kept_for, self._max_age):
                return known[1]
        try:
            owner = self._lookup(address)
        except AWS_ERRORS as error:
            raise Retryable("claims unavailable") from error
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[address] = (now, owner)
        return owner


class MetaIntake:
    def __init__(
        self,
        deployment: DeploymentSecrets,
        shops: ShopRecords,
        inbound: InboundRecords,
        queues: Queues,
        metrics: MetricsPort,
        clock: Clock,
        claim_cache_seconds: float,
    ) -> None:
        self._deployment = deployment
        self._shops = shops
        self._inbound = inbound
        self._queues = queues
        self._metrics = metrics
        self._clock = clock
        self._claims = ClaimCache(shops.shop_for_address, claim_cache_seconds)

    def handshake(self, params: Mapping[str, str]) -> str:
        """The challenge Meta's subscription check expects back (Forbidden otherwise)."""
        return self._deployment.checked(
            lambda keys: handshake_challenge(params, keys.meta_verify_token.get_secret_value())
        )

    def webhook(self, request: WebhookRequest) -> MetaBatch:
        """Stores and queues what the batch carries; returns it (for the log's counts)."""
        received_at = self._clock()
        signature = request.headers.get("x-hub-signature-256")
        self._deployment.checked(
            lambda keys: verify_signature(
                request.body, signature, keys.meta_app_secret.get_secret_value()
            )
        )
        batch = parse_webhook(request.body, self._claims, received_at)
        for message in batch.messages:
            self._store_and_queue(message, received_at)
        try:
            for update in batch.statuses:
                self._queues.send_outbound(update.model_copy(update={"received_at": received_at}))
            for receipt in batch.watermarks:
                self._queues.send_outbound(receipt.model_copy(update={"received_at": received_at}))
        except AWS_ERRORS as error:
            raise Retryable("status not queued") from error
        for _ in range(batch.unrouted):
            # Not retried: no shop claims the id, and another try would find none either.
            self._metrics.count(UNROUTED_META_ENTRY)
        logger.info(
            "meta webhook",
            messages=len(batch.messages),
            statuses=len(batch.statuses),
            watermarks=len(batch.watermarks),
            unrouted=batch.unrouted,
            ignored=batch.ignored,
        )
        return batch

    def _store_and_queue(self, message: InboundMessage, received_at: datetime) -> None:
        try:
            shop = self._shops.get_shop(message.shop_id)
        except (*AWS_ERRORS, GetParameterError) as error:
            raise Retryable("shop configuration unavailable") from error
        if shop is None:
            # Claimed a moment ago by a shop deleted since: as unclaimed.
            self._metrics.count(UNROUTED_META_ENTRY)
            return
        message = message.model_copy(update={"shop_incarnation": shop.incarnation})
        body: str | None = self._queues.inbound_body(message)
        try:
            stored = self._inbound.save_inbound(message, expires_at=shop.expiry(received_at))
            if stored is not None:
                message, status = stored
                if status is not InboundStatus.RECEIVED:
                    logger.info("duplicate delivery", message_key=message.message_key)
                    return
                body = None
            self._queues.send_inbound(message, body)
        except AWS_ERRORS as error:
            raise Retryable("message not stored and queued") from error

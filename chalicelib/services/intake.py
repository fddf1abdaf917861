"""The ack paths: what happens while a provider waits for our answer.

Each webhook is verified, normalised, stored and/or queued, and answered; one whose job
would be more than a queue carries is refused (413) before anything is stored. Warm, with the
shop's config and secrets cached, a customer message costs two AWS calls (one DynamoDB
write, one SQS send); a Slack event or a status callback one (an SQS send). Whenever the
work is not both stored and queued, a Retryable makes the provider try again.
"""

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.channels.base import ChannelAdapter, UpdateChannel, WebhookRequest
from chalicelib.channels.slack import (
    CannedPicker,
    IgnoredEvent,
    UrlVerification,
    parse_command,
    parse_event,
    parse_interaction,
    verify_request,
)
from chalicelib.channels.slack_cancellations import CancelAsked, CancelChosen, CancelConfirmed
from chalicelib.channels.slack_refunds import RefundAsked, RefundChosen, RefundConfirmed
from chalicelib.channels.slack_returns import ReturnAsked, ReturnChosen, ReturnConfirmed
from chalicelib.domain.errors import Forbidden, NotFound, Retryable
from chalicelib.domain.jobs import CannedReply
from chalicelib.domain.messages import InboundMessage, InboundStatus, ReplyRevision
from chalicelib.domain.shop import Shop, ShopSecrets, is_shop_id
from chalicelib.queues import Queues
from chalicelib.secrets import DeploymentSecrets
from chalicelib.services.agent_tools import AgentTools
from chalicelib.services.ports import Clock, InboundRecords, ReplyRecords, ShopLookup, ShopVault
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.services.cancellations import CancelActions
    from chalicelib.services.refunds import RefundActions
    from chalicelib.services.returns import ReturnActions

logger = Logger(service="threadline", child=True)

AWS_ERRORS = (ClientError, BotoCoreError)
REFRESH_AFTER_REFUSAL_SECONDS = 10.0
T = TypeVar("T")


class Intake:
    def __init__(
        self,
        settings: Settings,
        deployment: DeploymentSecrets,
        shops: ShopLookup,
        inbound: InboundRecords,
        replies: ReplyRecords,
        vault: ShopVault,
        queues: Queues,
        twilio: ChannelAdapter,
        tools: AgentTools,
        clock: Clock,
        telegram: UpdateChannel | None = None,
        refunds: "Callable[[], RefundActions] | None" = None,
        cancellations: "Callable[[], CancelActions] | None" = None,
        returns: "Callable[[], ReturnActions] | None" = None,
    ) -> None:
        # The order actions are built when a Slack interaction first needs one: a message's
        # ack, the cold start's usual first event, never imports commerce.
        self._refunds = refunds
        self._cancellations = cancellations
        self._returns = returns
        self._settings = settings
        self._deployment = deployment
        self._tools = tools
        self._shops = shops
        self._inbound = inbound
        self._replies = replies
        self._vault = vault
        self._queues = queues
        self._twilio = twilio
        self._clock = clock
        self._telegram = telegram
        self._refreshed_at: dict[str, float] = {}

    def _shop(self, shop_id: str, *, fresh: bool = False) -> tuple[Shop, ShopSecrets]:
        if not self._settings.public_url:
            # Twilio signs the public URL; without it no signature can be checked.
            raise Retryable("THREADLINE_PUBLIC_URL is not configured")
        if not is_shop_id(shop_id):
            raise NotFound("no such shop")
        try:
            shop = self._shops.get_shop(shop_id, fresh=fresh)
            secrets = self._vault.get(shop_id, fresh=fresh) if shop else None
        except (*AWS_ERRORS, GetParameterError) as error:
            raise Retryable("shop configuration unavailable") from error
        if shop is None or secrets is None:
            raise NotFound("no such shop")
        return shop, secrets

    def _accepted(
        self,
        shop_id: str,
        request: WebhookRequest,
        read: Callable[[Shop], T],
        adapter: ChannelAdapter | None = None,
    ) -> T:
        """`read(shop)` of a request the shop's provider account signed.

        Config and secrets are cached per container, so a token rotated or a number added
        through another container is refused here at first; a refusal is checked once more
        against fresh config (at most every few seconds per shop, so forged requests cannot
        turn into a stream of reads)."""
        channel = adapter or self._twilio
        shop, secrets = self._shop(shop_id)
        try:
            channel.verify(request, shop, secrets)
            return read(shop)
        except Forbidden:
            last = self._refreshed_at.get(shop_id)
            now = time.monotonic()
            if last is not None and now - last < REFRESH_AFTER_REFUSAL_SECONDS:
                raise
            self._refreshed_at[shop_id] = now
            fresh_shop, fresh_secrets = self._shop(shop_id, fresh=True)
            if (fresh_shop, fresh_secrets) == (shop, secrets):
                raise
            channel.verify(request, fresh_shop, fresh_secrets)
            return read(fresh_shop)

    def customer_message(self, shop_id: str, request: WebhookRequest) -> None:
        received_at = self._clock()
        shop, message = self._accepted(
            shop_id,
            request,
            lambda shop: (shop, self._twilio.parse(request, shop, received_at=received_at)),
        )
        self._store_and_queue(shop, message)

    def telegram_update(self, shop_id: str, request: WebhookRequest) -> None:
        """A Telegram update: its secret token checked first, then the customer's message
        it carries stored and queued like any other; an update that carries none is
        acknowledged and nothing is kept."""
        telegram = self._telegram
        if telegram is None:
            raise NotFound("Telegram is not enabled on this deployment")
        received_at = self._clock()
        shop, message = self._accepted(
            shop_id,
            request,
            lambda shop: (shop, telegram.parse_update(request, shop, received_at=received_at)),
            telegram,
        )
        if message is None:
            logger.debug("telegram update without a customer message acknowledged")
            return
        self._store_and_queue(shop, message)

    def _store_and_queue(self, shop: Shop, message: InboundMessage) -> None:
        """One conditional write and one queue send: a provider's retry of a message stored
        and processed changes nothing, one stored but not processed is queued again."""
        received_at = message.received_at
        message = message.model_copy(update={"shop_incarnation": shop.incarnation})
        body: str | None = self._queues.inbound_body(message)
        try:
            stored = self._inbound.save_inbound(message, expires_at=shop.expiry(received_at))
            if stored is not None:
                message, status = stored
                if status is not InboundStatus.RECEIVED:
                    logger.info("duplicate delivery", message_key=message.message_key)
                    return
                logger.info(
                    "re-queueing a stored, unprocessed message", message_key=message.message_key
                )
                # The stored copy is what goes out, encoded afresh.
                body = None
            self._queues.send_inbound(message, body)
        except AWS_ERRORS as error:
            raise Retryable("message not stored and queued") from error

    def delivery_status(self, shop_id: str, request: WebhookRequest) -> None:
        received_at = self._clock()
        update = self._accepted(
            shop_id, request, lambda shop: self._twilio.parse_status(request, shop)
        )
        if update is None:
            return
        update = update.model_copy(update={"received_at": received_at})
        try:
            self._queues.send_outbound(update)
        except AWS_ERRORS as error:
            raise Retryable("status not queued") from error

    def _verify_slack(self, request: WebhookRequest) -> None:
        """Slack's signature, checked against the signing secret read afresh if the cached
        one refuses it (the secret was regenerated)."""
        self._deployment.checked(
            lambda keys: verify_request(request, keys.slack_signing_secret.get_secret_value())
        )

    def slack_event(self, request: WebhookRequest) -> str | None:
        """Returns the challenge to echo for Slack's URL check, None otherwise."""
        self._verify_slack(request)
        event = parse_event(request.body)
        if isinstance(event, UrlVerification):
            return event.challenge
        if isinstance(event, IgnoredEvent):
            logger.debug("slack event ignored", why=event.why)
            return None
        try:
            if isinstance(event, ReplyRevision):
                # Recorded at once, not queued: the reply it changes may be waiting in its
                # thread's queue group, which would hold the revision back behind it.
                self._replies.record_revision(event)
            else:
                self._queues.send_outbound(event)
        except AWS_ERRORS as error:
            raise Retryable("event not recorded") from error
        return None

    def slack_interaction(self, request: WebhookRequest) -> dict[str, object] | None:
        """A button pressed on a conversation card, a message shortcut, or the canned-response
        modal submitted: verified, then queued (the modal opened at once). Returns what to
        answer Slack with, if anything: the modal's errors."""
        self._verify_slack(request)
        interaction = parse_interaction(request.body)
        if isinstance(interaction, IgnoredEvent):
            logger.debug("slack interaction ignored", why=interaction.why)
            return None
        try:
            if isinstance(interaction, RefundAsked | RefundChosen | RefundConfirmed):
                return self._refund_interaction(interaction)
            if isinstance(interaction, CancelAsked | CancelChosen | CancelConfirmed):
                return self._cancel_interaction(interaction)
            if isinstance(interaction, ReturnAsked | ReturnChosen | ReturnConfirmed):
                return self._return_interaction(interaction)
            if isinstance(interaction, CannedPicker):
                self._tools.open_picker(interaction)
                return None
            if isinstance(interaction, CannedReply):
                errors = self._tools.check_choice(interaction)
                if errors:
                    return {"response_action": "errors", "errors": errors}
            self._queues.send_outbound(interaction)
        except AWS_ERRORS as error:
            raise Retryable("action not queued") from error
        return None

    def _refund_interaction(
        self, interaction: RefundAsked | RefundChosen | RefundConfirmed
    ) -> dict[str, object] | None:
        """Refund modals, answered while Slack waits (refunds.RefundActions)."""
        if self._refunds is None:
            logger.info("refund interaction without refunds configured")
            return None
        match interaction:
            case RefundAsked():
                self._refunds().open(interaction)
                return None
            case RefundChosen():
                return self._refunds().review(interaction)
            case RefundConfirmed():
                return self._refunds().confirm(interaction)

    def _cancel_interaction(
        self, interaction: CancelAsked | CancelChosen | CancelConfirmed
    ) -> dict[str, object] | None:
        """Order cancellation modals, answered while Slack waits (cancellations.CancelActions)."""
        if self._cancellations is None:
            logger.info("cancel interaction without cancellations configured")
            return None
        match interaction:
            case CancelAsked():
                self._cancellations().open(interaction)
                return None
            case CancelChosen():
                return self._cancellations().review(interaction)
            case CancelConfirmed():
                return self._cancellations().confirm(interaction)

    def _return_interaction(
        self, interaction: ReturnAsked | ReturnChosen | ReturnConfirmed
    ) -> dict[str, object] | None:
        """Return modals, answered while Slack waits (returns.ReturnActions)."""
        if self._returns is None:
            logger.info("return interaction without returns configured")
            return None
        match interaction:
            case ReturnAsked():
                self._returns().open(interaction)
                return None
            case ReturnChosen():
                return self._returns().review(interaction)
            case ReturnConfirmed():
                return self._returns().confirm(interaction)

    def slack_command(self, request: WebhookRequest) -> dict[str, object]:
        """`/threadline …`: answered at once, to the agent alone."""
        self._verify_slack(request)
        command = parse_command(request.body)
        try:
            return self._tools.command(command)
        except AWS_ERRORS as error:
            raise Retryable("conversations unavailable") from error

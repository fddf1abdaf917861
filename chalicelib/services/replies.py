"""The outbound worker: agents' thread replies go to the customer; delivery news comes back.

Whether a thread message is a reply at all is the shop's reply mode (`ReplyPolicy`). A reply
waits out its grace period in the queue (the job is handed back with a delay), then goes out
as last edited, or not at all if it was deleted meanwhile.

A reply is stored under its Slack message's key before it is sent, and moves through its
delivery states only forwards, so Slack's retries and duplicated status callbacks never send
or report twice. A send that fails or dies midway leaves the reply in `dispatching`; the retry
asks the provider whether it went out before sending it again.
"""

from collections.abc import Callable

from aws_lambda_powertools import Logger

from chalicelib.channels.base import DeliveryRefused, SendReceipt
from chalicelib.domain.canned import first_name
from chalicelib.domain.conversation import (
    FAILED_DELIVERY,
    AgentReply,
    AutoReplyJob,
    CannedReply,
    Channel,
    Conversation,
    DeliveryStatus,
    DeliveryUpdate,
    OutboundMessage,
    ShopMessageJob,
    after_agent_reply,
    conversation_ref,
    media_capacity,
    reply_to,
    slack_time,
    still_awaited,
    whatsapp_window_open,
)
from chalicelib.domain.errors import NotYet, Retryable
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.shop import ReplyMode, Shop, ShopSecrets, webhook_urls
from chalicelib.domain.sla import answered
from chalicelib.domain.slack_view import (
    DELIVERY_REACTIONS,
    INTERNAL_REACTION,
    WAITING_REACTION,
    SlackMessage,
    auto_reply_post,
    canned_gone_note,
    canned_post,
    delivery_failed_note,
    files_not_sent_note,
    nothing_to_send_note,
    reply_cancelled_note,
    shop_message_post,
    window_closed_note,
    window_template_note,
)
from chalicelib.secrets import SecretVault
from chalicelib.services.changes import change_conversation, draw_card
from chalicelib.services.media_links import MediaLinks
from chalicelib.services.ports import (
    ChannelRouter,
    Clock,
    ConversationRecords,
    CounterRecords,
    MediaPort,
    Metric,
    MetricsPort,
    ReplyRecords,
    ShopLookup,
    SlackFactory,
    SlackPort,
)
from chalicelib.settings import Settings

logger = Logger(service="threadline", child=True)

FILE_NAME_BYTES = 400


class ReplyDispatcher:
    def __init__(
        self,
        settings: Settings,
        shops: ShopLookup,
        conversations: ConversationRecords,
        replies: ReplyRecords,
        counters: CounterRecords,
        vault: SecretVault,
        channels: ChannelRouter,
        slack: SlackFactory,
        media: MediaPort,
        links: MediaLinks,
        clock: Clock,
        metrics: MetricsPort,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._media = media
        self._links = links
        self._shops = shops
        self._conversations = conversations
        self._replies = replies
        self._counters = counters
        self._vault = vault
        self._channels = channels
        self._slack = slack
        self._clock = clock

    def handle(self, job: AgentReply | DeliveryUpdate) -> None:
        """An agent's reply to send, or news of one sent."""
        if isinstance(job, AgentReply):
            self.send_reply(job)
        else:
            self.record_delivery(job)

    def _workspace(self, shop: Shop) -> tuple[ShopSecrets, SlackPort]:
        secrets = self._vault.get(shop.shop_id)
        if secrets.slack_bot_token is None:
            raise Retryable("the shop has no Slack bot token")
        return secrets, self._slack(secrets.slack_bot_token.get_secret_value())

    def send_reply(self, reply: AgentReply) -> None:
        conversation = self._conversations.find_conversation_by_thread(
            reply.team_id, reply.channel_id, reply.thread_ts
        )
        if conversation is None:
            logger.debug("reply outside a conversation thread ignored")
            return
        shop = self._shops.get_shop(conversation.shop_id)
        if shop is None:
            logger.warning("reply for a removed shop dropped", shop_id=conversation.shop_id)
            return
        secrets, slack = self._workspace(shop)
        message = self._replies.get_outbound(shop.shop_id, reply.message_key)
        if message is None:
            prepared = self._prepare(reply, conversation, shop, slack)
            if prepared is None:
                return
            written_at = prepared.created_at
            message = (
                self._replies.claim_outbound(prepared, expires_at=shop.expiry(written_at))
                or prepared
            )
            self._conversations.touch_conversation(conversation, shop.expiry(written_at))
        if message.status not in (DeliveryStatus.PENDING, DeliveryStatus.DISPATCHING):
            # Handled before; only the Slack display may still lag behind.
            self._show(slack, message)
            return
        # Everything that may fail before the provider is asked comes before `dispatching`.
        callback = webhook_urls(self._settings.public_url, shop.shop_id)["twilio_status_callback"]
        interrupted = message.status is DeliveryStatus.DISPATCHING
        if not interrupted and not self._replies.advance_outbound(
            message, DeliveryStatus.DISPATCHING
        ):
            return
        try:
            # A reply left in `dispatching` may have reached the provider before the attempt
            # died (a timeout, a killed worker): it is looked up there before it is re-sent.
            receipt = self._interrupted_send(message, shop, secrets) if interrupted else None
            if receipt is None:
                media_urls = tuple(self._media.share(key) for key in message.media_keys)
                channel = self._channels(message.channel)
                receipt = channel.send(message, shop, secrets, callback, media_urls)
        except DeliveryRefused as refused:
            self._replies.advance_outbound(
                message,
                DeliveryStatus.FAILED,
                error_code=refused.error_code,
                error_reason=refused.reason,
            )
            self._show(slack, message)
            return
        self._replies.advance_outbound(
            message,
            receipt.status,
            provider_message_id=receipt.provider_message_id,
            expires_at=shop.expiry(message.created_at),
        )
        if receipt.thread_ids:
            self._conversations.point_mail(
                shop.shop_id,
                message.conversation_id,
                list(receipt.thread_ids),
                expires_at=shop.expiry(self._clock()),
            )
        if not reply.automatic:
            # Counted before Slack is told: a retry finds the reply handled and stops early.
            self._metrics.count(Metric.AGENT_REPLY_SENT, message.channel)
        self._show(slack, message)
        if not reply.automatic:
            self._await_customer(slack, shop, conversation)
        logger.info(
            "reply sent",
            shop_id=shop.shop_id,
            conversation_id=conversation.conversation_id,
            message_key=message.message_key,
        )

    def send_canned(self, job: CannedReply) -> None:
        """A canned response an agent chose, posted on their behalf (once per modal)."""

        def compose(
            conversation: Conversation, shop: Shop, slack: SlackPort
        ) -> tuple[SlackMessage, str] | None:
            canned = shop.canned(job.name)
            if canned is None:
                self._tell(slack, job.channel_id, job.thread_ts, canned_gone_note(job.name))
                return None
            text = canned.render(
                first_name=first_name(conversation.customer_name),
                order_number=job.order_number or conversation.order_number or "",
                agent=slack.display_name(job.user_id) or shop.name,
                shop=shop.name,
            )
            return canned_post(text, job.user_id, job.name), text

        self._post_then_send(job, f"view:{job.view_id}", job.user_id, compose)

    def send_auto_reply(self, job: AutoReplyJob) -> None:
        """An automatic reply, posted marked and sent unsigned; the customer still waits for
        a person, so it meets no target."""

        def compose(
            conversation: Conversation, shop: Shop, slack: SlackPort
        ) -> tuple[SlackMessage, str]:
            return auto_reply_post(job.text, job.reply_key, job.language), job.text

        self._post_then_send(job, job.post_id, "USLACKBOT", compose, automatic=True)

    def send_shop_message(self, job: ShopMessageJob) -> None:
        """A message the shop sent first, posted marked and sent unsigned; WhatsApp's window
        being closed, as the template the shop chose for it."""

        def compose(
            conversation: Conversation, shop: Shop, slack: SlackPort
        ) -> tuple[SlackMessage, str]:
            return shop_message_post(job.text), job.text

        template = (job.content_sid, job.content_variables)
        self._post_then_send(
            job, job.post_id, "USLACKBOT", compose, automatic=True, template=template
        )

    def _post_then_send(
        self,
        job: CannedReply | AutoReplyJob | ShopMessageJob,
        post_id: str,
        user_id: str,
        compose: Callable[[Conversation, Shop, SlackPort], tuple[SlackMessage, str] | None],
        *,
        automatic: bool = False,
        template: tuple[str | None, dict[str, str] | None] = (None, None),
    ) -> None:
        """Posts a message into the thread for an agent or for the shop, once (keyed by
        `post_id`), then sends it like any reply, its delivery shown on that post."""
        conversation = self._conversations.find_conversation_by_thread(
            job.team_id, job.channel_id, job.thread_ts
        )
        if conversation is None or conversation_ref(conversation) != job.conversation_ref:
            logger.info("post for no known conversation ignored")
            return
        shop = self._shops.get_shop(conversation.shop_id)
        if shop is None:
            return
        _, slack = self._workspace(shop)
        posted = self._replies.bot_post(job.team_id, post_id)
        if posted is None:
            composed = compose(conversation, shop, slack)
            if composed is None:
                return
            message, text = composed
            ts = slack.post(job.channel_id, message, thread_ts=job.thread_ts)
            self._replies.record_bot_post(
                job.team_id, post_id, ts, text, expires_at=shop.expiry(self._clock())
            )
            posted = ts, text
        ts, text = posted
        self.send_reply(
            AgentReply(
                event_id=post_id,
                team_id=job.team_id,
                channel_id=job.channel_id,
                thread_ts=job.thread_ts,
                ts=ts,
                user_id=user_id,
                text=text,
                explicit=True,
                posted_for_agent=True,
                automatic=automatic,
                content_sid=template[0],
                content_variables=template[1],
            )
        )

    def _await_customer(self, slack: SlackPort, shop: Shop, conversation: Conversation) -> None:
        """Answered, the conversation's response target is met and it waits for the
        customer, on the card too (best effort: the next change redraws the card)."""
        current = self._conversations.get_conversation(
            conversation.shop_id, conversation.conversation_id
        )
        if current is None or current.slack_thread is None:
            return
        now = self._clock()
        result = change_conversation(
            self._conversations,
            current,
            lambda stored: after_agent_reply(answered(stored, now)),
            expires_at=shop.expiry(now),
        )
        if result is None or not result.changed:
            return
        waiting = result.after
        answered_at = waiting.first_response_at
        first = result.before.first_response_at is None and answered_at is not None
        if first and answered_at and not waiting.started_by_shop:
            waited = answered_at - waiting.created_at
            self._metrics.seconds(
                Metric.FIRST_RESPONSE_TIME, waited.total_seconds(), waiting.channel
            )
        try:
            draw_card(self._conversations, slack, shop, waiting)
        except Exception:
            logger.exception("card not refreshed", conversation_id=waiting.conversation_id)

    def _prepare(
        self, reply: AgentReply, conversation: Conversation, shop: Shop, slack: SlackPort
    ) -> OutboundMessage | None:
        """The reply as it goes out once its grace period is over, as last edited; None when
        nothing goes out (an internal note, a reply deleted in time, files alone)."""
        policy = shop.replies
        if policy.outgoing(reply.text, explicit=reply.explicit) is None:
            if policy.mode is ReplyMode.REPLY:
                slack.react(reply.channel_id, reply.ts, INTERNAL_REACTION)
            return None
        now = self._clock()
        grace = 0 if reply.posted_for_agent else policy.grace_seconds
        waited = now.timestamp() - slack_time(reply.version_ts)
        if waited < grace:
            slack.react(reply.channel_id, reply.ts, WAITING_REACTION)
            raise NotYet("reply in its grace period", grace - waited)
        revision = (
            None
            if reply.posted_for_agent
            else self._replies.reply_revision(reply.team_id, reply.channel_id, reply.ts)
        )
        if revision is not None and revision.deleted:
            self._tell(
                slack, reply.channel_id, reply.thread_ts, reply_cancelled_note(reply.user_id)
            )
            return None
        if grace:
            slack.unreact(reply.channel_id, reply.ts, WAITING_REACTION)
        text = reply.text
        if (
            revision is not None
            and revision.text is not None
            and revision.newer_than(reply.version_ts)
        ):
            text = revision.text
        outgoing = policy.outgoing(text, explicit=reply.explicit)
        if outgoing is None:
            slack.react(reply.channel_id, reply.ts, INTERNAL_REACTION)
            return None
        media_keys, links, refused = self._keep_files(reply, conversation, shop, slack)
        if not outgoing.strip() and not media_keys and not links:
            note = files_not_sent_note(refused, False) if refused else nothing_to_send_note()
            self._tell(slack, reply.channel_id, reply.thread_ts, note)
            return None
        if refused:
            self._tell(slack, reply.channel_id, reply.thread_ts, files_not_sent_note(refused, True))
        # The customer reads who answered; without a Slack name, the shop answers.
        agent = shop.name if reply.automatic else slack.display_name(reply.user_id) or shop.name
        body = "\n".join(part for part in (outgoing.strip(), *links) if part)
        signed = policy.signed(body, agent=agent, shop=shop.name) if body else ""
        if reply.automatic:
            signed = body
        # An automatic reply speaks for the shop alone.
        speaker = "" if reply.automatic else agent
        message = reply_to(conversation, reply, signed, speaker, now, media_keys)
        if conversation.channel is Channel.WHATSAPP and not whatsapp_window_open(conversation, now):
            return self._as_template(message, conversation, shop, slack, reply)
        return message

    def _as_template(
        self,
        message: OutboundMessage,
        conversation: Conversation,
        shop: Shop,
        slack: SlackPort,
        reply: AgentReply,
    ) -> OutboundMessage | None:
        """WhatsApp's window is closed: the shop's approved template goes instead, or
        nothing, and the thread says which. A shop's message may bring its own template."""
        if reply.content_sid is not None:
            return message.model_copy(
                update={
                    "content_sid": reply.content_sid,
                    "content_variables": reply.content_variables or {},
                    "media_keys": (),
                }
            )
        template = shop.twilio.whatsapp_template if shop.twilio else None
        if template is None:
            self._tell(slack, reply.channel_id, reply.thread_ts, window_closed_note())
            return None
        values = {
            "first_name": first_name(conversation.customer_name),
            "shop": shop.name,
            "agent": message.agent_name or shop.name,
        }
        self._tell(slack, reply.channel_id, reply.thread_ts, window_template_note(template.name))
        return message.model_copy(
            update={
                "content_sid": template.content_sid,
                "content_variables": {k: v.format(**values) for k, v in template.variables.items()},
                "media_keys": (),
            }
        )

    def _keep_files(
        self, reply: AgentReply, conversation: Conversation, shop: Shop, slack: SlackPort
    ) -> tuple[tuple[str, ...], list[str], list[str]]:
        """The reply's files, copied from Slack into the media bucket: (keys sent as media,
        links for the text where the channel takes no more media, names not sent)."""
        capacity = media_capacity(conversation.channel, conversation.shop_address)
        keys: list[str] = []
        links: list[str] = []
        refused: list[str] = []
        for file in reply.files:
            downloaded = slack.download_file(file)
            if downloaded is None:
                refused.append(file.name)
                continue
            # S3 takes 1,024 bytes a key; a file's name is the agent's to choose.
            key = f"{shop.shop_id}/outbound/{file.id}/{fitted(file.name, FILE_NAME_BYTES)}"
            self._media.keep(key, downloaded, retention_days=shop.retention_days)
            if len(keys) < capacity:
                keys.append(key)
            else:
                links.append(f"{file.name}: {self._links.link(shop.shop_id, key)}")
        return tuple(keys), links, refused

    def _interrupted_send(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> SendReceipt | None:
        """The provider's copy of an interrupted send, if it has one no other reply owns."""
        for candidate in self._channels(message.channel).sent_like(message, shop, secrets):
            if not self._replies.provider_id_taken(shop.shop_id, candidate.provider_message_id):
                return candidate
        return None

    def record_delivery(self, update: DeliveryUpdate) -> None:
        message = self._replies.find_outbound_by_provider_id(
            update.shop_id, update.provider_message_id
        )
        if message is None:
            # The callback can overtake the write that records the provider's id, or come
            # for a send being reconciled after an interruption: it waits for either, for a
            # while. Past that, it is about a message someone else sent from the shop's
            # number, and retrying it into the dead-letter queue would only raise alarms.
            if still_awaited(update, self._clock()):
                raise Retryable("status for a message not recorded yet")
            logger.info("status for a message not sent by Threadline dropped")
            self._counters.count(update.shop_id, "unknown_delivery_statuses")
            self._metrics.count(Metric.UNKNOWN_DELIVERY_STATUS)
            return
        self._replies.advance_outbound(message, update.status, error_code=update.error_code)
        shop = self._shops.get_shop(message.shop_id)
        if shop is None:
            return
        _, slack = self._workspace(shop)
        self._show(slack, message)

    def _tell(self, slack: SlackPort, channel_id: str, thread_ts: str, note: SlackMessage) -> None:
        try:
            slack.post(channel_id, note, thread_ts=thread_ts)
        except Exception:
            logger.exception("note not shown in Slack", thread_ts=thread_ts)

    def _show(self, slack: SlackPort, reply: OutboundMessage) -> None:
        """Brings the agent's Slack message up to the reply's stored status: one reaction,
        the latest, and a note in the thread when it failed. A Slack failure raises, and the
        retried job shows it then; the send itself is never repeated.

        Reads the reply afresh: a send job and a status callback for it run in different
        queue groups, and each must build on what the other has shown."""
        message = self._replies.get_outbound(reply.shop_id, reply.message_key)
        if message is None or not message.display_behind:
            return
        shown = DELIVERY_REACTIONS.get(message.shown_status)
        reaction = DELIVERY_REACTIONS.get(message.status)
        if reaction and reaction != shown:
            slack.react(message.slack_channel_id, message.slack_ts, reaction)
            if shown:
                slack.unreact(message.slack_channel_id, message.slack_ts, shown)
        if message.status in FAILED_DELIVERY and message.shown_status not in FAILED_DELIVERY:
            describe = self._channels(message.channel).describe_error
            explanation = message.error_reason or describe(message.error_code)
            note = delivery_failed_note(explanation, message.error_code)
            slack.post(message.slack_channel_id, note, thread_ts=message.slack_thread_ts)
        self._replies.mark_shown(message)

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
from datetime import datetime

from aws_lambda_powertools import Logger

from chalicelib.channels.base import DeliveryRefused, SendReceipt
from chalicelib.domain.auto_replies import SHIPPED_LANGUAGES
from chalicelib.domain.canned import first_name
from chalicelib.domain.conversation import Conversation, after_agent_reply, conversation_ref
from chalicelib.domain.declared_language import fallback_language
from chalicelib.domain.errors import NotYet, Retryable
from chalicelib.domain.foreign_ids import fitted
from chalicelib.domain.jobs import (
    AgentReply,
    AutoReplyJob,
    CannedReply,
    DeliveryUpdate,
    DeliveryWatermark,
    ShopMessageJob,
    still_awaited,
)
from chalicelib.domain.messages import (
    FAILED_DELIVERY,
    DeliveryStatus,
    OutboundMessage,
    ReplyRevision,
    delivery_rank,
    media_capacity,
)
from chalicelib.domain.orders import OrderRefusal, fill_order
from chalicelib.domain.reply_decision import (
    Cancelled,
    Due,
    Empty,
    Internal,
    KeptFiles,
    Outgoing,
    Wait,
    WindowClosed,
    as_revised,
    content,
    to_send,
    when_due,
)
from chalicelib.domain.shop import Shop, ShopSecrets, webhook_urls
from chalicelib.domain.sla import answered
from chalicelib.domain.vocabulary import Channel
from chalicelib.language import detect
from chalicelib.presentation.meta_posts import meta_window_closed_note
from chalicelib.presentation.notes import (
    canned_gone_note,
    delivery_failed_note,
    files_not_sent_note,
    nothing_to_send_note,
    reply_cancelled_note,
    window_closed_note,
    window_template_note,
)
from chalicelib.presentation.orders import order_refused_note
from chalicelib.presentation.posts import (
    DELIVERY_REACTIONS,
    INTERNAL_REACTION,
    WAITING_REACTION,
    auto_reply_post,
    canned_post,
    shop_message_post,
)
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.changes import Changed, change_conversation, draw_card
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
    ShopVault,
    SlackPort,
    Workspaces,
    slack_or_retry,
)
from chalicelib.settings import Settings

logger = Logger(service="threadline", child=True)

FILE_NAME_BYTES = 400
# A reply past its grace period: whether it goes out, the agent's latest revision of it (read
# once the grace period was over), and the time that was decided at.
Verdict = tuple[Internal | Due, ReplyRevision | None, datetime]


class ReplyDispatcher:
    def __init__(
        self,
        settings: Settings,
        shops: ShopLookup,
        conversations: ConversationRecords,
        replies: ReplyRecords,
        counters: CounterRecords,
        vault: ShopVault,
        channels: ChannelRouter,
        workspaces: Workspaces,
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
        self._workspaces = workspaces
        self._clock = clock
        self._display = DeliveryDisplay(replies, channels)

    def send_reply(self, reply: AgentReply) -> None:
        owner = self._conversations.thread_owner(reply.team_id, reply.channel_id, reply.thread_ts)
        if owner is None:
            logger.debug("reply outside a conversation thread ignored")
            return
        shop_id, conversation_id = owner
        shop = self._shops.get_shop(shop_id)
        if shop is None:
            logger.warning("reply for a removed shop dropped", shop_id=shop_id)
            return
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        now = self._clock()
        due = when_due(reply, shop.replies, now)
        if isinstance(due, Wait):
            # Decided on the job and the shop alone: a pass in the grace period reads nothing.
            slack.react(reply.channel_id, reply.ts, WAITING_REACTION)
            raise NotYet("reply in its grace period", due.seconds)
        # Read once the grace period is over: an edit or a deletion made in it counts.
        revisable = isinstance(due, Due) and due.revisable
        revision_of = (reply.team_id, reply.channel_id, reply.ts) if revisable else None
        conversation, message, revision = self._replies.reply_reading(
            shop_id, conversation_id, reply.message_key, revision_of
        )
        if conversation is None:
            logger.debug("reply outside a conversation thread ignored")
            return
        secrets = self._vault.get(shop.shop_id)
        claimed = False
        if message is None:
            claim = self._claim(reply, conversation, shop, slack, (due, revision, now))
            if claim is None:
                return
            message, claimed = claim
        if message.status not in (DeliveryStatus.PENDING, DeliveryStatus.DISPATCHING):
            # Handled before; only the Slack display may still lag behind.
            self._display.show(slack, message)
            return
        receipt = self._dispatch(message, shop, secrets, slack, claimed=claimed)
        if receipt is None:
            return
        # An agent's reply answers the customer: stored with the reply, in one write.
        answering = None if reply.automatic else _answering(conversation, self._clock())
        sent, saved = self._record_sent(message, receipt, shop, answering)
        if not reply.automatic:
            # Counted before Slack is told: a retry finds the reply handled and stops early.
            self._metrics.count(Metric.AGENT_REPLY_SENT, message.channel)
        if sent is None:
            self._display.show(slack, message)
        else:
            self._display.show_stored(slack, sent)
        if not reply.automatic:
            self._await_customer(slack, shop, conversation, saved)
        logger.info(
            "reply sent",
            shop_id=shop.shop_id,
            conversation_id=conversation.conversation_id,
            message_key=message.message_key,
        )

    def _claim(
        self,
        reply: AgentReply,
        conversation: Conversation,
        shop: Shop,
        slack: SlackPort,
        verdict: Verdict,
    ) -> tuple[OutboundMessage, bool] | None:
        """The reply as it goes out, stored under its Slack message's key (or the copy an
        earlier delivery of the message stored), and whether this job stored it; None when
        nothing goes out. `verdict`: whether it is due, its latest revision, and when."""
        prepared = self._prepare(reply, conversation, shop, slack, verdict)
        if prepared is None:
            return None
        # Stored as `dispatching` at once (no separate write to get there): a retry that
        # finds it so asks the provider first, which is right whether or not it went out.
        dispatching = prepared.model_copy(update={"status": DeliveryStatus.DISPATCHING})
        written_at = prepared.created_at
        stored = self._replies.claim_outbound(dispatching, expires_at=shop.expiry(written_at))
        self._conversations.touch_conversation(conversation, shop.expiry(written_at))
        return (stored, False) if stored is not None else (dispatching, True)

    def _dispatch(
        self,
        message: OutboundMessage,
        shop: Shop,
        secrets: ShopSecrets,
        slack: SlackPort,
        *,
        claimed: bool,
    ) -> SendReceipt | None:
        """Hands the reply to its provider, once; None when it went no further (another
        attempt owns it, or the provider refused it, which the thread shows). `claimed`:
        this job has just stored it, as `dispatching`."""
        # Everything that may fail before the provider is asked comes before `dispatching`.
        callback = webhook_urls(self._settings.public_url, shop.shop_id)["twilio_status_callback"]
        interrupted = message.status is DeliveryStatus.DISPATCHING and not claimed
        if (
            not claimed
            and not interrupted
            and not self._replies.advance_outbound(message, DeliveryStatus.DISPATCHING)
        ):
            return None
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
            self._display.show(slack, message)
            return None
        return receipt

    def _record_sent(
        self,
        message: OutboundMessage,
        receipt: SendReceipt,
        shop: Shop,
        answering: Conversation | None,
    ) -> tuple[OutboundMessage | None, Conversation | None]:
        """The provider took the reply: its id and status stored, with the conversation as
        it answers it (`answering`), and for mail the ids its answers will quote, pointing
        at the conversation. Returns the reply as stored now (None when it was not this
        write that moved it: erased meanwhile), and the conversation as stored (None when
        it was not saved with it)."""
        # The conversation and its pointers expire as the reply's claim set them.
        expires_at = shop.expiry(message.created_at)
        advanced, saved = self._replies.record_sent(
            message,
            receipt.status,
            receipt.provider_message_id,
            expires_at=expires_at,
            saving=answering,
            saving_expires_at=expires_at,
        )
        if receipt.thread_ids:
            self._conversations.point_mail(
                shop.shop_id,
                message.conversation_id,
                list(receipt.thread_ids),
                expires_at=shop.expiry(self._clock()),
            )
        if not advanced:
            return None, saved
        update = {"status": receipt.status, "provider_message_id": receipt.provider_message_id}
        return message.model_copy(update=update), saved

    def send_canned(self, job: CannedReply) -> None:
        """A canned response an agent chose, posted on their behalf (once per modal)."""

        def compose(
            conversation: Conversation, shop: Shop, slack: SlackPort
        ) -> tuple[SlackMessage, str] | None:
            canned = shop.canned(job.name)
            if canned is None:
                _tell(slack, job.channel_id, job.thread_ts, canned_gone_note(job.name))
                return None
            quoted = job.order_number or conversation.order_number
            order = fill_order(
                canned.placeholders,
                conversation.orders,
                quoted,
                customer_language(conversation, shop),
            )
            if isinstance(order, OrderRefusal):
                # The summary changed since the modal: no order of someone else's, no gaps.
                _tell(slack, job.channel_id, job.thread_ts, order_refused_note(order.reason))
                return None
            text = canned.render(
                first_name=first_name(conversation.customer_name),
                order_number=quoted or "",
                agent=slack.display_name(job.user_id) or shop.name,
                shop=shop.name,
                **order,
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
            if job.reply_key is not None and job.language is not None:
                return auto_reply_post(job.text, job.reply_key, job.language), job.text
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
        slack = slack_or_retry(self._workspaces, shop.shop_id)
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

    def _await_customer(
        self,
        slack: SlackPort,
        shop: Shop,
        conversation: Conversation,
        saved: Conversation | None,
    ) -> None:
        """Answered, the conversation's response target is met and it waits for the
        customer, on the card too (best effort: the next change redraws the card).

        `saved`: the conversation as the reply's own write stored it. Without it, the change
        starts from the conversation as this job read it: the write is version-checked, so
        a change made since fails it and `change_conversation` reads it again."""
        if conversation.slack_thread is None:
            return
        now = self._clock()
        result: Changed | None = Changed(conversation, saved) if saved else None
        if result is None:
            result = change_conversation(
                self._conversations,
                conversation,
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
        self,
        reply: AgentReply,
        conversation: Conversation,
        shop: Shop,
        slack: SlackPort,
        verdict: Verdict,
    ) -> OutboundMessage | None:
        """The reply as it goes out once its grace period is over, as last edited; None when
        nothing goes out (an internal note, a reply deleted in time, files alone)."""
        due, revision, now = verdict
        outgoing = self._outgoing(reply, shop, slack, due, revision)
        if outgoing is None:
            return None
        composed = content(outgoing, self._keep_files(reply, conversation, shop, slack))
        if isinstance(composed, Empty):
            refused = list(composed.refused)
            note = files_not_sent_note(refused, False) if refused else nothing_to_send_note()
            _tell(slack, reply.channel_id, reply.thread_ts, note)
            return None
        if composed.refused:
            note = files_not_sent_note(list(composed.refused), True)
            _tell(slack, reply.channel_id, reply.thread_ts, note)
        # The customer reads who answered; an automatic reply names no one.
        name = None if reply.automatic else slack.display_name(reply.user_id)
        decided = to_send(reply, conversation, shop, composed, name, now)
        if isinstance(decided, WindowClosed):
            if decided.channel is Channel.WHATSAPP:
                _tell(slack, reply.channel_id, reply.thread_ts, window_closed_note())
            else:
                tagged = shop.meta is not None and shop.meta.human_agent_tag
                note = meta_window_closed_note(decided.channel, tagged)
                _tell(slack, reply.channel_id, reply.thread_ts, note)
            return None
        if decided.template_name is not None:
            note = window_template_note(decided.template_name)
            _tell(slack, reply.channel_id, reply.thread_ts, note)
        return decided.message

    def _outgoing(
        self,
        reply: AgentReply,
        shop: Shop,
        slack: SlackPort,
        due: Internal | Due,
        revision: ReplyRevision | None,
    ) -> Outgoing | None:
        """The reply's text as last edited (`revision`, read once its grace period was
        over); None when nothing goes out, the thread or the message showing why."""
        if isinstance(due, Internal):
            if due.marked:
                slack.react(reply.channel_id, reply.ts, INTERNAL_REACTION)
            return None
        revised = as_revised(reply, shop.replies, revision)
        if isinstance(revised, Cancelled):
            note = reply_cancelled_note(reply.user_id)
            _tell(slack, reply.channel_id, reply.thread_ts, note)
            return None
        if due.waited:
            slack.unreact(reply.channel_id, reply.ts, WAITING_REACTION)
        if isinstance(revised, Internal):
            slack.react(reply.channel_id, reply.ts, INTERNAL_REACTION)
            return None
        return revised

    def _keep_files(
        self, reply: AgentReply, conversation: Conversation, shop: Shop, slack: SlackPort
    ) -> KeptFiles:
        """The reply's files, copied from Slack into the media bucket."""
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
        return KeptFiles(tuple(keys), tuple(links), tuple(refused))

    def _interrupted_send(
        self, message: OutboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> SendReceipt | None:
        """The provider's copy of an interrupted send, if it has one no other reply owns."""
        for candidate in self._channels(message.channel).sent_like(message, shop, secrets):
            if not self._replies.provider_id_taken(shop.shop_id, candidate.provider_message_id):
                return candidate
        return None

    def record_delivery(self, update: DeliveryUpdate) -> None:
        advance = self._replies.advance_by_provider_id(
            update.shop_id, update.provider_message_id, update.status, error_code=update.error_code
        )
        if advance is None:
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
        message = advance.reply
        shop = self._shops.get_shop(message.shop_id)
        if shop is None:
            return
        if not advance.display_taken:
            # Already as far: Slack may still be behind (an earlier attempt failed there).
            self._display.show(slack_or_retry(self._workspaces, shop.shop_id), message)
            return
        try:
            self._display.bring_up(slack_or_retry(self._workspaces, shop.shop_id), message)
        except BaseException:
            self._replies.give_back_display(advance)
            raise

    def record_watermark(self, receipt: DeliveryWatermark) -> None:
        """Brings the customer's replies sent by the watermark up to its status. Bounded: the
        conversation's latest WATERMARK_REACH messages at most, and it stops at the first
        reply already that far along and shown (those before it were marked by an earlier
        receipt)."""
        conversation = self._conversations.find_open_conversation(
            receipt.shop_id, receipt.customer_address
        )
        shop = self._shops.get_shop(receipt.shop_id)
        if conversation is None or shop is None:
            return
        rank = delivery_rank(receipt.status)
        covered: list[OutboundMessage] = []
        for reply in self._replies.replies_up_to(
            shop.shop_id, conversation.conversation_id, receipt.watermark, WATERMARK_REACH
        ):
            if delivery_rank(reply.status) >= rank and not reply.display_behind:
                break
            if reply.status is DeliveryStatus.DISPATCHING and still_awaited(receipt, self._clock()):
                # Its send is in flight: the provider may have taken it before the watermark.
                raise Retryable("a reply the receipt may cover is still being sent")
            # Only a reply the provider took, and did not refuse, reached the customer.
            if reply.status not in FAILED_DELIVERY and reply.provider_message_id:
                covered.append(reply)
        if not covered:
            return
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        for reply in covered:
            self._replies.advance_outbound(reply, receipt.status)
            # Shown even when an earlier try advanced it: that try's Slack call may have failed.
            self._display.show(slack, reply)


# How many of a conversation's latest messages a watermark receipt looks through.
WATERMARK_REACH = 50


def _answering(conversation: Conversation, now: datetime) -> Conversation | None:
    """The conversation as an agent's reply sent `now` leaves it; None when it changes
    nothing."""
    changed = after_agent_reply(answered(conversation, now))
    return None if changed == conversation else changed


def customer_language(conversation: Conversation, shop: Shop) -> str:
    """The customer's language as their first message shows it, among those the shop answers
    in: what an order's status is told in."""
    policy = shop.auto_replies
    languages = policy.languages() if policy else list(SHIPPED_LANGUAGES)
    default = policy.default_language if policy else "en"
    fallback = fallback_language(conversation.customer_language, languages, default)
    return detect(conversation.first_message_preview, languages, fallback)


def _tell(slack: SlackPort, channel_id: str, thread_ts: str, note: SlackMessage) -> None:
    """A note in the thread, best effort: the reply's fate does not hang on it."""
    try:
        slack.post(channel_id, note, thread_ts=thread_ts)
    except Exception:
        logger.exception("note not shown in Slack", thread_ts=thread_ts)


class DeliveryDisplay:
    """A reply's delivery as the agents see it on their Slack message."""

    def __init__(self, replies: ReplyRecords, channels: ChannelRouter) -> None:
        self._replies = replies
        self._channels = channels

    def show(self, slack: SlackPort, reply: OutboundMessage) -> None:
        """Brings the agent's Slack message up to the reply's stored status: one reaction,
        the latest, and a note in the thread when it failed. A Slack failure raises, and the
        retried job shows it then; the send itself is never repeated.

        Reads the reply afresh: a send job and a status callback for it run in different
        queue groups, and each must build on what the other has shown."""
        message = self._replies.get_outbound(reply.shop_id, reply.message_key)
        if message is not None:
            self.show_stored(slack, message)

    def show_stored(self, slack: SlackPort, message: OutboundMessage) -> None:
        """As `show`, for the reply as the calling job has just stored it (no read). A status
        callback landing in between shows its own, later status; `mark_shown` never goes
        back."""
        if not message.display_behind:
            return
        self.bring_up(slack, message)
        self._replies.mark_shown(message)

    def bring_up(self, slack: SlackPort, message: OutboundMessage) -> None:
        """Slack's part of `show`: the reaction and note for `message.status`, from what
        `message.shown_status` says Slack shows."""
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

"""The inbound worker: a customer's message becomes a post in its conversation's thread.

Runs once per message, in order per customer (the FIFO group). Idempotent: a message already
processed is skipped, and the open-conversation pointer is claimed conditionally, so two
first messages cannot open two conversations.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import partial

from aws_lambda_powertools import Logger

from chalicelib.channels.base import MediaFile
from chalicelib.channels.slack import FILES_PER_UPLOAD
from chalicelib.domain.auto_replies import plan, sent
from chalicelib.domain.conversation import (
    Conversation,
    ConversationStatus,
    apply_action,
    conversation_ref,
    open_conversation,
    shop_conversation,
    starts_afresh,
    wake,
    with_customer_message,
)
from chalicelib.domain.csat import (
    SURVEY_KEY,
    THANKS_KEY,
    CsatPolicy,
    rated,
    survey_answer,
    survey_due,
    survey_key,
)
from chalicelib.domain.customers import addresses_of
from chalicelib.domain.declared_language import fallback_language
from chalicelib.domain.email_threading import subject_topic
from chalicelib.domain.errors import ConversationChanged, Retryable, WorkspaceUnavailable
from chalicelib.domain.handoff import HandoffReason, reopened_after_quiet
from chalicelib.domain.jobs import (
    AutoReplyJob,
    CardAction,
    ConversationAction,
    ShopMessageJob,
    SlaAlarm,
    Wakeup,
)
from chalicelib.domain.messages import InboundMessage, InboundProgress, InboundStatus, ShopMessage
from chalicelib.domain.shop import NewSubject, Shop, ShopSecrets
from chalicelib.domain.sla import clock_for, escalate, resolved
from chalicelib.domain.vocabulary import SlaStage
from chalicelib.language import detect
from chalicelib.presentation.card import root_card
from chalicelib.presentation.notes import (
    action_note,
    attachments_missing_note,
    continued_note,
    escalation_message,
    rating_note,
    reopened_note,
    sla_note,
    snooze_over_note,
)
from chalicelib.presentation.posts import WHOLE_TEXT_NAME, customer_message, shows_whole
from chalicelib.presentation.slack_blocks import SlackMessage
from chalicelib.services.changes import Change, change_conversation, draw_card
from chalicelib.services.conversation_memory import ConversationMemory
from chalicelib.services.customers import latest_elsewhere, latest_of_profile
from chalicelib.services.handoff import HandoffSummaries
from chalicelib.services.opt_outs import OptOutKeeper
from chalicelib.services.order_status_answers import status_question_lookup
from chalicelib.services.orders import lookup_due, orders_lookup
from chalicelib.services.ports import (
    ChannelRouter,
    Clock,
    ConversationRecords,
    IdFactory,
    InboundRecords,
    MediaPort,
    Metric,
    MetricsPort,
    OutboundQueue,
    ProfileRecords,
    SchedulesPort,
    ShopLookup,
    ShopVault,
    SlackPort,
    Workspaces,
    slack_or_retry,
)
from chalicelib.services.shops import shop_taking
from chalicelib.services.triage import MessageTriage

logger = Logger(service="threadline", child=True)

# How far Slack's clock may be behind ours when a retry looks for its earlier post.
POST_CLOCK_SKEW = timedelta(minutes=1)
# A FIFO queue delivers no second copy of a message (same deduplication id) sent within five
# minutes of the first; so a copy handed out for the first time this soon after the message
# arrived is the first copy's first receive: no attempt came before it. A minute spare for
# clocks.
FIRST_RECEIVE_WITHIN = timedelta(minutes=4)


def automatic_reply(
    conversation: Conversation, message_key: str, reply_key: str, text: str, language: str
) -> AutoReplyJob:
    """An automatic reply for the outbound worker to post in the thread and send."""
    if conversation.slack_thread is None or conversation.slack_team_id is None:
        raise Retryable("the conversation has no Slack thread yet")
    channel_id, thread_ts = conversation.slack_thread
    return AutoReplyJob(
        conversation_ref=conversation_ref(conversation),
        team_id=conversation.slack_team_id,
        channel_id=channel_id,
        thread_ts=thread_ts,
        message_key=message_key,
        reply_key=reply_key,
        language=language,
        text=text,
    )


def survey_language(conversation: Conversation, policy: CsatPolicy) -> str:
    """The customer's language, as their first message shows it (or their app declares)."""
    languages = policy.languages()
    fallback = fallback_language(conversation.customer_language, languages, policy.default_language)
    return detect(conversation.first_message_preview, languages, fallback)


def _whole_text(message: InboundMessage) -> MediaFile:
    content = message.text.encode("utf-8", "replace")
    return MediaFile(WHOLE_TEXT_NAME, "text/plain; charset=utf-8", content)


def take_back(
    slack: SlackPort, *, posts: Iterable[tuple[str, str]] = (), files: Iterable[str] = ()
) -> None:
    """Deletes posts and files about a customer erased while they were made, which their
    erasure could not find; best effort (each failure logged): the caller stops anyway."""
    deletions = [partial(slack.delete, channel, ts) for channel, ts in posts]
    deletions += [partial(slack.delete_file, file_id) for file_id in files]
    for deletion in deletions:
        try:
            deletion()
        except Exception:
            logger.exception("what was posted about an erased customer could not be deleted")


class _PostedBefore(Exception):
    """An earlier attempt's post of the message was noted before this attempt's."""


class _RememberedStale(Exception):
    """The message was posted in the thread of a remembered conversation that had changed
    since (nothing noted); carries the post and the conversation as stored now (None when
    it is gone or no longer the customer's open one)."""

    def __init__(self, post: tuple[str, str], current: Conversation | None) -> None:
        super().__init__("the remembered conversation had changed")
        self.post = post
        self.current = current


class InboundProcessor:
    def __init__(
        self,
        shops: ShopLookup,
        inbound: InboundRecords,
        conversations: ConversationRecords,
        profiles: ProfileRecords,
        vault: ShopVault,
        channels: ChannelRouter,
        workspaces: Workspaces,
        media: MediaPort,
        schedules: SchedulesPort,
        outbound: OutboundQueue,
        new_id: IdFactory,
        metrics: MetricsPort,
        clock: Clock,
        sla_minute_seconds: float = 60.0,
        triage: MessageTriage | None = None,
        handoffs: HandoffSummaries | None = None,
        opt_outs: OptOutKeeper | None = None,
    ) -> None:
        self._shops = shops
        self._inbound = inbound
        self._conversations = conversations
        self._profiles = profiles
        self._vault = vault
        self._clock = clock
        self._channels = channels
        self._workspaces = workspaces
        self._media = media
        self._schedules = schedules
        self._outbound = outbound
        self._new_id = new_id
        self._metrics = metrics
        self._sla_minute_seconds = sla_minute_seconds
        self._threads = ConversationThreads(conversations)
        self._triage = triage
        self._handoffs = handoffs
        self._opt_outs = opt_outs
        self._memory = ConversationMemory()

    def process(self, message: InboundMessage, receive_count: int | None = None) -> None:
        """`receive_count`: how many times the queue handed out this copy, when known."""
        shop = shop_taking(self._shops, message.shop_id, message.shop_incarnation)
        if shop is None:
            # Deleted since (maybe created again with its id: another shop's message).
            logger.warning("message for a deleted shop dropped", shop_id=message.shop_id)
            self._metrics.count(Metric.CUSTOMER_MESSAGE_DROPPED, message.channel)
            return
        progress = self._progress(message, receive_count)
        if progress.status is None:
            # Its stored copy was erased while it waited: posting it would bring it back.
            logger.info("erased message dropped", message_key=message.message_key)
            self._metrics.count(Metric.CUSTOMER_MESSAGE_DROPPED, message.channel)
            return
        if progress.status is InboundStatus.PROCESSED:
            logger.info("already processed", message_key=message.message_key)
            return
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        secrets = self._vault.get(shop.shop_id)
        # Fetched before anything is posted: a provider hiccup retries without a trace.
        files = self._keep_media(message, shop, secrets)
        # Remembered only where its post will be noted: that checks it is still current.
        remembered = None
        if message.email is None and progress.slack_ts is None:
            remembered = self._memory.recall(message.shop_id, message.customer_address)
        # The card is drawn as it will be once this message is counted.
        before = self._conversation_for(message, shop, slack, remembered)
        if before is None:
            logger.info("automated mail discarded", message_key=message.message_key)
            self._inbound.discard_inbound(message, "automated_mail")
            return
        current = before if before is remembered else None
        try:
            self._post_in_thread(message, shop, slack, progress, files, before, current)
        except _PostedBefore:
            # Not the first attempt it was taken for (a copy handed out again as new, or two
            # at once): it goes on as any later attempt does, from what the earlier one left.
            self.process(message)
        except _RememberedStale as stale:
            self._memory.forget(message.shop_id, message.customer_address)
            self._go_on_as_stored(message, shop, slack, progress, files, stale)

    def _go_on_as_stored(
        self,
        message: InboundMessage,
        shop: Shop,
        slack: SlackPort,
        progress: InboundProgress,
        files: list[tuple[int, MediaFile]],
        stale: _RememberedStale,
    ) -> None:
        """The message was posted in a remembered conversation's thread that has changed
        since: while the customer's open conversation is still that one and takes the
        message as it is, the post stays and the message goes on from the conversation as
        stored; otherwise the post goes and the message starts over from what is stored."""
        fresh = stale.current
        if fresh is not None and self._joins(fresh, message, shop, threaded=False):
            channel, ts = stale.post
            noted = self._inbound.mark_posted(message, ts, channel)
            if noted == ts:
                posted = progress._replace(slack_ts=ts)
                self._post_in_thread(message, shop, slack, posted, files, fresh, None)
                return
            take_back(slack, posts=[stale.post])
            if noted is None:
                raise Retryable("the message was erased while it was posted")
        else:
            take_back(slack, posts=[stale.post])
        self.process(message)

    def _progress(self, message: InboundMessage, receive_count: int | None) -> InboundProgress:
        """How far the message got. Its first attempt knows without asking: nothing of it is
        posted or processed yet. It takes the message as still stored, so every write it
        makes before the message is noted as posted is conditional on that (a new
        conversation's, the post noted); a message with files is not taken so, as they are
        kept before anything is written. Any other attempt is counted, and one of a copy
        handed out before may follow an uncounted first attempt."""
        first = receive_count == 1 and not message.media
        if first and self._clock() - message.received_at < FIRST_RECEIVE_WITHIN:
            return InboundProgress(InboundStatus.RECEIVED, None, files_posted=False, attempt=1)
        progress = self._inbound.begin_inbound_attempt(message)
        if receive_count is not None and receive_count > 1:
            return progress._replace(attempt=max(progress.attempt, receive_count))
        return progress

    def _post_in_thread(
        self,
        message: InboundMessage,
        shop: Shop,
        slack: SlackPort,
        progress: InboundProgress,
        files: list[tuple[int, MediaFile]],
        before: Conversation,
        current: Conversation | None,
    ) -> None:
        """Posts the message and its files in its conversation's thread (started if it has
        none), answers it as the shop does by itself, and stores it counted. `current`: the
        remembered conversation `before` is, checked as the post is noted."""
        score = survey_answer(before, message, shop.csat)
        triage, redraw = None, False
        if score is None:
            conversation = with_customer_message(before, message)
            conversation = self._arm_sla(conversation, before, message, shop)
            if self._triage is not None:
                conversation, triage = self._triage.read(message, before, conversation, shop)
        else:
            conversation = rated(before, message, score)
        thread = conversation.slack_thread
        card_is_new = False
        expires_at = shop.expiry(message.received_at)
        if thread is None:
            conversation, thread, card_is_new = self._threads.start(
                conversation, shop, slack, expires_at
            )
        channel, thread_ts = thread
        reply_ts = progress.slack_ts or self._post(
            message, slack, thread, progress.attempt, shop.timezone, current
        )
        if not progress.files_posted:
            self._post_files(message, files, slack, thread, progress.files_shared)
        if score is None:
            conversation = self._reply_automatically(conversation, message, shop)
            self._look_up_orders(before, conversation, message, shop)
            self._heed_opt_out(slack, conversation, message, shop, progress.opt_out_noted)
        else:
            slack.post(channel, rating_note(score), thread_ts=thread_ts)
            self._thank_for_rating(conversation, message, shop)
        self._conversations.record_inbound(
            message, conversation, reply_ts, expires_at=expires_at, triage=triage
        )
        conversation = conversation.model_copy(update={"version": conversation.version + 1})
        if triage is not None and self._triage is not None:
            acted = self._triage.act(slack, shop, conversation, triage)
            # A card just drawn before triage changed the conversation is drawn again.
            redraw, conversation = acted != conversation, acted
        # Counted once stored: a retry after this point finds the message processed.
        self._metrics.count(Metric.CUSTOMER_MESSAGE_PROCESSED, message.channel)
        if score is not None:
            self._metrics.value(Metric.SATISFACTION_RATING, score, message.channel)
        latest = self._refresh_card(slack, conversation, shop, shown=card_is_new and not redraw)
        if latest is not None:
            self._memory.keep(latest)
        if card_is_new and conversation.previous_conversation_id:
            self._threads.point_forward(slack, conversation, thread)
        reopened = before.status in (ConversationStatus.RESOLVED, ConversationStatus.SNOOZED)
        if reopened and conversation.status is ConversationStatus.OPEN:
            slack.post(channel, reopened_note(), thread_ts=thread_ts)
        if self._handoffs is not None and reopened_after_quiet(
            before, conversation, message.received_at
        ):
            try:
                self._handoffs.post(
                    slack, shop, conversation, HandoffReason.REOPENED, conversation.assignee_user_id
                )
            except Exception:
                # The message is stored: a retry would find it processed and stop.
                logger.exception("hand-off summary not posted")
        logger.info(
            "customer message posted",
            shop_id=shop.shop_id,
            conversation_id=conversation.conversation_id,
            message_key=message.message_key,
        )

    def _post(
        self,
        message: InboundMessage,
        slack: SlackPort,
        thread: tuple[str, str],
        attempt: int,
        timezone: str,
        current: Conversation | None,
    ) -> str:
        """Posts the message in its thread, once: noted as soon as it is there, so a later
        step's failure does not post it again. An attempt after the first looks for it in
        the thread first, in case an earlier one posted it and failed before noting so."""
        channel, thread_ts = thread
        post = customer_message(message, self._clock(), timezone)
        ts = None
        if attempt > 1 and post.metadata is not None:
            since = message.received_at - POST_CLOCK_SKEW
            ts = slack.find_posted(channel, thread_ts, post.metadata, since)
        if ts is None:
            ts = slack.post(channel, post, thread_ts=thread_ts)
        try:
            noted = self._inbound.mark_posted(message, ts, channel, while_current=current)
        except ConversationChanged as changed:
            raise _RememberedStale((channel, ts), changed.current) from changed
        if noted != ts:
            # Erased while it was being posted (its erasure could not find this post), or
            # another attempt's post of it was noted first: this one goes.
            take_back(slack, posts=[(channel, ts)])
        if noted is None:
            raise Retryable("the message was erased while it was posted")
        if noted != ts:
            raise _PostedBefore
        return ts

    def _post_files(
        self,
        message: InboundMessage,
        files: list[tuple[int, MediaFile]],
        slack: SlackPort,
        thread: tuple[str, str],
        already_shared: int,
    ) -> None:
        """The message's files after it, and a note for those that could not be fetched; a
        text longer than its post shows follows whole, as a file of its own. Shared ten at
        a time, each upload noted as it is done: a retry after a failed upload shares only
        what is left (`already_shared` of them are in the thread)."""
        whole = not shows_whole(message.text)
        if not message.media and not whole:
            return
        channel, thread_ts = thread
        # Each file by its place among the message's: its whole text, then its attachments.
        numbered = [(0, _whole_text(message))] if whole else []
        numbered += [(n + int(whole), file) for n, file in files]
        left = [(place, file) for place, file in numbered if place >= already_shared]
        for start in range(0, len(left), FILES_PER_UPLOAD):
            upload = left[start : start + FILES_PER_UPLOAD]
            file_ids = slack.upload_files(channel, thread_ts, [file for _, file in upload])
            if not self._inbound.mark_files_shared(message, upload[-1][0] + 1, file_ids):
                # Erased while they were being shared: the erasure could not find them.
                take_back(slack, files=file_ids)
                raise Retryable("the message was erased while its files were shared")
        if len(files) < len(message.media):
            missing = len(message.media) - len(files)
            slack.post(channel, attachments_missing_note(missing), thread_ts=thread_ts)
        self._inbound.mark_files_posted(message)

    def open_for_shop(self, job: ShopMessage) -> None:
        """A message the shop sends first: the customer's conversation (a new one, linked to
        their last, when they have none open), its thread, and the message queued to be
        posted there and sent. A retry finds the conversation and thread it made."""
        shop = shop_taking(self._shops, job.shop_id, job.shop_incarnation)
        if shop is None:
            logger.warning("message for a deleted shop dropped", shop_id=job.shop_id)
            return
        decided = None
        if job.decided_from is not None:
            decided = self._conversations.get_conversation(job.shop_id, job.decided_from)
            if decided is None:
                # Erased since it was queued: a new conversation would bring them back.
                logger.info("shop message for an erased customer dropped", shop_id=job.shop_id)
                self._metrics.count(Metric.SHOP_MESSAGE_DROPPED, job.channel)
                return
        if job.is_order_update and self._opt_outs is not None:
            # A STOP heard since the update was queued holds it all the same.
            addresses = (job.customer_address, *([decided.customer_address] if decided else []))
            if self._opt_outs.stopped(job.shop_id, addresses):
                logger.info("order update held: the customer opted out", shop_id=job.shop_id)
                self._metrics.count(Metric.ORDER_UPDATE_OPTED_OUT)
                return
        slack = slack_or_retry(self._workspaces, shop.shop_id)
        expires_at = shop.expiry(job.requested_at)
        existing = self._conversations.find_open_conversation(job.shop_id, job.customer_address)
        if existing is not None and existing.status is not ConversationStatus.RESOLVED:
            conversation = existing
        else:
            fresh = shop_conversation(job, self._new_id())
            earlier = existing or latest_elsewhere(
                self._profiles, self._conversations, job.shop_id, job.customer_address
            )
            if earlier is not None:
                fresh = self._threads.following(fresh, earlier, slack)
            conversation = self._conversations.create_conversation(
                fresh, replacing=existing, expires_at=expires_at
            )
        thread = conversation.slack_thread
        if thread is None:
            conversation, thread, card_is_new = self._threads.start(
                conversation, shop, slack, expires_at
            )
            if card_is_new and conversation.previous_conversation_id:
                self._threads.point_forward(slack, conversation, thread)
        if conversation.slack_team_id is None:
            raise Retryable("the conversation's Slack workspace is not known yet")
        self._outbound.send_outbound(
            ShopMessageJob(
                conversation_ref=conversation_ref(conversation),
                team_id=conversation.slack_team_id,
                channel_id=thread[0],
                thread_ts=thread[1],
                message_id=job.message_id,
                text=job.text,
                content_sid=job.content_sid,
                content_variables=job.content_variables,
                reply_key=job.reply_key,
                language=job.language,
            )
        )
        logger.info(
            "shop message queued",
            shop_id=shop.shop_id,
            conversation_id=conversation.conversation_id,
            message_key=job.message_key,
        )

    def _arm_sla(
        self, conversation: Conversation, before: Conversation, message: InboundMessage, shop: Shop
    ) -> Conversation:
        """The customer now waits for an answer: the shop's response target starts, its
        stages set as one-time schedules (before the conversation is stored, so a retry
        finds them set)."""
        if shop.sla is None or message.automated:
            return conversation
        policy = shop.sla.scaled(self._sla_minute_seconds)
        armed = policy.arm(conversation, message.received_at, shop.timezone)
        # Alarms only for the targets this message started.
        started = armed.model_copy(
            update={
                name: None
                for name in ("response_clock", "resolution_clock")
                if getattr(armed, name) == getattr(conversation, name)
            }
        )
        for alarm in policy.alarms(started, shop.timezone):
            self._schedules.set_alarm(alarm)
        return armed

    def _reply_automatically(
        self, conversation: Conversation, message: InboundMessage, shop: Shop
    ) -> Conversation:
        """Queues the automatic replies the message calls for (posted and sent by the
        outbound worker, in the thread's order); returns the conversation remembering them,
        so none goes twice. A retry queues the same jobs, which the queue and the post
        record deduplicate."""
        policy = shop.auto_replies
        if policy is None or shop.slack is None:
            return conversation
        declared = message.customer_language or conversation.customer_language
        languages = policy.languages()
        fallback = fallback_language(declared, languages, policy.default_language)
        language = detect(message.text, languages, fallback)
        replies = plan(conversation, message, policy, shop.sla, shop.name, shop.timezone, language)
        for reply in replies:
            self._outbound.send_outbound(
                automatic_reply(conversation, message.message_key, reply.key, reply.text, language)
            )
        return sent(conversation, replies, message.received_at)

    def _look_up_orders(
        self, before: Conversation, conversation: Conversation, message: InboundMessage, shop: Shop
    ) -> None:
        """Queues the customer's orders lookup, once the message is in Slack: its own job, so
        a slow or failing platform never holds the message (services/orders.py)."""
        job = status_question_lookup(conversation, message, shop)
        if job is None and lookup_due(before, conversation, shop):
            job = orders_lookup(conversation, f"message:{message.message_key}")
        if job is not None:
            self._outbound.send_outbound(job)

    def _heed_opt_out(
        self,
        slack: SlackPort,
        conversation: Conversation,
        message: InboundMessage,
        shop: Shop,
        noted: bool,
    ) -> None:
        """A customer's STOP or START for order updates: recorded, noted in the thread and
        confirmed to them (services/opt_outs.py)."""
        heard = self._opt_outs.heard(message, conversation, shop) if self._opt_outs else None
        if heard is None or conversation.slack_thread is None:
            return
        channel, thread_ts = conversation.slack_thread
        if not noted:
            slack.post(channel, heard.note, thread_ts=thread_ts)
            # A retry after a later step's failure finds it noted and posts it no more.
            self._inbound.mark_opt_out_noted(message)
        if heard.confirmation is not None:
            key, text, language = heard.confirmation
            self._outbound.send_outbound(
                automatic_reply(conversation, message.message_key, key, text, language)
            )

    def _thank_for_rating(
        self, conversation: Conversation, message: InboundMessage, shop: Shop
    ) -> None:
        policy = shop.csat
        if policy is None:
            return
        language = survey_language(conversation, policy)
        text = policy.thanks_text(language, conversation.customer_name, shop.name)
        self._outbound.send_outbound(
            automatic_reply(conversation, message.message_key, THANKS_KEY, text, language)
        )

    def _keep_media(
        self, message: InboundMessage, shop: Shop, secrets: ShopSecrets
    ) -> list[tuple[int, MediaFile]]:
        """The message's attachments, fetched from the provider and kept in the media bucket,
        each with its place in the message (those that could not be fetched are left out)."""
        files = []
        for n, item in enumerate(message.media):
            fetched = self._channels(message.channel).fetch_media(item, shop, secrets)
            if fetched is None:
                logger.warning("attachment not fetched", message_key=message.message_key)
                continue
            if not self._media.holds(item.url):  # a mail's files were kept on arrival
                self._media.keep(
                    f"{shop.shop_id}/inbound/{message.message_key}/{n}-{fetched.filename}",
                    fetched,
                    retention_days=shop.retention_days,
                )
            files.append((n, fetched))
        return files

    def _refresh_card(
        self, slack: SlackPort, conversation: Conversation, shop: Shop, *, shown: bool
    ) -> Conversation | None:
        """Draws the card as the conversation is now; `shown` when the card just posted shows
        it already (drawn again only if another write came in between). Returns the state
        drawn last, as read back stored (None when that is not known)."""
        # The message itself is in the thread already; a card left behind is refreshed by
        # the next change, so a Slack failure here is not worth a retry.
        try:
            return draw_card(self._conversations, slack, shop, conversation, shown=shown)
        except Exception:
            logger.exception("card not refreshed", conversation_id=conversation.conversation_id)
            return None

    def _conversation_for(
        self,
        message: InboundMessage,
        shop: Shop,
        slack: SlackPort,
        remembered: Conversation | None = None,
    ) -> Conversation | None:
        """The conversation a message belongs to (`remembered`: the customer's open one, as
        this container last stored it); None for automated mail that answers none of ours
        (it never opens one)."""
        threaded = self._threaded(message)
        if remembered is not None and not self._joins(remembered, message, shop, threaded=False):
            # A new conversation is opened only from the stored one.
            remembered = None
        existing = threaded or remembered
        # The customer's open conversation and those of the address's twins (SMS and
        # WhatsApp of one number) in one read: the twins' are where a new one continues;
        # so is the profile the shop linked the address into, whose pointer that read takes.
        twins: tuple[str, ...] = ()
        near: list[Conversation] = []
        customer_id = None
        if existing is None:
            twins = addresses_of(message.customer_address, None)
            near, customer_id = self._conversations.find_open_conversations_and_link(
                message.shop_id, list(twins), message.customer_address
            )
            existing = next(
                (c for c in near if c.customer_address == message.customer_address), None
            )
        # Automated mail joins only a conversation it answers; a reaction or an echo only
        # the customer's open one.
        unanswered_mail = message.email is not None and threaded is None
        if message.automated and (existing is None or unanswered_mail):
            return None
        expires_at = shop.expiry(message.received_at)
        if existing is None:
            fresh = open_conversation(message, self._new_id())
            profile = None
            if customer_id is not None:
                profile = self._profiles.linked_profile(message.shop_id, customer_id)
            earlier = latest_of_profile(
                self._conversations,
                message.shop_id,
                message.customer_address,
                profile,
                read=twins,
                found=near,
            )
            if earlier is not None:
                fresh = self._threads.following(fresh, earlier, slack)
            return self._conversations.create_conversation(
                fresh, expires_at=expires_at, while_stored=message
            )
        if self._joins(existing, message, shop, threaded=threaded is not None):
            return existing
        follow_up = self._threads.following(
            open_conversation(message, self._new_id()), existing, slack
        )
        return self._conversations.create_conversation(
            follow_up, replacing=existing, expires_at=expires_at, while_stored=message
        )

    def _threaded(self, message: InboundMessage) -> Conversation | None:
        """For email: the conversation the mail answers, by its headers or by the
        conversation address it was sent to, if it is the same customer's."""
        if message.email is None:
            return None
        found = self._conversations.find_conversation_by_mail(
            message.shop_id, message.email.answered_ids
        )
        token = message.email.reply_token
        if found is None and token and token.startswith("c"):
            found = self._conversations.get_conversation(message.shop_id, token[1:].upper())
        if found is None or found.customer_address != message.customer_address:
            return None
        return found

    def _joins(
        self, existing: Conversation, message: InboundMessage, shop: Shop, *, threaded: bool
    ) -> bool:
        """Whether the message goes on in `existing` (found by the mail it answers when
        `threaded`) rather than in a new conversation after it."""
        afresh = starts_afresh(existing, message, shop.quiet_period) or (
            not threaded and self._new_subject(existing, message, shop)
        )
        if not afresh or message.automated:
            return True
        return survey_answer(existing, message, shop.csat) is not None

    @staticmethod
    def _new_subject(existing: Conversation, message: InboundMessage, shop: Shop) -> bool:
        """A mail on a new subject, for a shop that gives each subject its conversation."""
        if message.email is None or shop.email is None:
            return False
        if shop.email.new_subject is not NewSubject.NEW_CONVERSATION:
            return False
        return subject_topic(existing.subject or "") != subject_topic(message.email.subject)


class ConversationThreads:
    """Conversations' Slack threads: started with their card, and linked to the customer's
    previous conversation both ways."""

    def __init__(self, conversations: ConversationRecords) -> None:
        self._conversations = conversations

    def following(
        self, conversation: Conversation, previous: Conversation, slack: SlackPort
    ) -> Conversation:
        """A new conversation linked to the customer's previous one, and with its agent."""
        return conversation.model_copy(
            update={
                "previous_conversation_id": previous.conversation_id,
                "previous_thread_url": self._permalink(slack, previous),
                "previous_channel": previous.channel,
                "assignee_user_id": previous.assignee_user_id,
            }
        )

    def point_forward(
        self, slack: SlackPort, conversation: Conversation, thread: tuple[str, str]
    ) -> None:
        """Tells the previous conversation's thread where the customer went on (best effort:
        the new card links back already)."""
        previous_id = conversation.previous_conversation_id
        previous = self._conversations.get_conversation(conversation.shop_id, previous_id or "")
        if previous is None or previous.slack_thread is None:
            return
        try:
            link = slack.permalink(*thread)
            slack.post(
                previous.slack_thread[0],
                continued_note(link, conversation, previous),
                thread_ts=previous.slack_thread[1],
            )
        except Exception:
            logger.exception("previous thread not told", conversation_id=previous.conversation_id)

    def _permalink(self, slack: SlackPort, conversation: Conversation) -> str | None:
        if conversation.slack_thread is None:
            return None
        try:
            return slack.permalink(*conversation.slack_thread)
        except Exception:
            # The link is a convenience; the new conversation does not wait for it.
            logger.exception("no link to the previous thread")
            return None

    def start(
        self, conversation: Conversation, shop: Shop, slack: SlackPort, expires_at: int | None
    ) -> tuple[Conversation, tuple[str, str], bool]:
        """Posts the conversation's card and makes it its thread; returns the conversation
        with its thread, and whether the card is the one just posted. When another worker
        attached its card first, this one is deleted and the conversation goes on in that
        worker's thread."""
        if shop.slack is None:
            raise Retryable("the shop has not connected Slack yet")
        channel = shop.slack.channel_for(conversation.channel)
        thread_ts = slack.post(channel, root_card(conversation, shop))
        try:
            attached = self._conversations.attach_slack_thread(
                conversation, shop.slack.team_id, channel, thread_ts, expires_at=expires_at
            )
        except Exception:
            self._take_back_unless_attached(slack, conversation, channel, thread_ts)
            raise
        if attached is not None:
            return attached, (channel, thread_ts), True
        slack.delete(channel, thread_ts)
        stored = self._conversations.get_conversation(
            conversation.shop_id, conversation.conversation_id
        )
        if stored is None or stored.slack_thread is None:
            raise Retryable("the conversation was erased while its thread was started")
        # Its version stays the one read: the state drawn from it is not the stored one.
        winner = {
            name: getattr(stored, name)
            for name in ("slack_team_id", "slack_channel_id", "slack_thread_ts")
        }
        return conversation.model_copy(update=winner), stored.slack_thread, False

    def _take_back_unless_attached(
        self, slack: SlackPort, conversation: Conversation, channel: str, ts: str
    ) -> None:
        """Deletes a card whose thread could not be stored, as the retry posts a card of its
        own; unless the write took effect and only its answer was lost (then the card is the
        conversation's thread), or that cannot be told (then it stays, an extra card rather
        than a thread gone)."""
        try:
            stored = self._conversations.get_conversation(
                conversation.shop_id, conversation.conversation_id
            )
            if stored is None or stored.slack_thread_ts != ts:
                slack.delete(channel, ts)
        except Exception:
            logger.exception("a card left without a thread could not be deleted")


class CardActions:
    """Agents' button presses on a conversation's card, and the alarms of snoozed
    conversations: applied, shown on the card and in the thread."""

    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        workspaces: Workspaces,
        schedules: SchedulesPort,
        outbound: OutboundQueue,
        clock: Clock,
        metrics: MetricsPort,
        handoffs: HandoffSummaries | None = None,
    ) -> None:
        self._shops = shops
        self._conversations = conversations
        self._workspaces = workspaces
        self._schedules = schedules
        self._outbound = outbound
        self._clock = clock
        self._metrics = metrics
        self._handoffs = handoffs

    def act(self, action: ConversationAction) -> None:
        conversation = self._conversations.find_conversation_by_thread(
            action.team_id, action.channel_id, action.message_ts
        )
        # Only the conversation whose card carries the button, in the workspace it lives in.
        if conversation is None or conversation_ref(conversation) != action.conversation_ref:
            logger.info("button for no known conversation ignored", action=action.action.value)
            return
        shop = self._shops.get_shop(conversation.shop_id)
        slack = self._slack_of(shop)
        if shop is None or slack is None:
            return
        if action.action is CardAction.SUMMARISE:
            self._summarise(slack, shop, conversation, HandoffReason.REQUESTED, action.user_id)
            return
        now = self._clock()

        def press(current: Conversation) -> Conversation:
            changed = apply_action(current, action, now, shop.timezone)
            if changed == current:
                return current
            if changed.status is ConversationStatus.RESOLVED:
                changed = self._ask_satisfaction(resolved(changed, now), shop, now)
            if changed.snoozed_until is not None:
                # Set before the state is stored: a retry finds the state unchanged and
                # stops, so the alarm must exist by then. An alarm whose snooze is never
                # stored is stale.
                self._schedules.set_alarm(
                    Wakeup(
                        shop_id=changed.shop_id,
                        conversation_id=changed.conversation_id,
                        due_at=changed.snoozed_until,
                    )
                )
            return changed

        result = change_conversation(
            self._conversations, conversation, press, expires_at=shop.expiry(now)
        )
        if result is None or not result.changed:
            return
        resolving = result.before.status is not ConversationStatus.RESOLVED
        if resolving and result.after.status is ConversationStatus.RESOLVED:
            self._metrics.count(Metric.CONVERSATION_RESOLVED, result.after.channel)
        draw_card(self._conversations, slack, shop, result.after)
        note = action_note(action, result.after, shop.timezone)
        slack.post(action.channel_id, note, thread_ts=action.message_ts)
        assignee = result.after.assignee_user_id
        if assignee is not None and assignee != result.before.assignee_user_id:
            self._summarise(slack, shop, result.after, HandoffReason.ASSIGNED, assignee)

    def _summarise(
        self,
        slack: SlackPort,
        shop: Shop,
        conversation: Conversation,
        reason: HandoffReason,
        user_id: str,
    ) -> None:
        """The hand-off summary in the thread; a failure is logged, not retried (the press
        is stored: a retry would find nothing changed)."""
        if self._handoffs is None:
            return
        try:
            self._handoffs.post(slack, shop, conversation, reason, user_id)
        except Exception:
            logger.exception("hand-off summary not posted")

    def _ask_satisfaction(
        self, conversation: Conversation, shop: Shop, now: datetime
    ) -> Conversation:
        """Queues the satisfaction question for a resolved conversation, before its state is
        stored (a retry queues the same job, which the queue and the post record
        deduplicate); returns the conversation remembering it asked."""
        policy = shop.csat
        if policy is None or not survey_due(conversation, now):
            return conversation
        language = survey_language(conversation, policy)
        text = policy.question(language, conversation.customer_name, shop.name)
        self._outbound.send_outbound(
            automatic_reply(conversation, survey_key(conversation), SURVEY_KEY, text, language)
        )
        return conversation.model_copy(update={"csat_asked_at": now})

    def wake(self, wakeup: Wakeup) -> None:
        """A snooze alarm: the conversation opens again if it is still snoozed until now,
        and the thread tells its assignee."""
        shown = self._change_and_show(
            wakeup.shop_id, wakeup.conversation_id, lambda current: wake(current, wakeup)
        )
        if shown is None:
            logger.info("stale snooze alarm ignored", conversation_ref=wakeup.conversation_ref)
            return
        woken, _, slack, (channel, thread_ts) = shown
        slack.post(channel, snooze_over_note(woken.assignee_user_id), thread_ts=thread_ts)

    def escalate(self, alarm: SlaAlarm) -> None:
        """A target's stage: noted in the thread and on the card at the warning, on-call
        called at the breach, the lead and the escalation channel told at the second level;
        recorded on the conversation. A stale alarm changes nothing."""
        shown = self._change_and_show(
            alarm.shop_id, alarm.conversation_id, lambda current: escalate(current, alarm)
        )
        if shown is None:
            logger.info("stale SLA alarm ignored", conversation_ref=alarm.conversation_ref)
            return
        escalated, shop, slack, (channel, thread_ts) = shown
        if alarm.stage is SlaStage.BREACHED:
            self._metrics.count(Metric.SLA_BREACHED, escalated.channel)
        if shop.sla is None:
            return
        clock = clock_for(escalated, alarm.target)
        target_due = clock.due_at if clock else alarm.due_at
        note = sla_note(alarm, target_due, shop.sla, shop.timezone)
        slack.post(channel, note, thread_ts=thread_ts)
        if alarm.stage is SlaStage.SECOND_LEVEL:
            link = slack.permalink(channel, thread_ts)
            escalation = escalation_message(escalated, alarm, link, shop.timezone)
            for destination in (shop.sla.lead_user_id, shop.sla.escalation_channel_id):
                if destination:
                    self._tell_outside_thread(slack, escalated, destination, escalation)

    def _tell_outside_thread(
        self, slack: SlackPort, conversation: Conversation, destination: str, post: SlackMessage
    ) -> None:
        """Posts about a conversation outside its thread (naming the customer), filed on the
        conversation so that the customer's erasure deletes it too; taken back at once when
        the conversation was erased meanwhile."""
        where = slack.post_to(destination, post)
        if not self._conversations.note_post_about_conversation(conversation, *where):
            take_back(slack, posts=[where])

    def _change_and_show(
        self, shop_id: str, conversation_id: str, change: Change
    ) -> tuple[Conversation, Shop, SlackPort, tuple[str, str]] | None:
        """Applies an alarm's change to the stored conversation and redraws its card; returns
        the conversation as changed, the shop, its workspace and the thread, for what the
        alarm says there. None for a stale alarm."""
        shop = self._shops.get_shop(shop_id)
        slack = self._slack_of(shop)
        conversation = self._conversations.get_conversation(shop_id, conversation_id)
        if shop is None or slack is None or conversation is None:
            return None
        thread = conversation.slack_thread
        if thread is None:
            return None
        expires_at = shop.expiry(self._clock())
        result = change_conversation(
            self._conversations, conversation, change, expires_at=expires_at
        )
        if result is None or not result.changed:
            return None
        draw_card(self._conversations, slack, shop, result.after)
        return result.after, shop, slack, thread

    def _slack_of(self, shop: Shop | None) -> SlackPort | None:
        """The shop's Slack; None for a shop gone or without a bot token, whose buttons and
        alarms change nothing (nothing could be shown of the change)."""
        if shop is None:
            return None
        try:
            return self._workspaces.slack_for(shop.shop_id)
        except WorkspaceUnavailable:
            return None

"""Dead letters told in Slack: a job that ran out of tries waits in its dead-letter queue
for the operators (`threadline dlq redrive`); the agents concerned hear of it in the thread
(or the shop's channel) it was for, once, so a customer is never silently left unanswered.

Every few minutes the watcher looks into the dead-letter queues without taking anything out,
and claims each held message group's first message it has not told of yet (a table record
per SQS message id) before posting; a failed post gives the claim back for the next run.

A note names no customer where a thread names the conversation. Only a customer's message
with no thread to tell it in is told in the shop's channel with its sender's address, and
that note is filed on the stored message, so the customer's erasure deletes it. A message
whose stored copy is gone (its customer erased) or whose shop no longer takes it (deleted)
is not told at all: the worker drops it when it is sent again.
"""

from dataclasses import dataclass
from datetime import UTC

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.errors import WorkspaceUnavailable
from chalicelib.domain.jobs import (
    ConversationAction,
    DeliveryUpdate,
    DeliveryWatermark,
    OrdersLookup,
)
from chalicelib.domain.messages import InboundMessage, ShopMessage
from chalicelib.presentation.notes import dead_letter_note
from chalicelib.queues import Queues, parse_inbound, parse_outbound, parse_timer
from chalicelib.services.conversations import take_back
from chalicelib.services.ports import (
    Clock,
    ConversationRecords,
    DeadLetterRecords,
    InboundRecords,
    ShopLookup,
    Workspaces,
)
from chalicelib.services.shops import shop_taking
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE, TIMERS_QUEUE, dead_letter_queue

logger = Logger(service="threadline", child=True)

# Dead letters a run looks at in each queue: a run sees the first this many (a queue hands
# out its oldest first), so groups behind them are told once those are redriven. The
# dead-letter alarms fire regardless. About 100 receives of 10, well within the schedule.
PEEK_LIMIT = 1000


@dataclass(frozen=True)
class _Told:
    """Where a dead job is told and what failed: in its conversation's thread when it has
    one, else in the shop's channel. `message` is the customer message it was, whose
    stored copy the note is filed on."""

    shop_id: str
    conversation: Conversation | None
    what: str
    message: InboundMessage | None = None


class DeadLetterWatch:
    def __init__(
        self,
        shops: ShopLookup,
        conversations: ConversationRecords,
        inbound: InboundRecords,
        claims: DeadLetterRecords,
        queues: Queues,
        workspaces: Workspaces,
        clock: Clock,
    ) -> None:
        self._shops = shops
        self._conversations = conversations
        self._inbound = inbound
        self._dead_letter_claims = claims
        self._queues = queues
        self._workspaces = workspaces
        self._clock = clock

    def tell_new(self) -> int:
        """Tells of every held message group not told of yet; returns how many were told.

        A FIFO group's first dead letter holds the group's later messages behind it, so
        the agents hear once per group, of its first: a Slack outage that dead-letters a
        customer's five messages makes one note, not five. The claim is on that first
        message, so the group is told again only once it was redriven and failed anew."""
        told = 0
        for queue in (INBOUND_QUEUE, OUTBOUND_QUEUE, TIMERS_QUEUE):
            groups: set[str] = set()
            for dead_letter in self._queues.peek(dead_letter_queue(queue), limit=PEEK_LIMIT):
                if dead_letter.group is not None:
                    if dead_letter.group in groups:
                        continue
                    groups.add(dead_letter.group)
                target = self._target(queue, dead_letter.body)
                if target is None or not self._dead_letter_claims.claim_dead_letter(
                    dead_letter.message_id, self._clock()
                ):
                    continue
                try:
                    self._tell(target)
                except Exception:
                    logger.exception("dead letter not told", queue=queue)
                    self._dead_letter_claims.release_dead_letter(dead_letter.message_id)
                    continue
                told += 1
        return told

    def _target(self, queue: str, body: str) -> _Told | None:
        """Whom a dead job concerns; None for what agents need not hear of (a delivery
        receipt, an alarm of a conversation gone), cannot be read, or must not be told (a
        message of an erased customer or of a deleted shop)."""
        try:
            if queue == INBOUND_QUEUE:
                return self._inbound_target(parse_inbound(body))
            if queue == OUTBOUND_QUEUE:
                work = parse_outbound(body)
                # The card says "orders unavailable" already, and Refresh orders tries again.
                if isinstance(work, DeliveryUpdate | OrdersLookup | DeliveryWatermark):
                    return None
                # A button press names its card's message, which is the thread's root.
                thread = work.message_ts if isinstance(work, ConversationAction) else work.thread_ts
                conversation = self._conversations.find_conversation_by_thread(
                    work.team_id, work.channel_id, thread
                )
                if conversation is None:
                    return None
                return _Told(conversation.shop_id, conversation, "send a reply or apply a button")
            timer = parse_timer(body)
            conversation = self._conversations.get_conversation(
                timer.shop_id, timer.conversation_id
            )
            if conversation is None:
                return None
            return _Told(timer.shop_id, conversation, "run a snooze or SLA alarm")
        except ValueError:
            logger.warning("unreadable dead letter", queue=queue)
            return None

    def _inbound_target(self, job: InboundMessage | ShopMessage) -> _Told | None:
        """A customer's message, or a message the shop wrote first: told in the customer's
        conversation's thread without naming them; with no thread, a customer's message is
        told with its sender's address (the agents' only way to answer another way), and
        a shop's message by its channel and time."""
        if shop_taking(self._shops, job.shop_id, job.shop_incarnation) is None:
            return None
        message = job if isinstance(job, InboundMessage) else None
        if (
            message is not None
            and self._inbound.stored_message(message.shop_id, message.message_key) is None
        ):
            # Erased since: telling of it would name a customer who is gone.
            return None
        conversation = self._conversations.find_open_conversation(job.shop_id, job.customer_address)
        in_thread = conversation is not None and conversation.slack_thread is not None
        match job:
            case InboundMessage() if in_thread:
                what = "post a message from the customer"
            case InboundMessage():
                what = f"post a message from {job.customer_address.removeprefix('whatsapp:')}"
            case ShopMessage() if in_thread:
                what = "send the shop's message to the customer"
            case ShopMessage():
                asked = job.requested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
                what = f"send a message the shop wrote ({job.channel.value}, asked for at {asked})"
        return _Told(job.shop_id, conversation, what, message)

    def _tell(self, told: _Told) -> None:
        shop = self._shops.get_shop(told.shop_id)
        if shop is None:
            return
        try:
            slack = self._workspaces.slack_for(told.shop_id)
        except WorkspaceUnavailable:
            # No Slack to tell it in: counted as told, as a shop without a channel is.
            return
        if shop.slack is None:
            return
        note = dead_letter_note(told.what)
        thread = told.conversation.slack_thread if told.conversation else None
        if thread is None:
            where = shop.slack.channel_id, slack.post(shop.slack.channel_id, note)
        else:
            where = thread[0], slack.post(thread[0], note, thread_ts=thread[1])
        message = told.message
        if message is not None and not self._inbound.note_post_about_message(
            message.shop_id, message.message_key, *where
        ):
            # Erased while it was told: the erasure could not find the note.
            take_back(slack, posts=[where])

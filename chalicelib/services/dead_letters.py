"""Dead letters told in Slack: a job that ran out of tries waits in its dead-letter queue
for the operators (`threadline dlq redrive`); the agents concerned hear of it in the thread
(or the shop's channel) it was for, once, so a customer is never silently left unanswered.

Every few minutes the watcher looks into the dead-letter queues without taking anything out,
and claims each held message group's first message it has not told of yet (a table record
per SQS message id) before posting; a failed post gives the claim back for the next run.
"""

from aws_lambda_powertools import Logger

from chalicelib.domain.conversation import (
    Conversation,
    ConversationAction,
    DeliveryUpdate,
    ShopMessage,
)
from chalicelib.domain.slack_view import dead_letter_note
from chalicelib.queues import Queues, parse_inbound, parse_outbound, parse_timer
from chalicelib.secrets import SecretVault
from chalicelib.services.ports import Clock, SlackFactory
from chalicelib.settings import INBOUND_QUEUE, OUTBOUND_QUEUE, TIMERS_QUEUE, dead_letter_queue
from chalicelib.store import Store

logger = Logger(service="threadline", child=True)

# Dead letters a run looks at in each queue: a run sees the first this many (a queue hands
# out its oldest first), so groups behind them are told once those are redriven. The
# dead-letter alarms fire regardless. About 100 receives of 10, well within the schedule.
PEEK_LIMIT = 1000

# Where a dead job is told: (shop, conversation if known, what failed).
Told = tuple[str, Conversation | None, str]


class DeadLetterWatch:
    def __init__(
        self, store: Store, queues: Queues, vault: SecretVault, slack: SlackFactory, clock: Clock
    ) -> None:
        self._store = store
        self._queues = queues
        self._vault = vault
        self._slack = slack
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
                if target is None or not self._store.claim_dead_letter(
                    dead_letter.message_id, self._clock()
                ):
                    continue
                try:
                    self._tell(*target)
                except Exception:
                    logger.exception("dead letter not told", queue=queue)
                    self._store.release_dead_letter(dead_letter.message_id)
                    continue
                told += 1
        return told

    def _target(self, queue: str, body: str) -> Told | None:
        """Whom a dead job concerns; None for what agents need not hear of (a delivery
        receipt) or cannot be read."""
        try:
            if queue == INBOUND_QUEUE:
                job = parse_inbound(body)
                address = job.customer_address.removeprefix("whatsapp:")
                what = (
                    f"send the shop's message to {address}"
                    if isinstance(job, ShopMessage)
                    else f"post a message from {address}"
                )
                conversation = self._store.find_open_conversation(job.shop_id, job.customer_address)
                return job.shop_id, conversation, what
            if queue == OUTBOUND_QUEUE:
                work = parse_outbound(body)
                if isinstance(work, DeliveryUpdate):
                    return None
                # A button press names its card's message, which is the thread's root.
                thread = work.message_ts if isinstance(work, ConversationAction) else work.thread_ts
                conversation = self._store.find_conversation_by_thread(
                    work.team_id, work.channel_id, thread
                )
                if conversation is None:
                    return None
                return conversation.shop_id, conversation, "send a reply or apply a button"
            timer = parse_timer(body)
            conversation = self._store.get_conversation(timer.shop_id, timer.conversation_id)
            return timer.shop_id, conversation, "run a snooze or SLA alarm"
        except ValueError:
            logger.warning("unreadable dead letter", queue=queue)
            return None

    def _tell(self, shop_id: str, conversation: Conversation | None, what: str) -> None:
        shop = self._store.get_shop(shop_id)
        token = self._vault.get(shop_id).slack_bot_token if shop else None
        if shop is None or shop.slack is None or token is None:
            return
        slack = self._slack(token.get_secret_value())
        thread = conversation.slack_thread if conversation else None
        if thread is None:
            slack.post(shop.slack.channel_id, dead_letter_note(what))
        else:
            slack.post(thread[0], dead_letter_note(what), thread_ts=thread[1])

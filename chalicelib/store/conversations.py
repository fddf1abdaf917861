"""Conversations and the pointers that find them: by the customer's open conversation, by
Slack thread, by an email's Message-ID.

A conversation is created whole (every field of the model), then changed by three writers,
each storing its part of the fields `CONVERSATION_FIELDS` declares, and nothing else: the
customer's messages counted (`record_inbound`), agents' and timers' changes (`save_state`,
only over the version they were read at) and its Slack thread attached. A field the model
gains is declared there once, with how each writer stores it.
"""

import time

from botocore.exceptions import ClientError

from chalicelib.domain.conversation import Conversation
from chalicelib.domain.customers import identity
from chalicelib.domain.errors import Retryable
from chalicelib.domain.messages import InboundMessage
from chalicelib.domain.triage.record import Triage
from chalicelib.store._table import (
    Attributes,
    DynamoDBClient,
    Item,
    Stored,
    Table,
    Update,
    Value,
    Write,
    Writer,
    apply_fields,
    cancelled_by_condition,
    conversation_key,
    conversations_partition,
    expiry,
    identity_key,
    mail_key,
    mail_pointer,
    mail_pointer_key,
    message_item_key,
    model_values,
    open_pointer_key,
    thread_pointer_key,
    thread_pointer_of,
    to_attributes,
)
from chalicelib.store.erasure import slack_posts_about
from chalicelib.store.inbound import processed_action

CUSTOMER, AGENTS, THREAD = Writer.CUSTOMER, Writer.AGENTS, Writer.THREAD
# A thread's conversation never changes once attached, so a warm container remembers it; for a
# bounded while, as an erasure deletes the pointer (the conversation's read then finds none).
THREAD_OWNER_SECONDS = 300
THREAD_OWNERS_KEPT = 1024


def _iso(name: str) -> Value:
    """An instant as `datetime.isoformat` writes it (+00:00, where JSON has Z)."""

    def value(conversation: Conversation) -> object:
        at = getattr(conversation, name)
        return at.isoformat() if at is not None else None

    return value


# The fields of a stored conversation its writers change, and how each stores them.
CONVERSATION_FIELDS: tuple[Stored, ...] = (
    Stored("status", {CUSTOMER: Write.SET, AGENTS: Write.SET}),
    Stored("priority", {AGENTS: Write.SET}),
    # Replies go from the number the customer last wrote to.
    Stored("shop_address", {CUSTOMER: Write.SET}),
    Stored("last_customer_message_at", {CUSTOMER: Write.SET}, _iso("last_customer_message_at")),
    Stored("customer_name", {CUSTOMER: Write.SET_GIVEN}),
    Stored("order_number", {CUSTOMER: Write.SET_GIVEN}),
    Stored("subject", {CUSTOMER: Write.SET_FIRST}),
    Stored("email_references", {CUSTOMER: Write.SET_GIVEN}),
    Stored("auto_replies_sent", {CUSTOMER: Write.SET_GIVEN}),
    Stored("assignee_user_id", {AGENTS: Write.SET_OR_REMOVE}),
    # A customer's message ends a snooze and a resolution.
    Stored(
        "snoozed_until",
        {CUSTOMER: Write.REMOVE_EMPTY, AGENTS: Write.SET_OR_REMOVE},
        _iso("snoozed_until"),
    ),
    Stored("resolved_at", {CUSTOMER: Write.REMOVE_EMPTY, AGENTS: Write.SET_OR_REMOVE}),
    Stored("response_clock", {CUSTOMER: Write.SET_GIVEN, AGENTS: Write.SET_OR_REMOVE}),
    Stored("resolution_clock", {CUSTOMER: Write.SET_GIVEN, AGENTS: Write.SET_OR_REMOVE}),
    Stored("first_response_at", {AGENTS: Write.SET_OR_REMOVE}),
    Stored("sla_history", {AGENTS: Write.SET_OR_REMOVE}),
    Stored("csat_asked_at", {AGENTS: Write.SET_OR_REMOVE}),
    Stored("csat", {CUSTOMER: Write.SET_GIVEN, AGENTS: Write.SET_OR_REMOVE}),
    Stored("slack_team_id", {THREAD: Write.SET}),
    Stored("slack_channel_id", {THREAD: Write.SET}),
    Stored("slack_thread_ts", {THREAD: Write.SET}),
    Stored("priority_set_by_agent", {AGENTS: Write.SET}),
    Stored("last_agent_reply_at", {AGENTS: Write.SET_OR_REMOVE}, _iso("last_agent_reply_at")),
    Stored("triage_marks", {CUSTOMER: Write.SET_GIVEN}),
    Stored("triage_routed", {AGENTS: Write.SET_OR_REMOVE}),
    # Written by the orders' lookup (services/orders.py) through `save_state`.
    Stored("orders", {AGENTS: Write.SET_OR_REMOVE}),
    Stored("customer_language", {CUSTOMER: Write.SET_GIVEN}),
)
# Fields set when a conversation is created and never changed after.
FIXED_AT_CREATION = frozenset(
    {
        "shop_id",
        "conversation_id",
        "channel",
        "customer_address",
        "started_by_shop",
        "created_at",
        "first_message_preview",
        "previous_conversation_id",
        "previous_thread_url",
        "previous_channel",
    }
)
# Fields the writers count themselves: the customer's messages, and every change.
COUNTED = frozenset({"message_count", "version"})


def conversation_update(
    conversation: Conversation, writer: Writer, expires_at: int | None
) -> Update:
    """What `writer` stores of the conversation, as `CONVERSATION_FIELDS` declares."""
    return apply_fields(Update(), CONVERSATION_FIELDS, conversation, writer).expires(expires_at)


def versioned_state(
    conversation: Conversation, expires_at: int | None
) -> tuple[Attributes, Update, str, Item]:
    """`save_state`'s write (key, update, condition, values): what agents and timers change,
    only over the version the conversation was read at; also an action of another
    repository's transaction (`Table.update_action`)."""
    update = conversation_update(conversation, AGENTS, expires_at)
    update.set("version", conversation.version + 1)
    condition = "version = :read"
    if conversation.version == 0:
        # Conversations stored before versions existed read as version 0.
        condition += " OR (attribute_exists(PK) AND attribute_not_exists(version))"
    key = conversation_key(conversation.shop_id, conversation.conversation_id)
    return key, update, condition, {":read": conversation.version}


class Conversations:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)
        # (team, channel, thread ts) -> (remembered until, (shop id, conversation id))
        self._thread_owners: dict[tuple[str, str, str], tuple[float, tuple[str, str]]] = {}

    # Reads ---------------------------------------------------------------------------------

    def get_conversation(self, shop_id: str, conversation_id: str) -> Conversation | None:
        item = self._table.get(conversation_key(shop_id, conversation_id))
        return Conversation.model_validate(item) if item else None

    def find_open_conversation(self, shop_id: str, customer_address: str) -> Conversation | None:
        pointer = self._table.get(open_pointer_key(shop_id, customer_address))
        if not pointer:
            return None
        return self.get_conversation(shop_id, str(pointer["conversation_id"]))

    def find_open_conversations(self, shop_id: str, addresses: list[str]) -> list[Conversation]:
        """The open conversations of several addresses, in two batch reads at most (their
        pointers, then the conversations they point at), in no particular order."""
        return self._open_conversations(shop_id, addresses)[0]

    def find_open_conversations_and_link(
        self, shop_id: str, addresses: list[str], linked: str
    ) -> tuple[list[Conversation], str | None]:
        """The open conversations of `addresses` (as `find_open_conversations`), and the id
        of the customer profile `linked` is linked into (None: it is in none), whose pointer
        joins the first batch read: what a message that may open a conversation reads."""
        link = identity_key(shop_id, identity(linked))
        conversations, others = self._open_conversations(shop_id, addresses, link)
        return conversations, next((str(item["customer_id"]) for item in others), None)

    def _open_conversations(
        self, shop_id: str, addresses: list[str], *also: Attributes
    ) -> tuple[list[Conversation], list[Item]]:
        """The open conversations of `addresses`, and the items of `also` (those that
        exist), read with their pointers."""
        pointer_keys = [open_pointer_key(shop_id, a) for a in addresses]
        if not pointer_keys and not also:
            return [], []
        pointer_pks = {k["PK"]["S"] for k in pointer_keys}
        items = self._table.read_all([*pointer_keys, *also])
        pointers = [item for item in items if item["PK"] in pointer_pks]
        others = [item for item in items if item["PK"] not in pointer_pks]
        if not pointers:
            return [], others
        keys = [conversation_key(shop_id, str(p["conversation_id"])) for p in pointers]
        found = [Conversation.model_validate(item) for item in self._table.read_all(keys)]
        return found, others

    def find_conversation_by_thread(
        self, team_id: str, channel_id: str, thread_ts: str
    ) -> Conversation | None:
        pointer = self._table.get(thread_pointer_key(team_id, channel_id, thread_ts))
        if not pointer:
            return None
        return self.get_conversation(str(pointer["shop_id"]), str(pointer["conversation_id"]))

    def find_conversation_by_mail(
        self, shop_id: str, message_ids: tuple[str, ...]
    ) -> Conversation | None:
        """The conversation of the nearest of `message_ids` we know."""
        keys = list({mail_key(m): mail_pointer_key(shop_id, m) for m in message_ids}.values())
        keys = keys[:50]
        if not keys:
            return None
        found = {
            str(item["PK"]): str(item["conversation_id"]) for item in self._table.read_all(keys)
        }
        for key in keys:
            if key["PK"]["S"] in found:
                return self.get_conversation(shop_id, found[key["PK"]["S"]])
        return None

    def posts_about_conversation(self, conversation: Conversation) -> list[tuple[str, str]]:
        """(channel, ts) of the posts filed by `note_post_about_conversation`."""
        key = conversation_key(conversation.shop_id, conversation.conversation_id)
        return slack_posts_about(self._table.get(key, projection="slack_posts_about") or {})

    # Writes --------------------------------------------------------------------------------

    def point_mail(
        self,
        shop_id: str,
        conversation_id: str,
        message_ids: list[str],
        *,
        expires_at: int | None = None,
    ) -> None:
        """Files our own sent mail's ids under its conversation, for the replies to them."""
        for message_id in message_ids:
            self._table.client.put_item(
                TableName=self._table.name,
                Item=mail_pointer(shop_id, conversation_id, message_id, expires_at),
            )

    def create_conversation(
        self,
        conversation: Conversation,
        replacing: Conversation | None = None,
        *,
        expires_at: int | None = None,
        while_stored: InboundMessage | None = None,
    ) -> Conversation:
        """Opens the conversation unless the customer already has an open one, which wins.
        With `replacing`, the new one takes over the customer's pointer from that one (after
        a quiet period), unless another worker already moved it. A pointer past its expiry
        counts as gone: TTL deletes it days later, maybe after its conversation. With
        `while_stored`, only while that message is stored: one erased meanwhile raises
        Retryable (its retry finds it gone) and opens nothing."""
        # Stored whole: every field of the model, the declared ones among them.
        values = {
            **model_values(conversation),
            "GSI1PK": conversations_partition(conversation.shop_id),
            "GSI1SK": conversation.created_at.isoformat(),
            **expiry(expires_at),
        }
        key = conversation_key(conversation.shop_id, conversation.conversation_id)
        actions = [
            self._open_pointer_action(conversation, replacing, expires_at),
            self._table.put_action({**key, **to_attributes(values)}, "attribute_not_exists(PK)"),
        ]
        if while_stored is not None:
            stored = message_item_key(while_stored.shop_id, while_stored.message_key)
            actions.append(self._table.check_action(stored, "attribute_exists(PK)"))
        try:
            self._table.transact(actions)
        except ClientError as error:
            cancelled = cancelled_by_condition(error)
            if while_stored is not None and cancelled[2:3] == [True]:
                raise Retryable("the message was erased before its conversation opened") from error
            if not any(cancelled):
                raise
            existing = self.find_open_conversation(
                conversation.shop_id, conversation.customer_address
            )
            if existing is None:
                raise
            return existing
        return conversation

    def _open_pointer_action(
        self, conversation: Conversation, replacing: Conversation | None, expires_at: int | None
    ) -> Item:
        """The customer's pointer to their open conversation: taken when there is none (or
        it expired), or moved over from the conversation it replaces."""
        pointer = {
            **open_pointer_key(conversation.shop_id, conversation.customer_address),
            **to_attributes(
                {"conversation_id": conversation.conversation_id, **expiry(expires_at)}
            ),
        }
        if replacing is not None:
            return self._table.put_action(
                pointer,
                "conversation_id = :previous",
                {":previous": replacing.conversation_id},
            )
        return self._table.put_action(
            pointer,
            "attribute_not_exists(PK) OR expires_at < :now",
            {":now": int(conversation.created_at.timestamp())},
        )

    def record_inbound(
        self,
        message: InboundMessage,
        conversation: Conversation,
        slack_ts: str,
        *,
        expires_at: int | None = None,
        triage: Triage | None = None,
    ) -> None:
        """Marks the message processed and counts it on its conversation, in one transaction;
        with `expires_at`, the conversation and its pointers expire then. The message's
        triage is kept with it (erased and expiring with it)."""
        # The customer's part of the conversation as this message leaves it.
        counted = conversation.model_copy(
            update={
                "customer_name": message.customer_name,
                "last_customer_message_at": message.received_at,
                "shop_address": message.shop_address,
            }
        )
        update = conversation_update(counted, CUSTOMER, expires_at)
        update.count("message_count").count("version")
        key = conversation_key(message.shop_id, conversation.conversation_id)
        actions = [
            processed_action(self._table, message, conversation.conversation_id, slack_ts, triage),
            self._table.update_action(key, update, "attribute_exists(PK)"),
        ]
        if message.email and message.email.message_id:
            # Later mail that answers this one finds the conversation by it.
            pointer = mail_pointer(
                message.shop_id, conversation.conversation_id, message.email.message_id, expires_at
            )
            actions.append(self._table.put_action(pointer))
        try:
            self._table.transact(actions)
        except ClientError as error:
            if any(cancelled_by_condition(error)):
                # The retry finds the message gone and drops it.
                raise Retryable("the message or its conversation was erased meanwhile") from error
            raise
        if expires_at is not None:
            self._extend_pointers(conversation, expires_at)

    def save_state(
        self, conversation: Conversation, *, expires_at: int | None = None
    ) -> Conversation | None:
        """Stores what agents and timers change on a conversation: status, snooze, priority,
        assignee, and its service-level state; with `expires_at`, it and its pointers expire
        then. Only if it is still at the version it was read at: returns it as stored (its
        next version), or None when another write came first or it was erased."""
        if not self._table.update(*versioned_state(conversation, expires_at)):
            return None
        if expires_at is not None:
            self._extend_pointers(conversation, expires_at)
        return conversation.model_copy(update={"version": conversation.version + 1})

    def attach_slack_thread(
        self,
        conversation: Conversation,
        team_id: str,
        channel_id: str,
        thread_ts: str,
        *,
        expires_at: int | None = None,
    ) -> Conversation | None:
        """Gives the conversation its Slack thread, unless it has one already (another worker
        attached its own first: None) or was erased meanwhile (None too)."""
        threaded = conversation.model_copy(
            update={
                "slack_team_id": team_id,
                "slack_channel_id": channel_id,
                "slack_thread_ts": thread_ts,
            }
        )
        update = conversation_update(threaded, THREAD, expires_at).count("version")
        key = conversation_key(conversation.shop_id, conversation.conversation_id)
        pointer = {
            **thread_pointer_key(team_id, channel_id, thread_ts),
            **to_attributes(
                {
                    "shop_id": conversation.shop_id,
                    "conversation_id": conversation.conversation_id,
                    **expiry(expires_at),
                }
            ),
        }
        condition = "attribute_exists(PK) AND attribute_not_exists(slack_thread_ts)"
        try:
            self._table.transact(
                [
                    self._table.update_action(key, update, condition),
                    self._table.put_action(pointer),
                ]
            )
        except ClientError as error:
            if not any(cancelled_by_condition(error)):
                raise
            return None
        return threaded.model_copy(update={"version": conversation.version + 1})

    def touch_conversation(self, conversation: Conversation, expires_at: int | None) -> None:
        """Moves a conversation's expiry (and its pointers') to `expires_at`, for activity
        that changes nothing else on it (an agent's reply)."""
        if expires_at is None:
            return
        key = conversation_key(conversation.shop_id, conversation.conversation_id)
        if self._table.set_if_stored(key, {"expires_at": expires_at}):
            self._extend_pointers(conversation, expires_at)

    def _extend_pointers(self, conversation: Conversation, expires_at: int) -> None:
        """The customer's open pointer (while it is this conversation's) and the Slack thread
        pointer expire with the conversation."""
        keys: list[Attributes] = [
            open_pointer_key(conversation.shop_id, conversation.customer_address)
        ]
        keys += thread_pointer_of(conversation)
        for key in keys:
            self._table.update(
                key,
                Update().expires(expires_at),
                "conversation_id = :id",
                {":id": conversation.conversation_id},
            )

    def note_post_about_conversation(
        self, conversation: Conversation, channel_id: str, ts: str
    ) -> bool:
        """Files a post of the bot about a conversation outside its thread (the second
        level told to a lead or an escalation channel) where the customer's erasure finds
        it. False (nothing written) when the conversation is gone (erased)."""
        key = conversation_key(conversation.shop_id, conversation.conversation_id)
        return self._table.append_post(key, channel_id, ts)

    def thread_owner(self, team_id: str, channel_id: str, thread_ts: str) -> tuple[str, str] | None:
        """(shop id, conversation id) of a Slack thread, remembered a while once read."""
        thread = (team_id, channel_id, thread_ts)
        now = time.monotonic()
        remembered = self._thread_owners.pop(thread, None)
        if remembered is not None and remembered[0] > now:
            self._thread_owners[thread] = remembered
            return remembered[1]
        pointer = self._table.get(thread_pointer_key(*thread))
        if not pointer:
            return None
        owner = (str(pointer["shop_id"]), str(pointer["conversation_id"]))
        if len(self._thread_owners) >= THREAD_OWNERS_KEPT:
            # The least recently used goes: a dict keeps the order of insertion.
            del self._thread_owners[next(iter(self._thread_owners))]
        self._thread_owners[thread] = (now + THREAD_OWNER_SECONDS, owner)
        return owner

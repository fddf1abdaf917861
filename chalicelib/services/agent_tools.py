"""What agents ask of Threadline from Slack, answered while Slack waits (3 seconds): the
canned-response modal (Slack's trigger expires before a queue would get to it), and the
`/threadline` slash command.

The slash command answers only in a channel where a shop's conversations are posted, and
only with the conversations posted there, so it tells nobody more than the channel they
asked in already shows: a guest in another channel of the workspace, or the agents of
another shop in it, learn nothing of a shop's customers. The channel and the workspace come
from Slack's signed request, never from what the agent typed. Answers are ephemeral.
"""

from collections.abc import Callable

from aws_lambda_powertools import Logger

from chalicelib.channels.slack import CannedPicker, SlashCommand
from chalicelib.domain.conversation import Conversation, ConversationStatus
from chalicelib.domain.errors import WorkspaceUnavailable
from chalicelib.domain.jobs import CannedReply
from chalicelib.domain.orders import OrderRefusal, fill_order
from chalicelib.domain.shop import Shop
from chalicelib.presentation.commands import COMMAND_HELP, canned_list, conversation_list, ephemeral
from chalicelib.presentation.pickers import canned_picker
from chalicelib.services.ports import (
    ConversationLists,
    ConversationRecords,
    ShopRecords,
    Workspaces,
)

logger = Logger(service="threadline", child=True)

# How far back the slash command looks, per shop, and how much it shows.
SEARCHED_CONVERSATIONS = 300
LISTED_CONVERSATIONS = 20
# What `find` needs: letters or digits of a name or number (spaces and signs do not count),
# enough that one or two characters cannot list every customer, and no more than a name.
QUERY_MIN_CHARACTERS = 3
QUERY_MAX_CHARACTERS = 100
ASCII_DIGITS = frozenset("0123456789")

NOT_A_CONVERSATION_CHANNEL = (
    "`/threadline mine`, `find` and `canned` answer only in a channel where a shop's "
    "conversations are posted, about the conversations posted there: ask in that channel."
)
QUERY_TOO_SHORT = (
    f"`/threadline find` needs {QUERY_MIN_CHARACTERS} to {QUERY_MAX_CHARACTERS} letters or "
    "digits of a customer's name or number."
)


class AgentTools:
    def __init__(
        self,
        shops: ShopRecords,
        conversations: ConversationRecords,
        listings: ConversationLists,
        workspaces: Workspaces,
    ) -> None:
        self._shops = shops
        self._threads = conversations
        self._listings = listings
        self._workspaces = workspaces

    def _thread(self, team_id: str, channel_id: str, thread_ts: str) -> tuple[Conversation, Shop]:
        conversation = self._threads.find_conversation_by_thread(team_id, channel_id, thread_ts)
        shop = self._shops.get_shop(conversation.shop_id) if conversation else None
        if conversation is None or shop is None:
            raise LookupError("not a conversation thread")
        return conversation, shop

    def open_picker(self, picker: CannedPicker) -> None:
        """Opens the canned-response modal for the conversation of the thread it was asked
        from; anywhere else, nothing happens."""
        try:
            conversation, shop = self._thread(picker.team_id, picker.channel_id, picker.thread_ts)
        except LookupError:
            logger.info("canned response asked outside a conversation thread")
            return
        try:
            slack = self._workspaces.slack_for(shop.shop_id)
        except WorkspaceUnavailable:
            return
        slack.open_view(picker.trigger_id, canned_picker(conversation, shop))

    def check_choice(self, choice: CannedReply) -> dict[str, str]:
        """What is wrong with a submitted modal, by input block; empty when it can go."""
        try:
            conversation, shop = self._thread(choice.team_id, choice.channel_id, choice.thread_ts)
        except LookupError:
            return {"response": "This conversation is gone."}
        canned = shop.canned(choice.name)
        if canned is None:
            return {"response": "This response no longer exists."}
        if canned.needs_order_number and not (choice.order_number or conversation.order_number):
            return {"order_number": "This response needs the order number."}
        quoted = choice.order_number or conversation.order_number
        # Checked here so the modal says why; the language matters only when it is sent.
        order = fill_order(canned.placeholders, conversation.orders, quoted, "en")
        if isinstance(order, OrderRefusal):
            return {"order_number": f"No order to quote: {order.reason}."[:2000]}
        return {}

    def command(self, command: SlashCommand) -> dict[str, object]:
        verb, _, rest = command.text.partition(" ")
        verb, query = verb.casefold(), rest.strip()
        if verb not in ("mine", "find", "canned"):
            return ephemeral(COMMAND_HELP)
        shops = [
            shop
            for shop in self._shops.shops_of_team(command.team_id)
            if _posts_to(shop, command.channel_id)
        ]
        if not shops:
            return ephemeral(NOT_A_CONVERSATION_CHANNEL)
        match verb:
            case "mine":
                found = self._conversations(
                    shops,
                    command,
                    lambda c: (
                        c.assignee_user_id == command.user_id
                        and c.status is not ConversationStatus.RESOLVED
                    ),
                )
                return conversation_list("Your open conversations", found, command.team_domain)
            case "find":
                if not _searchable(query):
                    return ephemeral(QUERY_TOO_SHORT)
                found = self._conversations(shops, command, lambda c: _matches(c, query))
                return conversation_list(
                    f"Conversations with “{query}”", found, command.team_domain
                )
            case _:
                return canned_list(shops)

    def _conversations(
        self, shops: list[Shop], command: SlashCommand, wanted: Callable[[Conversation], bool]
    ) -> list[tuple[Conversation, str]]:
        found: list[tuple[Conversation, str]] = []
        for shop in shops:
            for conversation in self._listings.recent_conversations(
                shop.shop_id, SEARCHED_CONVERSATIONS
            ):
                # Only threads of the channel that asked, in the workspace that asked.
                here = (conversation.slack_team_id, conversation.slack_channel_id) == (
                    command.team_id,
                    command.channel_id,
                )
                if here and wanted(conversation):
                    found.append((conversation, shop.timezone))
        found.sort(key=lambda pair: pair[0].created_at, reverse=True)
        return found[:LISTED_CONVERSATIONS]


def _posts_to(shop: Shop, channel_id: str) -> bool:
    """Whether the shop's conversations are posted in `channel_id` (its channel, or the one
    of one of its customer channels)."""
    slack = shop.slack
    return slack is not None and channel_id in (slack.channel_id, *slack.channels.values())


def _searchable(query: str) -> bool:
    """Enough of a name or number to look for, and no more than one."""
    meaningful = sum(1 for character in query if character.isalnum())
    return meaningful >= QUERY_MIN_CHARACTERS and len(query) <= QUERY_MAX_CHARACTERS


def _matches(conversation: Conversation, query: str) -> bool:
    """A customer by part of their number (4 digits or more) or of their name."""
    digits = "".join(c for c in query if c in ASCII_DIGITS)
    if len(digits) >= 4 and digits in conversation.customer_address:
        return True
    name = (conversation.customer_name or "").casefold()
    return bool(name) and query.casefold() in name

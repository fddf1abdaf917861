"""What a customer's erasure deletes of a conversation at once, and its receipt; and the
notes of what the bot posted about a customer, which the erasure takes back from Slack."""

from chalicelib.domain.conversation import Conversation, conversation_ref
from chalicelib.domain.csat import SURVEY_KEY, THANKS_KEY, survey_key
from chalicelib.domain.jobs import auto_reply_post_id
from chalicelib.store._table import (
    SLACK_FILE_IDS,
    SLACK_POSTS_ABOUT,
    Attributes,
    DynamoDBClient,
    Item,
    Table,
    conversation_key,
    erasure_key,
    mail_ids_partition,
    mail_pointer_key,
    open_pointer_key,
    post_key,
    provider_pointer_key,
    revision_key,
    revisions_partition,
    stored_key,
    thread_pointer_of,
    to_attributes,
)


def slack_posts_about(item: Item) -> list[tuple[str, str]]:
    """(channel, ts) of the posts filed on a stored message or conversation."""
    pairs = item.get(SLACK_POSTS_ABOUT) or []
    return [(str(pair[0]), str(pair[1])) for pair in pairs]


def slack_files_of(item: Item) -> list[str]:
    """The ids of the files the bot shared with a stored message."""
    return [str(file_id) for file_id in item.get(SLACK_FILE_IDS) or []]


def _keys_of_message(conversation: Conversation, item: Item) -> list[Attributes]:
    """A message of the conversation and every record that points at it or repeats it."""
    shop_id, team_id = conversation.shop_id, conversation.slack_team_id
    keys = [stored_key(item)]
    if item.get("provider_message_id") and "agent_user_id" in item:
        keys.append(provider_pointer_key(shop_id, str(item["provider_message_id"])))
        if item.get("channel") == "email":
            # SES's id of a reply, filed before pointers were filed by conversation.
            ses_id = f"{item['provider_message_id']}@email.amazonses.com"
            keys.append(mail_pointer_key(shop_id, ses_id))
    email = item.get("email")
    if isinstance(email, dict) and email.get("message_id"):
        keys.append(mail_pointer_key(shop_id, str(email["message_id"])))
    if item.get("post_id") and team_id:
        keys.append(post_key(team_id, str(item["post_id"])))
    if item.get("slack_ts") and team_id and "agent_user_id" in item:
        keys.append(revision_key(team_id, str(item["slack_channel_id"]), str(item["slack_ts"])))
    return keys


def _automatic_posts(conversation: Conversation, items: list[Item]) -> list[Attributes]:
    """Automatic replies' posts repeat the customer's name: those answering a message, and
    the satisfaction question."""
    if not conversation.slack_team_id:
        return []
    ref = conversation_ref(conversation)
    posts = [auto_reply_post_id(ref, survey_key(conversation), SURVEY_KEY)]
    reply_keys = [*conversation.auto_replies_sent, THANKS_KEY]
    for message in (i for i in items if "provider" in i):
        message_key = f"{message['provider']}:{message['provider_message_id']}"
        posts += [auto_reply_post_id(ref, message_key, key) for key in reply_keys]
    return [post_key(conversation.slack_team_id, post) for post in posts]


class Erasures:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._table = Table(client, table_name)

    def erase_conversation(self, conversation: Conversation, items: list[Item]) -> int:
        """Deletes a conversation, its messages (`items`, from its timeline) and every
        record that points at them or repeats their text; returns how many went."""
        shop_id = conversation.shop_id
        keys = [conversation_key(shop_id, conversation.conversation_id)]
        keys += thread_pointer_of(conversation)
        # Every Message-ID filed under it (the customer's, ours, SES's), and every edit or
        # deletion of a message in its thread (agents' notes too, which are stored nowhere
        # else).
        partition = mail_ids_partition(shop_id, conversation.conversation_id)
        keys += self._table.keys_in("GSI1", "GSI1PK", partition)
        if conversation.slack_team_id and conversation.slack_thread:
            thread = revisions_partition(conversation.slack_team_id, *conversation.slack_thread)
            keys += self._table.keys_in("GSI1", "GSI1PK", thread)
        for item in items:
            keys += _keys_of_message(conversation, item)
        keys += _automatic_posts(conversation, items)
        # A post record may be named twice: by its reply's item, and by the rule for posts.
        self._table.delete_all(keys)
        # The customer's pointer, only if it still points at this conversation.
        self._table.delete_if(
            open_pointer_key(shop_id, conversation.customer_address),
            "conversation_id = :id",
            {":id": conversation.conversation_id},
        )
        return len(items)

    def record_erasure(self, shop_id: str, receipt: Item) -> None:
        """Keeps an erasure's receipt: counts and a hash of the address, nothing personal."""
        self._table.client.put_item(
            TableName=self._table.name,
            Item={**erasure_key(shop_id, str(receipt["erased_at"])), **to_attributes(receipt)},
        )

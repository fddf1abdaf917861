"""The words a conversation, its messages and its jobs share: the channel it is on, its
priority, and its response targets with their stages. Kept below all three, so each can use
them.
"""

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    TELEGRAM = "telegram"
    WHATSAPP_CLOUD = "whatsapp_cloud"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"


# The channels Meta carries (WhatsApp Cloud API, Messenger, Instagram): one webhook, one app.
META_CHANNELS = frozenset({Channel.WHATSAPP_CLOUD, Channel.MESSENGER, Channel.INSTAGRAM})


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class SlaTarget(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class SlaStage(StrEnum):
    """How far an unanswered conversation has gone past its target, in order."""

    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    SECOND_LEVEL = "second_level"


SLA_STAGE_ORDER = list(SlaStage)

"""A shop's triage configuration: `"triage": {"engine": "rules", "rules": {...}}`.

Everything in `rules` has a default, so `{"engine": "rules"}` alone triages every message and
raises a clearly urgent conversation (a chargeback threat, the third chaser in capitals).
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.domain.triage.record import Intent, UrgencySignal


class _Strict(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)


class TriageEngineName(StrEnum):
    RULES = "rules"
    # Amazon Comprehend's sentiment where it reads the language; rules for the rest.
    COMPREHEND = "comprehend"
    # A model of the shop's choice through Amazon Bedrock's Converse API.
    BEDROCK = "bedrock"


SlackChannel = Annotated[str, Field(pattern=r"^[CG][A-Z0-9]{2,20}$")]
# A user (U…, W…) or a user group (S…).
SlackMention = Annotated[str, Field(pattern=r"^[UWS][A-Z0-9]{2,20}$")]


class IntentRoute(_Strict):
    """Where a conversation of an intent is pointed out: a Slack channel (a link to the
    thread is posted there), a user or user group mentioned in the thread, or both."""

    channel_id: SlackChannel | None = None
    mention: SlackMention | None = None

    @model_validator(mode="after")
    def _somewhere(self) -> Self:
        if self.channel_id is None and self.mention is None:
            raise ValueError("a route needs channel_id, mention, or both")
        return self


DEFAULT_URGENT_SIGNALS = (UrgencySignal.CHARGEBACK, UrgencySignal.LEGAL, UrgencySignal.SAFETY)


class TriageRules(_Strict):
    # False: triage is shown on the card but never changes the priority.
    raise_priority: bool = True
    # The customer's messages already waiting unanswered before a new one counts as chasing.
    chase_after: int = Field(default=2, ge=1, le=20)
    # How strongly negative (1 to 3) a message must be to count as anger.
    anger_strength: int = Field(default=3, ge=1, le=3)
    # Signals that alone make a message urgent; any other makes it high, two make it urgent.
    urgent_signals: tuple[UrgencySignal, ...] = DEFAULT_URGENT_SIGNALS
    # Intents pointed out somewhere, e.g. {"refund": {"channel_id": "C0RETURNS"}}.
    routes: dict[Intent, IntentRoute] = Field(default_factory=dict, max_length=len(Intent))
    # How sure the engine must be of an intent (0 to 1) before it routes.
    route_confidence: float = Field(default=0.5, ge=0.0, le=1.0)


# An AWS region's code (eu-west-1, us-gov-west-1, ap-southeast-2).
AwsRegion = Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$", max_length=25)]
# A Bedrock model id (anthropic.claude-3-haiku-20240307-v1:0), a cross-region inference
# profile's (us.amazon.nova-micro-v1:0) or either's ARN, as Converse takes them.
BedrockModelId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.:/_-]*$", max_length=2048)]


class TriagePolicy(_Strict):
    engine: TriageEngineName = TriageEngineName.RULES
    rules: TriageRules = Field(default_factory=TriageRules)
    # Where the AWS engines are called; none: the deployment's own region.
    region: AwsRegion | None = None
    # The model the `bedrock` engine asks (required there, refused elsewhere).
    model_id: BedrockModelId | None = None
    # The card's *Draft a reply* (bedrock only): a draft shown to the agent who asks, alone.
    drafts: bool = False

    @model_validator(mode="after")
    def _engine_settings(self) -> Self:
        if self.engine is TriageEngineName.BEDROCK and self.model_id is None:
            raise ValueError("the bedrock engine needs model_id")
        if self.engine is not TriageEngineName.BEDROCK and self.model_id is not None:
            raise ValueError("model_id is for the bedrock engine only")
        if self.engine is TriageEngineName.RULES and self.region is not None:
            raise ValueError("region is for the comprehend and bedrock engines only")
        if self.drafts and self.engine is not TriageEngineName.BEDROCK:
            raise ValueError("drafts are for the bedrock engine only")
        return self

    @property
    def drafts_offered(self) -> bool:
        """Whether the card offers *Draft a reply*."""
        return self.engine is TriageEngineName.BEDROCK and self.drafts

"""Secrets in AWS Secrets Manager: the shops' and the deployment's own.

One secret per shop (Slack bot token, Twilio auth token, Shopify access token and webhook
secret), a JSON document named `<prefix><shop id>`; and one for the deployment (the admin
token, the Slack app's signing and client secrets), named by THREADLINE_DEPLOYMENT_SECRET.
Reads go through powertools Parameters, so a warm Lambda fetches each once per cache period;
nothing here ever logs or returns a secret's value in plain text.
"""

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import (
    GetParameterError,
    TransformParameterError,
)
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from chalicelib.documents import ValidatedDocuments
from chalicelib.domain.errors import Forbidden, Retryable, Unauthorized
from chalicelib.domain.shop import ShopSecrets

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    SecretsManagerClient = Any

logger = Logger(service="threadline", child=True)

# A refused check re-reads the deployment's secret at most this often, so forged requests
# cannot turn into a stream of reads.
REFRESH_AFTER_REFUSAL_SECONDS = 10.0
T = TypeVar("T")


class SecretVault:
    def __init__(self, client: SecretsManagerClient, prefix: str, cache_seconds: int) -> None:
        self._client = client
        self._prefix = prefix
        self._cache_seconds = cache_seconds
        self._provider = SecretsProvider(boto3_client=client)
        self._secrets = ValidatedDocuments(ShopSecrets)

    def _name(self, shop_id: str) -> str:
        return f"{self._prefix}{shop_id}"

    def get(self, shop_id: str, *, fresh: bool = False) -> ShopSecrets:
        try:
            document = self._provider.get(
                self._name(shop_id),
                max_age=self._cache_seconds,
                transform="json",
                force_fetch=fresh,
            )
        except GetParameterError as error:
            # powertools wraps the SDK error; a shop without secrets yet is not an error.
            cause = error.__context__
            if (
                isinstance(cause, ClientError)
                and cause.response["Error"]["Code"] == "ResourceNotFoundException"
            ):
                return ShopSecrets()
            raise
        return self._secrets(shop_id, document)

    def put(self, shop_id: str, secrets: ShopSecrets) -> str:
        """Stores the shop's secrets; returns the new version's id (for `undo`)."""
        document = _document(secrets)
        try:
            answer = self._client.put_secret_value(
                SecretId=self._name(shop_id), SecretString=document
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            answer = self._client.create_secret(Name=self._name(shop_id), SecretString=document)
        self._provider.clear_cache()  # type: ignore[no-untyped-call]
        return str(answer["VersionId"])

    def revive(self, shop_id: str) -> None:
        """Makes a deleted shop's secret writable for a shop created again with its id:
        Secrets Manager refuses new values for a secret scheduled for deletion until it is
        restored (the new shop's values then replace the old ones)."""
        try:
            described = self._client.describe_secret(SecretId=self._name(shop_id))
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            return
        if "DeletedDate" in described:
            self._client.restore_secret(SecretId=self._name(shop_id))

    def delete(self, shop_id: str) -> None:
        """Schedules the shop's secrets for deletion (Secrets Manager keeps them 7 days, in
        case the shop was deleted by mistake)."""
        try:
            self._client.delete_secret(SecretId=self._name(shop_id), RecoveryWindowInDays=7)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
        self._provider.clear_cache()  # type: ignore[no-untyped-call]

    def undo(self, shop_id: str, version_id: str, previous: ShopSecrets | None) -> None:
        """Takes back the write that made `version_id`, unless a later write replaced it:
        the previous secrets return, or the secret goes if the shop had none."""
        name = self._name(shop_id)
        stages = self._client.describe_secret(SecretId=name).get("VersionIdsToStages", {})
        if "AWSCURRENT" not in stages.get(version_id, []):
            return
        if previous is None:
            self._client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        else:
            self._client.put_secret_value(SecretId=name, SecretString=_document(previous))
        self._provider.clear_cache()  # type: ignore[no-untyped-call]


def _document(secrets: ShopSecrets) -> str:
    return json.dumps(
        {
            name: value.get_secret_value()
            for name, value in (
                ("slack_bot_token", secrets.slack_bot_token),
                ("twilio_auth_token", secrets.twilio_auth_token),
                ("telegram_bot_token", secrets.telegram_bot_token),
                ("telegram_webhook_secret", secrets.telegram_webhook_secret),
                ("shopify_access_token", secrets.shopify_access_token),
                ("shopify_webhook_secret", secrets.shopify_webhook_secret),
                ("meta_access_token", secrets.meta_access_token),
                ("woocommerce_consumer_key", secrets.woocommerce_consumer_key),
                ("woocommerce_consumer_secret", secrets.woocommerce_consumer_secret),
                ("woocommerce_webhook_secret", secrets.woocommerce_webhook_secret),
            )
            if value is not None
        }
    )


class DeploymentKeys(BaseModel):
    """The deployment's secret document. The stack generates the admin token; the operator
    fills in the Slack app's values (docs/DEPLOY.md). Unknown fields are ignored."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    admin_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_client_id: str = ""
    slack_client_secret: SecretStr = SecretStr("")
    # The Meta app's: it signs Meta's webhooks (X-Hub-Signature-256) ...
    meta_app_secret: SecretStr = SecretStr("")
    # ... and this answers its subscription handshake (hub.verify_token).
    meta_verify_token: SecretStr = SecretStr("")

    def media_link_key(self) -> bytes | None:
        """The key that signs customers' media links, derived from the admin token (one-way:
        a link gives nothing of the token away); None without a token, so no link is ever
        signed with a key anyone could compute. A new admin token ends the links it signed."""
        token = self.admin_token.get_secret_value()
        if not token:
            return None
        return hmac.new(token.encode("utf-8"), b"threadline media links", hashlib.sha256).digest()


class DeploymentSecrets:
    """The deployment's secrets as a warm container knows them: read once, kept for the cache
    period, and read again at once when a check against them fails (a value rotated through
    Secrets Manager is accepted from its first request)."""

    def __init__(
        self,
        read: Callable[[bool], DeploymentKeys],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._monotonic = monotonic
        self._refreshed_at: float | None = None

    @classmethod
    def fixed(cls, keys: DeploymentKeys) -> "DeploymentSecrets":
        """Values given in the settings (tests, a laptop without a deployment secret)."""
        return cls(lambda fresh: keys)

    @classmethod
    def in_secrets_manager(
        cls, client: SecretsManagerClient, name: str, cache_seconds: int
    ) -> "DeploymentSecrets":
        provider = SecretsProvider(boto3_client=client)
        validated = ValidatedDocuments(DeploymentKeys)

        def read(fresh: bool) -> DeploymentKeys:
            try:
                document = provider.get(
                    name, max_age=cache_seconds, transform="json", force_fetch=fresh
                )
            except (GetParameterError, TransformParameterError) as error:
                logger.error("deployment secret unreadable", exception_name=type(error).__name__)
                raise Retryable("the deployment's secret is unavailable") from error
            try:
                return validated(name, document)
            except ValidationError as error:
                # Field names only: the values are secrets.
                fields = sorted({".".join(map(str, e["loc"])) for e in error.errors()})
                logger.error("deployment secret unreadable", fields=fields)
                raise Retryable("the deployment's secret is unavailable") from error

        return cls(read)

    def current(self) -> DeploymentKeys:
        return self._read(False)

    def checked(self, check: Callable[[DeploymentKeys], T]) -> T:
        """`check(keys)`; a refusal (Forbidden, Unauthorized) is checked once more against
        the secret read afresh, if it changed."""
        keys = self.current()
        try:
            return check(keys)
        except (Forbidden, Unauthorized):
            now = self._monotonic()
            last = self._refreshed_at
            if last is not None and now - last < REFRESH_AFTER_REFUSAL_SECONDS:
                raise
            self._refreshed_at = now
            fresh = self._read(True)
            if fresh == keys:
                raise
            return check(fresh)

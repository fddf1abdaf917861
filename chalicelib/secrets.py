"""Shops' secrets (Slack bot token, Twilio auth token) in AWS Secrets Manager.

One secret per shop, a JSON document, named `<prefix><shop id>`. Reads go through
powertools Parameters, so a warm Lambda fetches each shop's secrets once per cache period;
nothing here ever logs or returns a secret's value in plain text.
"""

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.exceptions import ClientError

from chalicelib.domain.shop import ShopSecrets

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient
else:
    SecretsManagerClient = Any


class SecretVault:
    def __init__(self, client: SecretsManagerClient, prefix: str, cache_seconds: int) -> None:
        self._client = client
        self._prefix = prefix
        self._cache_seconds = cache_seconds
        self._provider = SecretsProvider(boto3_client=client)

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
        return ShopSecrets.model_validate(document)

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
            )
            if value is not None
        }
    )

"""The media bucket: customers' attachments and agents' files, kept in S3.

Keys are `<shop>/inbound/<message key>/<n>-<file name>` (a mail's:
`<shop>/inbound/<message key>/<SES message id>/<n>-<file name>`, kept on arrival) and
`<shop>/outbound/<Slack file id>/<file name>`: a retried job writes the same object again.
SES writes each received mail under `inbound-mail/<SES message id>`; a mail sent to several
shops is the first one's, and each other one gets its own copy,
`inbound-mail/<shop>/<SES message id>`.

Presigned URLs are signed with the function's session credentials, and stop working when
that session ends (within hours), whatever they say. That suits a provider: Twilio fetches
an agent's file and keeps its own copy when it takes the message, seconds after it is
handed the URL, and the customer gets Twilio's copy. A customer who is sent a link gets one
to Threadline instead (`chalicelib.domain.media_links`), which lasts the week promised and
answers with a URL presigned for the moment.

An object of a shop with a retention period is tagged `threadline-retention-days=<days>`;
the bucket's lifecycle rules (one per allowed period, infra/template.json) expire it.
"""

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from chalicelib.channels.base import MediaFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

FOR_PROVIDER_SECONDS = 24 * 3600
# A customer's browser follows the redirect at once.
FOR_REDIRECT_SECONDS = 5 * 60
RETENTION_TAG = "threadline-retention-days"


class MediaStore:
    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def url(self, key: str) -> str:
        """How an attachment is named in a queued message."""
        return f"s3://{self._bucket}/{key}"

    def holds(self, url: str) -> bool:
        """Whether `url` names an object of this bucket already."""
        return url.startswith(self.url(""))

    def read(self, bucket: str, key: str) -> bytes:
        """A stored object whole: a received mail's raw MIME (up to SES's 40 MB)."""
        return bytes(self._client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def erase(self, bucket: str, keys_or_prefixes: list[str]) -> int:
        """Deletes objects, each named or under a prefix ending in `/`; returns how many."""
        keys = [k for k in keys_or_prefixes if not k.endswith("/")]
        for prefix in (p for p in keys_or_prefixes if p.endswith("/")):
            listed = self._client.list_objects_v2(Bucket=bucket, Prefix=prefix)
            keys += [item["Key"] for item in listed.get("Contents", [])]
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            self._client.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": key} for key in chunk], "Quiet": True}
            )
        return len(keys)

    @property
    def bucket(self) -> str:
        return self._bucket

    def keep(self, key: str, file: MediaFile, *, retention_days: int | None = None) -> None:
        tagged = {} if retention_days is None else {"Tagging": f"{RETENTION_TAG}={retention_days}"}
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=file.content,
            ContentType=file.content_type,
            ServerSideEncryption="AES256",
            **tagged,
        )

    def expire_after(self, bucket: str, key: str, retention_days: int) -> None:
        """Tags an object stored by someone else (SES's raw mail) to expire like ours."""
        self._client.put_object_tagging(
            Bucket=bucket,
            Key=key,
            Tagging={"TagSet": [{"Key": RETENTION_TAG, "Value": str(retention_days)}]},
        )

    def copy(self, bucket: str, key: str, to_key: str, *, retention_days: int | None) -> None:
        """Copies an object stored by someone else (SES's raw mail) within its bucket, S3 to S3,
        tagged for its own retention only (never the tags of what it copies)."""
        tagged = {} if retention_days is None else {"Tagging": f"{RETENTION_TAG}={retention_days}"}
        self._client.copy_object(
            Bucket=bucket,
            Key=to_key,
            CopySource={"Bucket": bucket, "Key": key},
            TaggingDirective="REPLACE",
            ServerSideEncryption="AES256",
            **tagged,
        )

    def exists(self, key: str) -> bool:
        """Whether the object is still there (not erased, not expired). S3 answers 404 for a
        missing key only to a caller who may list the bucket; others get 403."""
        try:
            self._client.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey"):
                return False
            raise
        return True

    def share(self, key: str, seconds: int = FOR_PROVIDER_SECONDS) -> str:
        return str(
            self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=seconds
            )
        )

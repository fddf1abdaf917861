"""The media bucket: customers' attachments and agents' files, kept in S3.

Keys are `<shop>/inbound/<message key>/<n>-<file name>` (a mail's:
`<shop>/inbound/<message key>/<SES message id>/<n>-<file name>`, kept on arrival) and
`<shop>/outbound/<Slack file id>/<file name>`: a retried job writes the same object again.
A provider fetches an agent's file through a presigned URL valid for a day; a link in a
customer's text lasts a week (SigV4's longest).

An object of a shop with a retention period is tagged `threadline-retention-days=<days>`;
the bucket's lifecycle rules (one per allowed period, infra/template.json) expire it.
"""

from typing import TYPE_CHECKING, Any

from chalicelib.channels.base import MediaFile

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
else:
    S3Client = Any

FOR_PROVIDER_SECONDS = 24 * 3600
FOR_CUSTOMER_SECONDS = 7 * 24 * 3600
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

    def share(self, key: str, seconds: int = FOR_PROVIDER_SECONDS) -> str:
        return str(
            self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=seconds
            )
        )

"""S3 adapter: presigned URLs for the browser, bounded reads and writes for the processor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    head: bytes  # the first bytes, enough to sniff the format
    body: bytes | None  # None when the object is larger than the reader's limit


class ObjectStore:
    def __init__(self, client: Any, bucket: str) -> None:
        """``client`` is a boto3 S3 client."""
        self._s3 = client
        self.bucket = bucket

    def presigned_put(self, key: str, content_type: str, expires_in: int, content_length: int | None = None) -> str:
        """A PUT URL with Content-Type signed, and Content-Length too when the size is known: S3 then refuses a
        body of any other size (without it, one URL accepts up to 5 GB, as often as it is used until it expires)."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "ContentType": content_type}
        if content_length is not None:
            params["ContentLength"] = content_length
        return self._s3.generate_presigned_url("put_object", Params=params, ExpiresIn=expires_in)

    def presigned_post(self, key: str, content_type: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        return self._s3.generate_presigned_post(
            Bucket=self.bucket,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, max_bytes]],
            ExpiresIn=expires_in,
        )

    def presigned_get(self, key: str, expires_in: int) -> str:
        return self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def read(self, key: str, max_bytes: int, sniff_bytes: int = 512) -> StoredObject | None:
        """The object, or only its size and first bytes when it is over ``max_bytes``; None if it is gone.

        One request: the size comes with the response headers, and an oversized body is never read in full."""
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        size = int(response["ContentLength"])
        stream = response["Body"]
        if size > max_bytes:
            head = stream.read(sniff_bytes)
            stream.close()
            return StoredObject(key, size, head, None)
        body = stream.read()
        return StoredObject(key, len(body), body[:sniff_bytes], body)

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored. S3 answers 403 instead of 404 for a missing key when the caller may not list
        the bucket (our roles may not): both mean "not there" to a caller that may read the key."""
        try:
            self._s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("403", "404", "NoSuchKey", "NotFound", "AccessDenied"):
                return False
            raise
        return True

    def read_all(self, key: str) -> bytes:
        return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def write(self, key: str, data: bytes, content_type: str) -> None:
        self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def delete(self, key: str) -> None:
        """Idempotent: deleting a key that is gone succeeds."""
        self._s3.delete_object(Bucket=self.bucket, Key=key)

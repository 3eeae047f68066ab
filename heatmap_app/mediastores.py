"""Where snapshot bytes live: a local folder (MEDIA_ROOT, the default) or an S3-compatible bucket (MEDIA_STORE=s3).

A store writes whole objects or nothing (temp file + rename; an S3 PUT is atomic by itself), under keys the
server generates, and answers a stored JPEG as an HTTP response: the bytes streamed, an `X-Accel-Redirect`
for nginx to send a local file itself, or a redirect to a short-lived presigned URL of the bucket.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from botocore.exceptions import BotoCoreError, ClientError
from flask import Response, redirect, send_file

from heatmap_app.capture.run import write_atomically

# A file system out of space (or of the user's quota) answers with one of these.
NO_SPACE_ERRORS = (errno.ENOSPC, errno.EDQUOT)
# What S3-compatible servers answer when a bucket or a disk is full (MinIO, Ceph RGW, quota'd buckets).
S3_FULL_CODES = {"XMinioStorageFull", "QuotaExceeded", "StorageFull", "XMinioAdminBucketQuotaExceeded"}
STREAM_CHUNK = 64 * 1024


class MediaStoreError(ValueError):
    """A key that does not name an object of this store."""


class MissingObject(LookupError):
    """The key names no object (any more: a newer capture replaced it)."""


class NoRoom(Exception):
    """The store has no room left for an object."""


class MediaStore(Protocol):
    def put(self, key: str, data: bytes) -> None:
        """Store `data` whole under `key` (or raise NoRoom / the store's error, leaving nothing)."""

    def read(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove `key`; a missing one is not an error."""

    def keys(self) -> list[str]:
        """Every key in the store (for tests and operators; not on a request path)."""

    def check(self) -> None:
        """Raise unless the store answers now (for /readyz)."""

    def response(self, key: str, headers: Mapping[str, str], *, etag: str, max_age: int) -> Response:
        """The object as a JPEG response carrying `headers`; MissingObject when it is gone (replaced meanwhile)."""


class LocalMediaStore:
    """Files under `root`; with `accel_prefix` the response is an X-Accel-Redirect to `accel_prefix + key`."""

    def __init__(self, root: str | Path, *, accel_prefix: str | None = None) -> None:
        self.root = Path(root).resolve()
        self.accel_prefix = accel_prefix

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if not path.is_relative_to(self.root):
            raise MediaStoreError(f"{key!r} is outside the media root.")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self.path(key)
        try:
            write_atomically(path, data)
        except OSError as error:
            if error.errno in NO_SPACE_ERRORS:
                raise NoRoom() from error
            raise

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def keys(self) -> list[str]:
        return sorted(str(path.relative_to(self.root)) for path in self.root.rglob("*") if path.is_file())

    def check(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            raise OSError(f"{self.root} is not a folder")

    def response(self, key: str, headers: Mapping[str, str], *, etag: str, max_age: int) -> Response:
        path = self.path(key)
        if not path.is_file():
            raise MissingObject(key)
        if self.accel_prefix is not None:
            response = Response(status=200, mimetype="image/jpeg")
            response.headers["X-Accel-Redirect"] = self.accel_prefix + quote(key)
            response.set_etag(etag)
        else:
            response = send_file(path, mimetype="image/jpeg", etag=etag, max_age=max_age, conditional=False)
        response.headers.update(headers)
        return response


class S3MediaStore:
    """Objects under `prefix` in `bucket`; with `presign_ttl` the response redirects to a presigned GET URL."""

    def __init__(self, client: Any, bucket: str, prefix: str = "", *, presign_ttl: int | None = None) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.presign_ttl = presign_ttl

    def _key(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise MediaStoreError(f"{key!r} is not a media key.")
        return self.prefix + key

    def put(self, key: str, data: bytes) -> None:
        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data, ContentType="image/jpeg")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in S3_FULL_CODES:
                raise NoRoom() from error
            raise

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self) -> list[str]:
        found: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            found.extend(item["Key"].removeprefix(self.prefix) for item in page.get("Contents", []))
        return sorted(found)

    def check(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)

    def response(self, key: str, headers: Mapping[str, str], *, etag: str, max_age: int) -> Response:
        if self.presign_ttl is not None:
            url = self.client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key), "ResponseContentType": "image/jpeg",
                        "ResponseContentDisposition": headers.get("Content-Disposition", "inline")},
                ExpiresIn=self.presign_ttl,
            )
            response = redirect(url, code=302)
            # The redirect must not outlive the URL it points to.
            response.headers.update({name: value for name, value in headers.items() if name != "Cache-Control"})
            response.headers["Cache-Control"] = f"private, max-age={min(max_age, self.presign_ttl // 2)}"
            return response
        try:
            stored = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey"}:
                raise MissingObject(key) from None
            raise
        body = stored["Body"]

        def chunks() -> Iterator[bytes]:
            try:
                yield from body.iter_chunks(STREAM_CHUNK)
            finally:
                body.close()

        response = Response(chunks(), status=200, mimetype="image/jpeg")
        response.content_length = stored["ContentLength"]
        response.set_etag(etag)
        response.headers.update(headers)
        return response


def s3_client(config: Mapping[str, Any]) -> Any:
    # Imported here: boto3 takes a quarter of a second to import, which installs on a local folder need not pay.
    import boto3
    from botocore.config import Config as BotoConfig

    return boto3.client(
        "s3",
        endpoint_url=config["S3_ENDPOINT_URL"],
        region_name=config["S3_REGION"],
        aws_access_key_id=config["S3_ACCESS_KEY_ID"],
        aws_secret_access_key=config["S3_SECRET_ACCESS_KEY"],
        config=BotoConfig(signature_version="s3v4", connect_timeout=5, read_timeout=20,
                          retries={"max_attempts": 3, "mode": "standard"},
                          s3={"addressing_style": "path"} if config["S3_ENDPOINT_URL"] else None),
    )


def build_media_store(config: Mapping[str, Any]) -> MediaStore:
    if config["MEDIA_STORE"] == "s3":
        return S3MediaStore(s3_client(config), config["S3_BUCKET"], config["S3_PREFIX"],
                            presign_ttl=config["S3_PRESIGNED_TTL"] if config["S3_PRESIGNED_REDIRECT"] else None)
    return LocalMediaStore(config["MEDIA_ROOT"], accel_prefix=config["MEDIA_ACCEL_REDIRECT_PREFIX"])


STORE_ERRORS = (OSError, BotoCoreError, ClientError, MediaStoreError)

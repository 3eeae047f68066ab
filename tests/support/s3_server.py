"""moto's standalone S3-compatible server, started by a test on a free port, with a bucket to store media in."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.redis_server import free_port

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"
BUCKET = "heatmap-media"


@dataclass
class S3Server:
    endpoint_url: str
    bucket: str
    process: subprocess.Popen[bytes]

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name="us-east-1",
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                            config=Config(s3={"addressing_style": "path"}))

    def settings(self, prefix: str = "media") -> dict[str, Any]:
        """The app settings of a media store in this server's bucket."""
        return {"MEDIA_STORE": "s3", "S3_BUCKET": self.bucket, "S3_PREFIX": f"{prefix}/" if prefix else "",
                "S3_ENDPOINT_URL": self.endpoint_url, "S3_REGION": "us-east-1",
                "S3_ACCESS_KEY_ID": ACCESS_KEY, "S3_SECRET_ACCESS_KEY": SECRET_KEY}

    def stop(self) -> None:
        """An outage: the server ends (and its objects with it)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def keys(self, prefix: str = "") -> list[str]:
        listing = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))


@contextmanager
def s3_server(host: str = "127.0.0.1") -> Iterator[S3Server]:
    """`moto_server` listening on `host` (an address other network namespaces can reach, when they must)."""
    port = free_port()
    executable = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
    assert executable, "moto_server is not installed (moto[server] in requirements-dev.txt)"
    process = subprocess.Popen([executable, "-H", host, "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = S3Server(f"http://{host}:{port}", BUCKET, process)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.client().create_bucket(Bucket=BUCKET)
                break
            except (BotoCoreError, ClientError):
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"moto_server did not start on {host}:{port}") from None
                time.sleep(0.2)
        yield server
    finally:
        server.stop()

"""A real S3 server on loopback for the object-storage tests and benchmark: moto's S3 backend,
served over HTTP by werkzeug in a thread of this process, on a port of its own choosing, with
every request it answers counted (method, bucket, key), so that request budgets are measured
at the server, not guessed from the client."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "audioaug-test-key",
    "AWS_SECRET_ACCESS_KEY": "audioaug-test-secret-5e2f9c",  # a test's own: checked to appear nowhere
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True)
class Request:
    method: str
    bucket: str
    key: str
    query: dict[str, list[str]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """GET (an object), PUT, DELETE, HEAD, LIST (a bucket listing), or POST (a batch delete...)."""
        if self.method == "GET" and not self.key:
            return "LIST"
        return self.method


class S3Server:
    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            def log_request(self, *args: Any) -> None:
                pass

        app = DomainDispatcherApplication(create_backend_app)
        self.requests: list[Request] = []
        self._lock = threading.Lock()

        def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            path = unquote(environ.get("PATH_INFO", "")).lstrip("/")
            bucket, _slash, key = path.partition("/")
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            with self._lock:
                self.requests.append(Request(environ["REQUEST_METHOD"], bucket, key, query))
            result: Iterable[bytes] = app(environ, start_response)
            return result

        self._server = make_server("127.0.0.1", 0, counting, threaded=True, request_handler=Quiet)
        self.endpoint = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-server", daemon=True)
        self._thread.start()

    def env(self) -> dict[str, str]:
        """What a process needs to reach this server with s3fs: the endpoint and credentials."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.endpoint}

    def new_bucket(self) -> str:
        import boto3

        name = f"audioaug-{uuid.uuid4().hex[:12]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials())
        client.create_bucket(Bucket=name)
        return name

    def count(self, bucket: str, since: int = 0) -> Counter[str]:
        """Requests on a bucket since request number ``since``, by kind."""
        with self._lock:
            return Counter(r.kind for r in self.requests[since:] if r.bucket == bucket)

    def made(self, bucket: str, since: int = 0) -> list[Request]:
        with self._lock:
            return [r for r in self.requests[since:] if r.bucket == bucket]

    def mark(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": CREDENTIALS["AWS_DEFAULT_REGION"],
    }

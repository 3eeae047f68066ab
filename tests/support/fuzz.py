"""A bounded schemathesis run against a served app (real HTTP), counting requests and server errors.

Each operation is fuzzed in three ways, each with generated (positive) and schema-breaking (negative) input:
- `fixed`: every path parameter names real rows (the key's project, a heatmap of it), so views do their work;
  the answers are also checked against the schema;
- `project fixed`: the real project, any heatmap id (a lookup of whatever was generated);
- `free`: every path parameter generated, the project id included (the id parser, routing).
Then the hand-made inputs of tests.support.bad_input are sent. Used by tests/api/test_schema.py (with a
small bound in the suite, a larger one by hand).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from tests.support.bad_input import API_CASES, send

CONFORMANCE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Negative cases may add any header. These frame the message, which the web server (gunicorn) reads before
# the app sees it: it answers an unknown Transfer-Encoding with 501, as RFC 9112 asks, an Expect it cannot meet
# with 417. They are the transport's input, not the API's, and are left out.
FRAMING_HEADERS = {"transfer-encoding", "content-length", "expect", "connection", "te", "trailer", "upgrade", "host"}
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
PHASES = ("fixed", "project fixed", "free")
TIMEOUT = 30

# Rows for one operation: {"project_id", "short_id", "id"} of a fresh heatmap (a DELETE must not spoil the others).
MakeRows = Callable[[], Mapping[str, str]]


@dataclass
class FuzzResult:
    requests: int = 0
    server_errors: list[str] = field(default_factory=list)
    check_failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        return (f"{self.requests} requests in {self.seconds:.0f} s: {len(self.server_errors)} server errors, "
                f"{len(self.check_failures)} schema check failures")


def _path_parameters(phase: str, rows: Mapping[str, str], path: str) -> dict[str, str]:
    wanted = {"fixed": ("project_id", "short_id", "id"), "project fixed": ("project_id",), "free": ()}[phase]
    return {name: rows[name] for name in wanted if f"{{{name}}}" in path}


def fuzz_api(base_url: str, headers: Mapping[str, str], make_rows: MakeRows, *, examples: int) -> FuzzResult:
    """Fuzz every operation of the served schema with at most `examples` cases per operation, mode and phase."""
    started = time.monotonic()
    result = FuzzResult()
    schema = schemathesis.openapi.from_url(f"{base_url}/api/schema/", timeout=TIMEOUT)
    session = requests.Session()
    session.headers.update(headers)

    def run(case: schemathesis.Case, checks: list[Any]) -> None:
        for name in [name for name in case.headers if name.lower() in FRAMING_HEADERS]:
            del case.headers[name]
        response = case.call(base_url=base_url, session=session, headers=dict(headers), timeout=TIMEOUT)
        result.requests += 1
        reproduce = case.as_curl_command(headers=dict(headers))
        if response.status_code >= 500:
            result.server_errors.append(f"{response.status_code}: {reproduce}")
            return
        try:
            case.validate_response(response, checks=checks, headers=dict(headers))
        except Exception as failure:  # schemathesis raises its own failure types, grouped
            result.check_failures.append(f"{str(failure).strip()[:500]}\n    {reproduce}")

    for operation in (item.ok() for item in schema.get_all_operations()):
        for phase in PHASES:
            for mode in MODES:
                rows = make_rows()
                checks = CONFORMANCE_CHECKS if phase == "fixed" else [not_a_server_error]
                strategy = operation.as_strategy(
                    generation_mode=mode, path_parameters=_path_parameters(phase, rows, operation.path)
                )

                @given(case=strategy)
                @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                          suppress_health_check=list(HealthCheck))
                def exercise(case: schemathesis.Case) -> None:
                    run(case, checks)

                exercise()

    rows = make_rows()
    known = {"project": rows["project_id"], "short_id": rows["short_id"], "id": rows["id"]}
    for hand_made in API_CASES:
        answer = send(session, base_url, hand_made, known)
        result.requests += 1
        if answer.status >= 500:
            result.server_errors.append(f"{answer.status}: hand-made {hand_made.name}")
    result.seconds = time.monotonic() - started
    return result

"""Property-based run of the app's own OpenAPI schema: no 5xx, and every response conforms.

In-process ASGI (no sockets), a fake engine (tests/fakes.py), a seeded key with a large balance so
that generated requests reach the pricing, ledger and job code instead of stopping at auth. The
example count is bounded and the run derandomized, so it is reproducible and stays well under 90 s.

The schema is built at import from ``app.openapi()`` (cheap: the app's lifespan -- database,
job runner -- only starts with the first request); the data directory is a fresh temporary one.
``schemathesis.pytest.from_fixture`` would be the natural shape but does not work with pytest 9.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import checks as st_checks

from fakes import FakeEngine, make_settings
from pixelforge.api import create_app

MAX_EXAMPLES = 40
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]

_WORK = Path(tempfile.mkdtemp(prefix="pixelforge-schemathesis-"))
APP = create_app(make_settings(_WORK / "data", job_workers=1), engine=FakeEngine(steps=1))
schema = schemathesis.openapi.from_dict(APP.openapi())
schema.app = APP  # in-process ASGI transport, as schemathesis.openapi.from_asgi does


@pytest.fixture(scope="module")
def seeded_key() -> Iterator[str]:
    from schemathesis.python import asgi

    from pixelforge.store import keys, usd_to_micros

    with asgi.get_client(APP):  # starts the lifespan (kept for the module, shared with the cases)
        ctx = APP.state.ctx
        account = keys.create_account(ctx.db, "schemathesis", initial_micros=usd_to_micros("100000"))
        _, raw_key = keys.create_key(ctx.db, account.id, "schemathesis")
    try:
        yield raw_key
    finally:
        asgi.shutdown_lifespans()  # the app's shutdown: job runner stopped, database disposed
        shutil.rmtree(_WORK, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_schema(case: schemathesis.Case, seeded_key: str) -> None:
    case.headers = {**(case.headers or {}), "X-RD-Token": seeded_key}  # get past auth
    case.call_and_validate(checks=CHECKS)

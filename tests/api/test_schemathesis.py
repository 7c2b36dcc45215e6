"""Property test of the whole API against its own OpenAPI document (schemathesis).

For every operation under ``/api/v1``, schemathesis draws requests from the document (valid
ones and, in its negative mode, invalid ones) and checks each answer: no 5xx, a documented
status code and content type, a body that matches the documented schema. The requests are
sent as a demo analyst (an API token), and as an admin for the routes only admins may use, on
a SQLite world of agencies, accounts and incidents. A bounded, derandomised number of
examples per operation keeps the run reproducible and short.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode
from sqlalchemy import Engine
from tests.api.conftest import OPERATOR, World, build_world
from tests.conftest import sqlite_store

from safestreets.access.accounts import create_token

#: Operations answered for admins (an analyst would only ever get 403 there).
ADMIN_OPERATIONS = frozenset(
    {"summary", "list_users", "create_user", "get_user", "update_user", "list_audit",
     "verify_audit", "get_audit_anchor"}
)  # fmt: skip


@pytest.fixture(scope="module")
def api_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    tmp = tmp_path_factory.mktemp("schemathesis")
    engine: Engine = sqlite_store(tmp / "t.sqlite")
    return build_world(engine, tmp)


#: Operations that answer 400 (with the envelope and a hint) to some requests the schema
#: allows but the data cannot serve: a grid too large for the events' extent, a breakdown the
#: indicator does not have, a date range that ends before it starts, a file that cannot be
#: read. Schemathesis accepts 400 from these and from no other.
DATA_DEPENDENT_400 = (
    "get_hotspots", "get_indicator", "list_incidents", "ingest",
    # An alert the schema allows may still fail validation (an unknown ICCS code, a
    # validity that ends before it starts); a query may name no field at all; a request
    # may be decided already or need a query that hit.
    "create_alert", "update_alert", "hit_query", "file_request", "decide_request",
)  # fmt: skip
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]


@pytest.fixture(scope="module")
def api_schema(api_world: World) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "operations": [
                {
                    "include-operation-id": op,
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*POSITIVE_STATUSES, "400"]
                        }
                    },
                }
                for op in DATA_DEPENDENT_400
            ]
        }
    )
    return schemathesis.openapi.from_asgi("/openapi.json", api_world.client.app, config=config)


#: Every operation under /api/v1 except the public map's (test_contract locks the list).
OPERATIONS = (
    "health", "summary", "create_token", "logout", "me", "list_agencies", "create_agency",
    "list_users", "create_user", "get_user", "update_user", "list_incidents", "get_incident",
    "list_profiles", "ingest", "list_indicators", "get_indicator", "get_hotspots",
    "list_audit", "verify_audit", "get_audit_anchor", "create_alert", "list_alerts",
    "get_alert", "update_alert", "list_searches", "hit_query", "file_request", "list_requests",
    "decide_request", "request_details",
)  # fmt: skip
#: Operations answered for liaison officers (the alert exchange's users).
LIAISON_OPERATIONS = frozenset(
    {"create_alert", "update_alert", "list_searches", "hit_query", "file_request",
     "decide_request", "list_requests", "request_details"}
)  # fmt: skip


# The strategies are driven with Hypothesis directly: schemathesis' lazy pytest loader
# (``from_fixture``) does not run under pytest 9, and a schema loaded at import time would
# build a database whenever the module is collected.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("operation_id", OPERATIONS)
def test_api_conforms_to_its_openapi_document(
    api_schema: Any, api_world: World, operation_id: str, mode: GenerationMode
) -> None:
    operation = api_schema.find_operation_by_id(operation_id)
    raw = operation.definition.raw
    if mode is GenerationMode.NEGATIVE and not (raw.get("parameters") or raw.get("requestBody")):
        pytest.skip("no parameter or body to make invalid")
    user = "gt-admin" if operation_id in ADMIN_OPERATIONS else "gt-analyst"
    if operation_id in LIAISON_OPERATIONS:
        user = "gt-liaison"

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        token = api_world.tokens[user]
        if operation_id == "logout":
            # Logging out revokes the token: give each call one of its own.
            with api_world.engine.begin() as conn:
                token = create_token(conn, OPERATOR, user).secret
        response = case.call_and_validate(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500

    check()


def test_the_run_covers_every_operation(api_schema: Any) -> None:
    # The public map's routes (/api/v1/public/...) are tested with their own data.
    ops = {
        op.definition.raw["operationId"]
        for op in (result.ok() for result in api_schema.get_all_operations())
        if not op.path.startswith("/api/v1/public/")
    }
    assert ops == set(OPERATIONS)

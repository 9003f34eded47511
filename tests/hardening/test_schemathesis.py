"""API: schemathesis over every OpenAPI operation (the service's and the lakeFS-compatible
sub-app's), bounded for CI (the long run: ``./run fuzz api``). No 5xx, no response that breaks
its documented schema, stateful links included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse

from tests.hardening.fuzz_api import Report, check_operations, lakefs_app, run, service

CI_EXAMPLES = 10  # per operation
CI_STATEFUL_STEPS = 200
CI_LAKEFS_EXAMPLES = 4  # per operation of the lakeFS-compatible sub-app


def test_every_operation_without_server_errors_or_schema_violations(tmp_path: Path) -> None:
    report = run(
        tmp_path / "data",
        max_examples=CI_EXAMPLES,
        stateful_steps=CI_STATEFUL_STEPS,
        lakefs_examples=CI_LAKEFS_EXAMPLES,
    )
    failures = "\n\n".join(f"== {label}\n{text}" for label, text in report.failures.items())
    assert report.failures == {}, failures
    with service(tmp_path / "again") as (app, _):
        documented = {
            f"{prefix}{method.upper()} {path}"
            for prefix, each in (("", app), ("lakefs ", lakefs_app(app)))
            for path, item in each.openapi()["paths"].items()
            for method in item
        }
    assert set(report.operations) == documented  # every operation of both APIs was exercised
    assert sum(label.startswith("lakefs ") for label in documented) >= 40
    assert report.examples >= len(documented) * 3
    assert report.links > 0, report.line()
    assert report.stateful_steps > 0, report.line()


class Shape(BaseModel):
    id: int


def test_the_run_catches_server_errors_and_schema_violations(tmp_path: Path) -> None:
    """The same machinery flags a 500 and a response that breaks its schema."""
    with service(tmp_path / "data") as (app, _):

        @app.get("/hardening/boom")
        async def boom() -> Shape:
            raise RuntimeError("boom")

        @app.get("/hardening/wrong-shape", response_model=Shape)
        async def wrong_shape() -> Any:
            return JSONResponse({"id": "not an int"})  # documented as Shape, answers otherwise

        app.openapi_schema = None
        report = Report()
        check_operations(app, {}, 5, report, only="/hardening/")
    # The in-process transport re-raises the app's exception: that is how a 500 shows.
    assert "RuntimeError: boom" in report.failures.get("GET /hardening/boom", "")
    assert "Response violates schema" in report.failures.get("GET /hardening/wrong-shape", "")
    assert sorted(report.operations) == ["GET /hardening/boom", "GET /hardening/wrong-shape"]

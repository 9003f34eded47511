"""schemathesis over every operation of the service's OpenAPI, on the embedded store.

Used twice: ``test_schemathesis.py`` runs it bounded on every CI run, and the long run is

    ./run fuzz api [--max-examples 1000] [--stateful-steps 2000] [--lakefs-examples 1000]
    .venv/bin/python -m tests.hardening.fuzz_api --max-examples 1000

Each operation gets ``max_examples`` generated requests (positive and negative data,
derandomized), sent in-process to the ASGI app with a valid bearer token. The checks are the
issue's: no server error (``not_a_server_error``) and every response matching its documented
schema (``response_schema_conformance``). Then a stateful run follows the links schemathesis
infers between operations (create a tag → get, update, assign, delete it…), and the
lakeFS-compatible sub-app's own OpenAPI is run the same way with basic auth. Failures are
collected per operation, with a reproducer, rather than stopping at the first.
"""

from __future__ import annotations

import argparse
import base64
import importlib
import pkgutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.http.app import create_app
from sartiq_storage.services.context import StorageContext, build_context
from sartiq_storage.testing.media import image_bytes


def _import_all(package: str) -> None:
    """Import every submodule now, on this thread, instead of lazily during a run.

    Under pytest, schemathesis and hypothesis are plugins, so their modules are imported
    through assertion rewriting, which calls ``ast.parse``. On CPython 3.11.7 that keeps its
    recursion counter in shared state, and two threads parsing at once fail with
    "SystemError: AST constructor recursion depth mismatch" (fixed in 3.11.8). A run
    imports lazily from several threads, so it failed now and then; imported up front,
    nothing is parsed during the run.
    """
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        try:
            importlib.import_module(module.name)
        except Exception:  # optional integrations (Django, Flask…) may not import here
            continue


_import_all("schemathesis")
importlib.import_module("hypothesis.stateful")
_import_all("hypothesis.strategies")


def _header(response: Any, name: str) -> str:
    for key, value in response.headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return ""


@schemathesis.check
def json_is_never_cached(ctx: Any, response: Any, case: Any) -> bool | None:
    """The seed's CDN table: "API responses: no cache". Every JSON answer, errors too."""
    if _header(response, "content-type").startswith("application/json"):
        cache = _header(response, "cache-control")
        if cache != "no-store":
            raise AssertionError(f"JSON answered with Cache-Control {cache!r}, not no-store")
    return None


CHECKS = [not_a_server_error, response_schema_conformance, json_is_never_cached]


@dataclass
class Report:
    operations: list[str] = field(default_factory=list)
    examples: int = 0
    stateful_steps: int = 0
    links: int = 0
    failures: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"operations={len(self.operations)} examples={self.examples} "
            f"links={self.links} stateful_steps={self.stateful_steps} "
            f"failures={len(self.failures)} "
            f"seconds={self.seconds:.1f}"
        )


@contextmanager
def service(data_dir: Path) -> Iterator[tuple[Any, StorageContext]]:
    """The real app on the embedded store (local disk, SQLite) in ``data_dir``."""
    settings = load_settings(
        _env_file=None,
        ENVIRONMENT="development",
        STORAGE_BACKEND="local",
        STORAGE_DATA_DIR=data_dir,
        STORAGE_SERVICE_URL="http://testserver",
        AUTH_JWT_SECRET="schemathesis-" + "z" * 40,
        CDN_URL=None,
        DATABASE_URL=None,
        R2_ENDPOINT_URL=None,
        R2_ACCESS_KEY_ID=None,
        R2_SECRET_ACCESS_KEY=None,
    )
    context = build_context(settings, migrate=True)
    # A little real content, so reads and links have something to find.
    png = image_bytes("png")
    context.store.put("compute/generations/seed/result_0.png", png, content_type="image/png")
    context.store.put("media/seed/file.png", png, content_type="image/png")
    try:
        yield create_app(context=context), context
    finally:
        context.close()


def _settings(max_examples: int) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


def check_operations(
    app: Any,
    headers: dict[str, str],
    max_examples: int,
    report: Report,
    *,
    schema_path: str = "/openapi.json",
    only: str | None = None,
    prefix: str = "",
    verbose: bool = False,
    checks: list[Any] = CHECKS,
) -> Any:
    """Every operation of ``app``'s OpenAPI (or those whose label contains ``only``),
    ``max_examples`` generated requests each."""
    schema = schemathesis.openapi.from_asgi(schema_path, app)
    for result in schema.get_all_operations():
        operation = result.ok()
        label = prefix + operation.label
        if only is not None and only not in label:
            continue
        report.operations.append(label)
        calls = 0

        @_settings(max_examples)
        @given(case=operation.as_strategy())
        def one(case: schemathesis.Case) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(headers=headers, checks=checks)

        try:
            one()
        except (Exception, BaseExceptionGroup) as exc:
            report.failures[label] = f"{type(exc).__name__}: {exc}"[:4000]
        report.examples += calls
        if verbose:
            print(f"{label}: {calls} examples", flush=True)
    return schema


def run(
    data_dir: Path,
    *,
    max_examples: int,
    stateful_steps: int,
    lakefs_examples: int = 0,
    verbose: bool = False,
) -> Report:
    """The service's OpenAPI (bearer token), then, with ``lakefs_examples``, the lakeFS-
    compatible sub-app's own OpenAPI (basic auth), labelled ``lakefs GET /…``."""
    report = Report()
    start = time.perf_counter()
    with service(data_dir) as (app, context):
        from sartiq_storage.core.tokens import issue_token

        auth = {"Authorization": f"Bearer {issue_token(context.jwt_secret, 'schemathesis')}"}
        schema = check_operations(app, auth, max_examples, report, verbose=verbose)
        if stateful_steps:
            report.stateful_steps = _stateful(schema, auth, stateful_steps, report)
        if lakefs_examples:
            pair = f"{context.datasets_access_key_id}:{context.datasets_secret_access_key}"
            basic = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
            # The sub-app runs bare here, outside the service's ASGI layers: its no-store is
            # checked through the service (tests/end_to_end/test_http_surface.py).
            check_operations(
                lakefs_app(app),
                basic,
                lakefs_examples,
                report,
                prefix="lakefs ",
                verbose=verbose,
                checks=CHECKS[:-1],
            )
    report.seconds = time.perf_counter() - start
    return report


def lakefs_app(app: Any) -> Any:
    from starlette.routing import Mount

    from sartiq_storage.interfaces.http.lakefs import LAKEFS_API_PREFIX
    from tests.support.routes import iter_routes

    mounts = [m for m in iter_routes(app.routes) if isinstance(m, Mount)]
    return next(m.app for m in mounts if m.path == LAKEFS_API_PREFIX)


def links(schema: Any) -> list[str]:
    """The links (``producer → consumer``) schemathesis inferred between operations."""
    machine = schema.as_state_machine()
    return [name for name in dir(machine) if "___" in name and not name.startswith("_")]


def _stateful(schema: Any, auth: dict[str, str], steps: int, report: Report) -> int:
    machine = schema.as_state_machine()
    report.links = len(links(schema))
    count = 0

    class Machine(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
            return {"headers": auth}

        def validate_response(
            self, response: Any, case: schemathesis.Case, additional_checks: Any = None, **kw: Any
        ) -> None:
            nonlocal count
            count += 1
            case.validate_response(response, checks=CHECKS, headers=auth)

    try:
        Machine.run(
            settings=hypothesis.settings(
                max_examples=max(1, steps // 10),
                stateful_step_count=10,
                derandomize=True,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )
        )
    except (Exception, BaseExceptionGroup) as exc:
        report.failures["stateful"] = f"{type(exc).__name__}: {exc}"[:4000]
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--max-examples", type=int, default=1000, help="per operation")
    parser.add_argument("--stateful-steps", type=int, default=2000)
    parser.add_argument("--lakefs-examples", type=int, default=1000, help="per operation")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fuzz-api-") as tmp:
        report = run(
            Path(tmp) / "data",
            max_examples=args.max_examples,
            stateful_steps=args.stateful_steps,
            lakefs_examples=args.lakefs_examples,
            verbose=True,
        )
    print(report.line())
    for label, failure in report.failures.items():
        print(f"\n== {label}\n{failure}")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())

"""The README's CLI block and HTTP tables, run as a new user would run them.

Every ``sartiq-storage …`` line of the CLI block is expanded (``plan|apply`` → two commands)
and each command answers ``--help`` through the installed entry point, with the options the
line names; each command that can run on the embedded default is also run for real, in a
scenario below. A command documented but not wired, or documented here but with no real run
and no reason, fails.

Every route of the HTTP tables (``METHOD[/METHOD] /path``, one per backticked item in the
first column) is asked of a running ``serve``: the auth its table states (public, or bearer:
401 with a ``Bearer`` challenge) must be what the service does, and a route in the OpenAPI
document must declare the same security there. Rows are read generically, so routes added to
the tables later are checked without touching this file.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer.main

from sartiq_storage.core.config import load_settings
from sartiq_storage.interfaces.cli.app import app
from sartiq_storage.services.context import build_context
from sartiq_storage.testing.media import image_bytes
from sartiq_storage.testing.moto_server import free_port
from tests.support.cli import sartiq
from tests.support.serve_process import get_once_up, serve_process

README = Path(__file__).resolve().parents[2] / "README.md"


def section(title: str) -> str:
    """The text of ``### title`` up to the next heading of the same or a higher level."""
    text = README.read_text("utf-8")
    start = text.index(f"\n### {title}\n")
    end = re.search(r"\n#{2,3} ", text[start + 1 :])
    return text[start : start + 1 + end.start()] if end else text[start:]


# -- the CLI block -------------------------------------------------------------------------------


def cli_lines() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", section("CLI"), re.DOTALL)
    assert block is not None, "README's CLI section has no bash block"
    return [
        line.split("#")[0].strip()
        for line in block.group(1).splitlines()
        if line.startswith("sartiq-storage ")
    ]


def command_paths(line: str) -> list[tuple[str, ...]]:
    """The commands a line names: lower-case words (with ``|`` alternatives) for as long as
    they name a sub-command of the app, e.g. ``keys build media|temp`` → ``("keys", "build")``."""
    root = typer.main.get_command(app)
    paths: list[tuple[str, ...]] = [()]
    for token in line.split()[1:]:
        if not re.fullmatch(r"[a-z][a-z-]*(\|[a-z][a-z-]*)*", token):
            break
        choices = token.split("|")
        groups = [_command_at(root, path) for path in paths]
        if not all(hasattr(g, "commands") for g in groups):
            break  # arguments from here on (``keys build media|temp``)
        paths = [(*path, choice) for path in paths for choice in choices]
    return paths


def _command_at(root: Any, path: tuple[str, ...]) -> Any:
    """The (Typer-vendored) Click command at ``path``; a group has ``commands``."""
    command = root
    for name in path:
        command = getattr(command, "commands", {}).get(name)
    return command


DOCUMENTED = {path: line for line in cli_lines() for path in command_paths(line)}


def test_the_cli_block_is_read() -> None:
    # The parsing must see what the README shows; a broken block would check nothing.
    assert ("lifecycle", "sweep") in DOCUMENTED
    assert ("datasets", "download") in DOCUMENTED
    assert ("keys", "build") in DOCUMENTED
    assert len(DOCUMENTED) >= 40


@pytest.mark.parametrize("path", sorted(DOCUMENTED), ids=" ".join)
def test_every_documented_command_answers_help(path: tuple[str, ...]) -> None:
    result = sartiq(*path, "--help")
    assert result.returncode == 0, f"`sartiq-storage {' '.join(path)}`: {result.stderr}"
    assert f"sartiq-storage {' '.join(path)}" in " ".join(result.stdout.split())
    line = DOCUMENTED[path]
    if "|" not in " ".join(line.split()[1 : len(path) + 1]):  # options belong to this command
        for option in re.findall(r"--[a-z][a-z-]*", line):
            assert option in result.stdout, f"{option} of `{line}` is not in its --help"


# Commands that cannot run to completion in a test, and why (they still answer --help above).
HELP_ONLY = {
    ("serve",): "runs until stopped: tests/end_to_end/test_cli.py starts it and asks it",
}


@dataclass
class Step:
    path: tuple[str, ...]
    argv: list[str]
    expect: str = ""
    """Text the output must contain."""


def _scenario(work: Path) -> Iterator[Step]:
    """One real run of every documented command on the embedded default, in an order where
    each finds what it needs (objects, a repository, a branch with a commit…)."""
    media = f"media/{uuid.uuid4()}/file.png"
    kept = f"media/{uuid.uuid4()}/file.png"
    photo = work / "photo.png"
    photo.write_bytes(image_bytes("png", seed=11))
    label = work / "label.json"
    label.write_text('{"label": "dress"}')

    yield Step(("config", "show"), ["config", "show"], "STORAGE_BACKEND")
    yield Step(("keys", "explain"), ["keys", "explain", media], "media_resource")
    yield Step(("keys", "build"), ["keys", "build", "temp", "--filename", "a b.jpg"], "a-b.jpg")
    yield Step(("token",), ["token", "--sub", "readme"], "eyJ")
    yield Step(("db", "upgrade"), ["db", "upgrade"], "at revision")
    yield Step(("put",), ["put", str(photo), media], "stored")
    yield Step(("put",), ["put", str(photo), kept], "stored")
    yield Step(("ls",), ["ls", "media/", "--limit", "10"], media)
    yield Step(("get",), ["get", media, str(work / "back.png")], "")
    yield Step(("rm",), ["rm", media], "deleted 1 of 1")
    for command in ("plan", "apply", "check", "sweep"):
        yield Step(("lifecycle", command), ["lifecycle", command], "")
    yield Step(("orphans", "scan"), ["orphans", "scan", "--json"], "applied")
    yield Step(("heal",), ["heal"], "checked")
    yield Step(("deadletters", "list"), ["deadletters", "list"], "0 dead letter(s)")
    yield Step(("deadletters", "retry"), ["deadletters", "retry"], "still failing 0")
    yield Step(("deadletters", "purge"), ["deadletters", "purge", "--yes"], "purged 0")
    yield Step(("worker",), ["worker", "--once"], "jobs")
    yield Step(("legacy", "migrate"), ["legacy", "migrate"], "scanned")

    ds = ["datasets"]
    yield Step(("datasets", "repo", "create"), [*ds, "repo", "create", "garments"], "created")
    yield Step(("datasets", "repo", "list"), [*ds, "repo", "list"], "garments")
    yield Step(("datasets", "branch", "create"), [*ds, "branch", "create", "garments", "dev"])
    yield Step(("datasets", "branch", "list"), [*ds, "branch", "list", "garments"], "dev")
    yield Step(("datasets", "upload"), [*ds, "upload", "garments", "dev", str(label)], "staged 1")
    yield Step(("datasets", "commit"), [*ds, "commit", "garments", "dev", "-m", "labels"])
    yield Step(("datasets", "log"), [*ds, "log", "garments", "dev"], "labels")
    yield Step(("datasets", "diff"), [*ds, "diff", "garments", "main", "dev"], "label.json")
    yield Step(("datasets", "merge"), [*ds, "merge", "garments", "dev", "main"], "merged")
    yield Step(("datasets", "ls"), [*ds, "ls", "garments", "main"], "label.json")
    yield Step(("datasets", "cat"), [*ds, "cat", "garments", "main", "label.json"], "dress")
    yield Step(
        ("datasets", "download"),
        [*ds, "download", "garments", "main", "label.json", str(work / "label-back.json")],
        "wrote",
    )
    yield Step(("datasets", "tag"), [*ds, "tag", "create", "garments", "v1", "main"], "v1")
    yield Step(
        ("datasets", "revert"),
        [*ds, "revert", "garments", "main", "HEAD", "--parent", "1"],
        "reverted",
    )
    yield Step(("datasets", "reset"), [*ds, "reset", "garments", "main", "--to", "HEAD~1"])
    yield Step(("datasets", "reflog"), [*ds, "reflog", "garments", "main"], "cli")
    yield Step(("datasets", "import"), [*ds, "import", "garments", "main", "media/"], "imported")
    yield Step(("datasets", "gc"), [*ds, "gc", "garments"], "active commit")
    yield Step(("datasets", "branch", "delete"), [*ds, "branch", "delete", "garments", "dev"])
    yield Step(("datasets", "check"), [*ds, "check"], "outside the content zones")


def test_every_documented_command_that_can_run_does(tmp_path: Path) -> None:
    steps = list(_scenario(tmp_path))
    covered = {step.path for step in steps} | set(HELP_ONLY)
    missing = sorted(set(DOCUMENTED) - covered)
    assert not missing, f"documented commands with no real run here (add one): {missing}"
    for step in steps:
        result = sartiq(*step.argv, cwd=tmp_path)
        shown = f"`sartiq-storage {' '.join(step.argv)}` -> {result.returncode}"
        assert result.returncode == 0, f"{shown}: {result.stderr or result.stdout}"
        assert "Traceback" not in result.stderr, shown
        assert step.expect in result.stdout, f"{shown}: {result.stdout}"


# -- the HTTP tables -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    auth: str
    """``public``, ``bearer`` or ``basic`` (the lakeFS API's key pair), from the sentence that
    introduces the route's table."""


def http_routes() -> list[Route]:
    routes: list[Route] = []
    auth: str | None = None
    route_table = False  # rows of other tables (the scopes) are not routes
    for line in section("HTTP").splitlines():
        if line.startswith("**Public**"):
            auth = "public"
        elif line.startswith("**Bearer token**"):
            auth = "bearer"
        elif line.startswith("**lakeFS key pair**"):
            auth = "basic"
        elif line.startswith("| ") and not line.startswith("| `"):
            route_table = line.startswith("| Route |")  # a table's header row
        if not (route_table and line.startswith("| `")):
            continue
        assert auth is not None, f"a route table without its auth sentence: {line}"
        first = line[1:].split(" | ")[0]
        for item in re.findall(r"`([^`]+)`", first):
            methods, _, path = item.partition(" ")
            assert re.fullmatch(r"[A-Z]+(/[A-Z]+)*", methods), f"not `METHOD /path`: {item}"
            path = re.split(r"\[?\?", path)[0]
            routes += [Route(method, path, auth) for method in methods.split("/")]
    return routes


def test_the_http_tables_are_read() -> None:
    routes = http_routes()
    assert Route("GET", "/healthz", "public") in routes
    assert Route("POST", "/api/v1/media-resources/ingest", "bearer") in routes
    assert Route("HEAD", "/api/v1/storage/images/{path}", "bearer") in routes
    staging = "/lakefs/api/v1/repositories/{repo}/branches/{branch}/staging/backing"
    assert Route("PUT", staging, "basic") in routes
    assert len(routes) >= 35


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _security(openapi: dict[str, Any], route: Route) -> list[Any] | None:
    """The route's ``security`` in the OpenAPI document ([] when none), None if absent."""
    wanted = _template(route.path)
    for path, operations in openapi["paths"].items():
        if _template(path) == wanted and route.method.lower() in operations:
            return list(operations[route.method.lower()].get("security", []))
    return None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """A running ``serve`` on the embedded default, with an object in media/ and compute/."""
    context = build_context(load_settings(), migrate=True)
    keys = {
        "key": f"media/{uuid.uuid4()}/file.png",
        "path": "generations/readme/result_0.png",
        "id": str(uuid.uuid4()),
        "repo": "garments",
    }
    png = image_bytes("png", seed=12)
    context.store.put(keys["key"], png, content_type="image/png")
    context.store.put(f"compute/{keys['path']}", png, content_type="image/png")
    context.close()
    port = free_port()
    with serve_process(tmp_path, port):
        base = f"http://127.0.0.1:{port}"
        get_once_up(f"{base}/healthz", attempts=300)
        yield base, keys


def test_every_documented_route_exists_with_its_auth(
    served: tuple[str, dict[str, str]],
) -> None:
    base, values = served
    openapi = httpx.get(f"{base}/openapi.json", timeout=30).json()
    problems: list[str] = []
    for route in http_routes():
        security = _security(openapi, route)
        if security is not None and bool(security) != (route.auth == "bearer"):
            problems.append(f"{route}: OpenAPI security is {security}")
        path = route.path
        if path.startswith("/files/"):
            path = "/files/{key}"  # /files/{path} takes a whole key
        url = base + re.sub(r"\{([^}]+)\}", lambda m: values.get(m.group(1), "x"), path)
        reply = httpx.request(route.method, url, timeout=30, follow_redirects=False)
        shown = f"{route.method} {route.path} ({route.auth}) -> {reply.status_code}"
        if reply.status_code == 405 or (
            reply.status_code == 404 and reply.text and "object not found" not in reply.text
        ):
            problems.append(f"{shown}: no such route {reply.text[:80]}")
        elif route.auth == "bearer" and (
            reply.status_code != 401 or reply.headers.get("www-authenticate") != "Bearer"
        ):
            problems.append(f"{shown}: answered without a token")
        elif route.auth == "basic" and (
            reply.status_code != 401
            or not reply.headers.get("www-authenticate", "").startswith("Basic")
        ):
            problems.append(f"{shown}: answered without the lakeFS key pair")
        elif route.auth == "public" and reply.status_code == 401:
            problems.append(f"{shown}: wants a token the README does not mention")
    assert problems == []


def test_no_route_in_openapi_is_left_out_of_the_readme(
    served: tuple[str, dict[str, str]],
) -> None:
    """The other direction: an API route the service offers but the README does not list."""
    base, _ = served
    openapi = httpx.get(f"{base}/openapi.json", timeout=30).json()
    documented = {(r.method, _template(r.path)) for r in http_routes()}
    offered = {
        (method.upper(), _template(path))
        for path, operations in openapi["paths"].items()
        for method in operations
    }
    assert sorted(offered - documented) == []

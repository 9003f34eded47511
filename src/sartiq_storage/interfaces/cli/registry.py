"""The whole ``sartiq-storage`` command tree, in one place.

Command modules hold plain functions (their options typed with ``Annotated``, their help in
the docstring); nothing registers itself. Here every group is made and every command and
sub-app mounted, in the order ``--help`` lists them (Typer keeps insertion order: a group's
commands first, then its sub-apps), so the tree reads top to bottom as the user sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import typer

from sartiq_storage.interfaces.cli import keys, lifecycle, objects, operations, server, settings
from sartiq_storage.interfaces.cli.datasets import admin, commits, refs, repos
from sartiq_storage.interfaces.cli.datasets import objects as dataset_objects

Command = Callable[..., Any]


def group(help_text: str, commands: Sequence[tuple[str, Command]] = ()) -> typer.Typer:
    """A sub-app: shows its help when called bare, runs one of ``commands`` otherwise."""
    sub_app = typer.Typer(help=help_text, no_args_is_help=True)
    add_commands(sub_app, commands)
    return sub_app


def add_commands(target: typer.Typer, commands: Sequence[tuple[str, Command]]) -> None:
    """Mount functions as commands under the names users type (never their Python names)."""
    for name, function in commands:
        target.command(name)(function)


def add_groups(target: typer.Typer, groups: Sequence[tuple[str, typer.Typer]]) -> None:
    """Mount sub-apps, listed after ``target``'s own commands in ``--help``."""
    for name, sub_app in groups:
        target.add_typer(sub_app, name=name)


config_app = group("Inspect the settings.", [("show", settings.config_show)])
keys_app = group("Understand object keys.", [("explain", keys.explain), ("build", keys.build)])
db_app = group("The database schema.", [("upgrade", settings.db_upgrade)])
orphans_app = group(
    "Find what the bucket and the database disagree on.", [("scan", operations.orphans_scan)]
)
deadletters_app = group(
    "Deletions that failed and wait for a retry.",
    [
        ("list", operations.deadletters_list),
        ("retry", operations.deadletters_retry),
        ("purge", operations.deadletters_purge),
    ],
)
legacy_app = group(
    "The legacy images/ and shooting_looks/ layouts.", [("migrate", operations.legacy_migrate)]
)
lifecycle_app = group(
    "Retention as code: sync the policy to the bucket, detect drift, or sweep.",
    [
        ("plan", lifecycle.plan_command),
        ("apply", lifecycle.apply_command),
        ("check", lifecycle.check_command),
        ("sweep", lifecycle.sweep_command),
    ],
)

repo_app = group("Repositories.", [("create", repos.repo_create), ("list", repos.repo_list)])
branch_app = group(
    "Branches.",
    [("create", refs.branch_create), ("list", refs.branch_list), ("delete", refs.branch_delete)],
)
tag_app = group(
    "Tags.", [("create", refs.tag_create), ("list", refs.tag_list), ("delete", refs.tag_delete)]
)
datasets_app = group(
    "Versioned datasets: repositories, branches, commits, merges (lakeFS semantics).",
    [
        ("check", repos.check),
        ("upload", dataset_objects.upload),
        ("ls", dataset_objects.list_objects),
        ("cat", dataset_objects.cat),
        ("download", dataset_objects.download),
        ("commit", commits.commit),
        ("log", commits.log),
        ("diff", commits.diff),
        ("merge", commits.merge),
        ("revert", commits.revert),
        ("reset", commits.reset),
        ("reflog", commits.reflog),
        ("import", admin.import_prefix),
        ("gc", admin.gc),
    ],
)
add_groups(datasets_app, [("repo", repo_app), ("branch", branch_app), ("tag", tag_app)])

app = typer.Typer(
    name="sartiq-storage",
    help="The Sartiq storage layer: object stores, media, delivery, lifecycle and datasets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
add_commands(
    app,
    [
        ("heal", operations.heal),
        ("worker", operations.worker),
        ("serve", server.serve),
        ("token", server.token),
        ("ls", objects.list_objects),
        ("put", objects.put_object),
        ("get", objects.get_object),
        ("rm", objects.remove_objects),
    ],
)
add_groups(
    app,
    [
        ("config", config_app),
        ("keys", keys_app),
        ("db", db_app),
        ("orphans", orphans_app),
        ("deadletters", deadletters_app),
        ("legacy", legacy_app),
        ("datasets", datasets_app),
        ("lifecycle", lifecycle_app),
    ],
)

"""Branch protection through the official lakeFS SDKs against ``serve`` on the embedded
default: what lakeFS's protection blocks (object writes, commits, resets) and what it does not
(branch deletion, apart from the default branch's own rule)."""

from __future__ import annotations

from collections.abc import Iterator

import lakefs
import lakefs_sdk
import pytest
from lakefs.exceptions import ForbiddenException

from tests.support.lakefs import unique
from tests.support.lakefs_serve import ServedLakeFS, served_lakefs


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedLakeFS]:
    with served_lakefs(tmp_path_factory.mktemp("protection"), "embedded", {}) as service:
        yield service


def test_a_protected_branch_can_be_deleted_unless_it_is_the_default(
    served: ServedLakeFS,
) -> None:
    """lakeFS's graveler ``DeleteBranch`` refuses only the default branch: a protected release
    branch is dropped once done with."""
    name = unique("guard")
    repo = lakefs.repository(name, client=served.client()).create(f"local://datasets/{name}")
    release = repo.branch("release-1").create("main")
    served.sdk().repositories_api.set_branch_protection_rules(
        name, [lakefs_sdk.BranchProtectionRule(pattern="release-*")]
    )
    with pytest.raises(lakefs_sdk.exceptions.ForbiddenException):  # the pre-signed path's
        release.object("late.txt").upload(data=b"late")
    release.delete()
    assert [b.id for b in repo.branches()] == ["main"]
    with pytest.raises(ForbiddenException):
        repo.branch("main").delete()

"""The sample repository lakeFS makes for ``sample_data=true`` (its quickstart), our own way.

A few small generated images, a CSV table and a README in one first commit, the default
branch then protected, so a new user has something to browse, branch and merge at once.
"""

from __future__ import annotations

import pyvips

from sartiq_storage.core.datasets.protocol import DatasetStore

SAMPLE_COLOURS: dict[str, tuple[int, int, int]] = {
    "ivory-dress": (238, 232, 213),
    "navy-blazer": (28, 40, 81),
    "rust-scarf": (183, 65, 14),
}
"""One swatch image per garment, named after it (the table lists the same names)."""

README = """# Sample repository

Made by sartiq-storage for `sample_data=true`: a small fashion catalogue to try the
lakeFS-compatible datasets API on.

* `images/*.png`: one 64×64 colour swatch per garment;
* `tables/garments.csv`: the garments, their colour and their image.

The default branch is protected: create a branch, change things there, then merge.
"""


def _swatch(rgb: tuple[int, int, int]) -> bytes:
    image = (pyvips.Image.black(64, 64, bands=3) + list(rgb)).cast("uchar")
    return bytes(image.pngsave_buffer(strip=True))


def _table() -> bytes:
    rows = ["name,red,green,blue,image"]
    rows += [f"{name},{r},{g},{b},images/{name}.png" for name, (r, g, b) in SAMPLE_COLOURS.items()]
    return ("\n".join(rows) + "\n").encode()


def populate_sample(engine: DatasetStore, repo: str, branch: str, *, committer: str) -> None:
    """Fill a new, empty repository's ``branch`` with the sample and protect the branch."""
    for name, rgb in SAMPLE_COLOURS.items():
        engine.put_object(
            repo, branch, f"images/{name}.png", _swatch(rgb), content_type="image/png"
        )
    engine.put_object(repo, branch, "tables/garments.csv", _table(), content_type="text/csv")
    engine.put_object(repo, branch, "README.md", README.encode(), content_type="text/markdown")
    engine.commit(repo, branch, "Add sample data", committer=committer)
    engine.set_branch_protection(repo, [branch])

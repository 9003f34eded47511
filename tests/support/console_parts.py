"""The console's multipart traffic as a browser test sees it: every part PUT that reached the
service and every one it stored, with a switch that cuts the network under new part PUTs
(Playwright routing aborts them as a dropped connection would)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from playwright.sync_api import Page, Response, Route

from sartiq_storage.testing.media import write_video

PART_URL = re.compile(r".*/_storage/parts/.*")


def part_number(url: str) -> int:
    return int(parse_qs(urlsplit(url).query)["partNumber"][0])


def padded_video(path: Path, size: int) -> Path:
    """A real H.264 MP4 of about ``size`` bytes (its frames muxed again and again, so PyAV
    probes a long video and decodes its first keyframe as the poster)."""
    with path.open("wb") as out:
        write_video(out, width=320, height=180, frames=24, rate=24, noise=True, repeat_to=size)
    return path


@dataclass
class PartTraffic:
    """Installed on a page: ``events`` is ("sent", n) when a part PUT went through to the
    service, ("stored", n) when it answered 200, ("cut", n) when the cut aborted it.
    ``cut_after``: the cut starts by itself once that many parts are stored."""

    page: Page
    cut: bool = False
    cut_after: int | None = None
    events: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.route(PART_URL, self._route)
        self.page.on("response", self._response)

    def _route(self, route: Route) -> None:
        n = part_number(route.request.url)
        if self.cut_after is not None and len(self.stored) >= self.cut_after:
            self.cut, self.cut_after = True, None
        if self.cut:
            self.events.append(("cut", n))
            route.abort("internetdisconnected")
        else:
            self.events.append(("sent", n))
            route.continue_()

    def _response(self, response: Response) -> None:
        if PART_URL.match(response.url) and response.status == 200:
            self.events.append(("stored", part_number(response.url)))

    def count(self, kind: str) -> int:
        return sum(1 for event, _ in self.events if event == kind)

    @property
    def stored(self) -> set[int]:
        return {n for event, n in self.events if event == "stored"}

    def wait_for(self, kind: str, at_least: int, timeout_ms: int = 30_000) -> None:
        """Let the page run until ``at_least`` events of ``kind`` happened."""
        waited = 0
        while self.count(kind) < at_least:
            assert waited < timeout_ms, f"only {self.count(kind)} {kind!r} events: {self.events}"
            self.page.wait_for_timeout(50)
            waited += 50

    def wait_until_settled(self, timeout_ms: int = 30_000) -> None:
        """Every part that went through has its answer (none in flight)."""
        waited = 0
        while self.count("stored") < self.count("sent"):
            assert waited < timeout_ms, f"parts still in flight: {self.events}"
            self.page.wait_for_timeout(50)
            waited += 50

    def resent_after_stored(self) -> list[int]:
        """Parts the console sent again after the service had stored them: none, ever."""
        stored: set[int] = set()
        again = []
        for event, n in self.events:
            if event == "stored":
                stored.add(n)
            elif event in ("sent", "cut") and n in stored:
                again.append(n)
        return again

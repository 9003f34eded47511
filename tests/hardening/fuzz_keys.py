"""The long key-fuzzing run: ``./run fuzz keys [--runs N]`` (default 1,000,000 inputs).

    .venv/bin/python -m tests.hardening.fuzz_keys --runs 1000000            # atheris
    .venv/bin/python -m tests.hardening.fuzz_keys --engine seeded --runs N  # no atheris needed

``atheris`` (libFuzzer, coverage-guided over ``sartiq_storage``) mutates byte strings, seeded
with the traversal corpus and a dictionary of traversal tokens; each input is decoded to text
(UTF-8 with lone surrogates allowed, or Latin-1, chosen by the first byte) and run through the
same oracle as the every-run tests (``oracle.py``). A broken property or an unexpected
exception is recorded, not fatal, so the run reports every finding; the summary line gives
inputs, seconds, inputs/s, accepted/refused and findings, and findings go to
``fuzz-findings.txt`` (repr of each input) in the working folder. Exit status 1 if any.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from tests.hardening.corpus import TOKENS, TRAVERSAL, TWINS, VALID


class Run:
    def __init__(self, runs: int, root: Path) -> None:
        from tests.hardening.oracle import KeyOracle

        self.oracle = KeyOracle(root)
        self.runs = runs
        self.done = 0
        self.start = time.perf_counter()
        self.findings: Counter[str] = Counter()
        self.examples: dict[str, str] = {}

    def one(self, text: str) -> None:
        from tests.hardening.oracle import KeyFinding

        try:
            self.oracle.check(text)
        except KeyFinding as finding:
            self._record(str(finding).split(":", 1)[0], text)
        except Exception as exc:
            where = traceback.extract_tb(exc.__traceback__)[-1]
            self._record(f"{type(exc).__name__} at {where.filename}:{where.lineno}", text)
        self.done += 1
        if self.done % 100_000 == 0:
            self.progress()

    def _record(self, what: str, text: str) -> None:
        self.findings[what] += 1
        self.examples.setdefault(what, text)

    def progress(self) -> None:
        seconds = time.perf_counter() - self.start
        print(
            f"#{self.done} {seconds:.0f}s {self.done / seconds:,.0f}/s "
            f"accepted={self.oracle.accepted} refused={self.oracle.refused} "
            f"findings={sum(self.findings.values())}",
            flush=True,
        )

    def finish(self, engine: str) -> int:
        seconds = time.perf_counter() - self.start
        print(
            f"engine={engine} inputs={self.done} seconds={seconds:.1f} "
            f"rate={self.done / seconds:,.0f}/s accepted={self.oracle.accepted} "
            f"refused={self.oracle.refused} findings={sum(self.findings.values())}",
            flush=True,
        )
        if self.findings:
            with open("fuzz-findings.txt", "w", encoding="utf-8") as out:
                for what, count in self.findings.most_common():
                    line = f"{count}\t{what}\t{self.examples[what]!r}"
                    print(line)
                    out.write(line + "\n")
        return 1 if self.findings else 0


def _decode(data: bytes) -> str:
    if not data:
        return ""
    if data[0] & 1:
        return data[1:].decode("latin-1")
    if not data[0] & 2:
        return data[1:].decode("utf-8", errors="replace")
    try:  # encoded surrogates become lone surrogates, and so do stray bytes
        return data[1:].decode("utf-8", errors="surrogatepass")
    except UnicodeDecodeError:
        return data[1:].decode("utf-8", errors="surrogateescape")


def _encode(text: str) -> bytes:
    return b"\x02" + text.encode("utf-8", errors="surrogatepass")


def _dictionary(folder: Path) -> Path:
    path = folder / "keys.dict"
    lines = []
    for token in TOKENS:
        raw = token.encode("utf-8", errors="surrogatepass")
        lines.append('"' + "".join(f"\\x{b:02x}" for b in raw) + '"')
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _seeds(folder: Path) -> Path:
    seeds = folder / "seeds"
    seeds.mkdir()
    samples = [*TRAVERSAL, *VALID, *(a for a, _ in TWINS)]
    for index, sample in enumerate(samples):
        (seeds / f"seed-{index:04d}").write_bytes(_encode(sample))
    return seeds


def run_atheris(runs: int, root: Path, work: Path, max_len: int) -> int:
    import atheris

    with atheris.instrument_imports(include=["sartiq_storage"]):
        import sartiq_storage.adapters.stores.local
        import sartiq_storage.core.filenames
        import sartiq_storage.core.keys
        import sartiq_storage.core.urls
        import sartiq_storage.core.validation
        import sartiq_storage.services.compute  # noqa: F401

    state = Run(runs, root)

    def one_input(data: bytes) -> None:
        state.one(_decode(data))
        if state.done >= runs:
            code = state.finish("atheris")
            sys.stdout.flush()
            os._exit(code)  # libFuzzer's own exit would skip the summary

    argv = [
        sys.argv[0],
        f"-dict={_dictionary(work)}",
        f"-max_len={max_len}",
        "-print_final_stats=1",
        "-rss_limit_mb=4096",
        f"-artifact_prefix={work}/",
        str(_seeds(work)),
    ]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return state.finish("atheris")  # not reached: Fuzz() runs until one_input exits


def run_seeded(runs: int, root: Path, seed: int) -> int:
    from tests.hardening.keygen import Generator

    state = Run(runs, root)
    for text in Generator(seed).take(runs):
        state.one(text)
    return state.finish(f"seeded(seed={seed})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--engine", choices=["atheris", "seeded"], default="atheris")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-len", type=int, default=4200, help="atheris: longest input")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="fuzz-keys-") as tmp:
        work = Path(tmp)
        if args.engine == "seeded":
            return run_seeded(args.runs, work / "store", args.seed)
        return run_atheris(args.runs, work / "store", work, args.max_len)


if __name__ == "__main__":
    sys.exit(main())

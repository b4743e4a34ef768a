"""Every fenced bash and python block of the README and of the documentation pages runs as written.

The blocks run in a copy of the work tree, in one new virtual environment made with the pip it
ships (the README's first block installs into it), in order (README.md, then the pages of
``docs/`` in the order of ``mkdocs.yml``'s nav), against real services given
through the environment only (the blocks keep variables already set): a broker of the test's own,
the session's PostgreSQL database, an OTLP receiver. An HTML comment right above a block says how
else to treat it:

- ``fresh-venv``: run without any service configured (the demo starts embedded ones);
- ``ci``: the commands that run this very suite: ``.ci/run`` must run each line exactly;
- ``fragment``: needs the reader's context (``...`` bodies, the reader's variables): compiled only;
- ``sigterm N``: its last command runs until stopped: once the service it starts answers healthy
  on the ``/health`` address it printed (within N seconds), or, printing none, once it has run N
  seconds, it is sent SIGTERM and must stop cleanly;
- ``skip docker``: needs a Docker engine (none here).
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.services.kafka import Broker, running_broker
from tests.services.otlp import OtlpReceiver
from tests.services.postgres import Database

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
CI_RUN = ROOT / ".ci" / "run"
DIRECTIVE = re.compile(r"^<!-- readme-test: (?P<word>[\w-]+)(?: (?P<arg>\d+))?\b.*-->$")


@dataclass
class Block:
    page: str
    line: int
    lang: str
    body: str
    directive: str | None
    arg: int | None

    @property
    def id(self) -> str:
        return f"{self.page}:L{self.line}-{self.lang}" + (f"-{self.directive}" if self.directive else "")


def pages() -> list[Path]:
    """README.md, then the documentation pages in the site's nav order (any page not in the nav
    last: the strict site build refuses those anyway)."""
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = [DOCS / name for entry in config["nav"] for name in entry.values()]
    rest = sorted(set(DOCS.glob("*.md")) - set(nav))
    return [README, *nav, *rest]


def page_blocks(page: Path) -> list[Block]:
    """A page's fenced bash and python blocks, with the directive above each."""
    name = page.relative_to(ROOT).as_posix()
    lines = page.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if lines[j].startswith("```"))
        lang = fence.group(1)
        if lang in ("bash", "python"):
            above = lines[i - 1] if i > 0 else ""
            match = DIRECTIVE.match(above)
            blocks.append(
                Block(
                    name,
                    i + 1,
                    lang,
                    "\n".join(lines[i + 1 : end]) + "\n",
                    match.group("word") if match else None,
                    int(match.group("arg")) if match and match.group("arg") else None,
                )
            )
        i = end + 1
    return blocks


BLOCKS = [block for page in pages() for block in page_blocks(page)]


@dataclass
class Workspace:
    repo: Path
    venv: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A copy of the work tree (tracked and unignored files) and a new venv, nothing installed."""
    base = tmp_path_factory.mktemp("readme")
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=60,
        )
        .stdout.decode()
        .split("\0")
    )
    repo = base / "repo"
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    own_bin = str(Path(sys.executable).parent)
    path = [str(venv / "bin")] + [
        p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != own_bin
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("KAFKA_", "POSTGRES_", "OTEL_", "ONEX_"))
        and k not in ("DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(
        PATH=os.pathsep.join(path),
        VIRTUAL_ENV=str(venv),
        ONEX_SPOOL_DIR=str(base / "spool"),
        ONEX_EMIT_SOCKET=str(base / "no-daemon.sock"),
    )
    return Workspace(repo, venv, env)


@pytest.fixture
def services(tmp_path: Path, database: Database, otlp_receiver: OtlpReceiver) -> Iterator[dict[str, str]]:
    """The variables that point the blocks at real services (a broker of the test's own)."""
    broker: Broker
    with running_broker(tmp_path) as broker:
        yield {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "DATABASE_URL": database.url,
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint,
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "ONEX_TOPIC_PREFIX": f"readme{uuid.uuid4().hex[:8]}.",
        }


def _ci_lines() -> list[str]:
    return [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]


def _commands(body: str) -> list[str]:
    return [line.strip() for line in body.splitlines() if line.strip() and not line.strip().startswith("#")]


def _show(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_doc_block_runs_as_written(
    block: Block, workspace: Workspace, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if block.directive == "skip":
        pytest.skip("needs a Docker engine")
    if block.directive == "fragment":
        if block.lang == "python":
            compile(block.body, f"{block.page}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        else:
            subprocess.run(["bash", "-n", "-c", block.body], check=True, timeout=30)
        return
    if block.directive == "ci":
        missing = [c for c in _commands(block.body) if c not in _ci_lines()]
        assert not missing, f".ci/run does not run {missing}"
        return
    assert block.directive in (None, "fresh-venv", "sigterm"), block.directive
    env = dict(workspace.env)
    if block.directive != "fresh-venv":
        env.update(request.getfixturevalue("services"))
    if block.lang == "python":
        args = [str(workspace.venv / "bin" / "python"), "-c", block.body]
    else:
        args = ["bash", "-c", "set -euo pipefail\n" + block.body]
    if block.directive == "sigterm":
        _run_until_sigterm(args, env, workspace.repo, block.arg or 20)
        return
    proc = subprocess.run(
        args, env=env, cwd=workspace.repo, capture_output=True, text=True, timeout=900, check=False
    )
    assert proc.returncode == 0, _show(proc)
    if block.directive == "fresh-venv":
        install = _commands(block.body)[0]
        assert install in _ci_lines(), f".ci/run must install exactly as the README: {install}"
        assert "correlation id / trace id:" in proc.stderr, _show(proc)


#: The line a service (``onex-otel collect``, ``onex-otel bridge``) prints once it serves /health.
_HEALTH_LINE = re.compile(r"^\w+: /health and /metrics on (?P<url>http://\S+)$", re.M)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as answer:
            return bool(json.load(answer).get("status") == "healthy")
    except (OSError, ValueError):  # not yet listening, or 503 while connecting
        return False


def _run_until_sigterm(args: list[str], env: dict[str, str], cwd: Path, seconds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="onex-sigterm-") as tmp:
        early, healthy, returncode, output = _run_to_health(args, env, cwd, seconds, Path(tmp) / "output")
    assert early is None, f"the block ended by itself (exit {early}) before {seconds}s:\n{output}"
    if _HEALTH_LINE.search(output):
        assert healthy, f"the service was not healthy within {seconds}s:\n{output}"
    assert returncode in (0, -signal.SIGTERM), output
    assert not re.search(r"^onex-otel \w+: ", output, re.M), output  # a CLI error line


def _run_to_health(
    args: list[str], env: dict[str, str], cwd: Path, seconds: int, out_file: Path
) -> tuple[int | None, bool, int | None, str]:
    """Run a block until its service answers healthy or ``seconds`` pass, then SIGTERM it.

    Returns: its exit code if it ended by itself first, whether it was healthy, its exit code
    after the signal, and its output.
    """
    with (
        open(out_file, "w+") as out,
        subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, text=True, start_new_session=True
        ) as proc,
    ):
        healthy = False
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and proc.poll() is None:
                announced = _HEALTH_LINE.search(out_file.read_text(encoding="utf-8", errors="replace"))
                if announced and _healthy(announced["url"]):
                    healthy = True
                    break
                time.sleep(0.2)
            early = proc.poll()
            if early is None:
                os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(60)
        finally:
            with contextlib.suppress(ProcessLookupError):  # whatever is left of the block
                os.killpg(proc.pid, signal.SIGKILL)
        out.seek(0)
        return early, healthy, proc.returncode, out.read()


def test_compose_header_gives_the_stack_database_url() -> None:
    """The docker-compose file's header and the documentation's defaults name its PostgreSQL."""
    compose_file = ROOT / "collector" / "docker-compose.yml"
    text = compose_file.read_text(encoding="utf-8")
    pg = yaml.safe_load(text)["services"]["postgres"]
    host_port = next(p.split(":")[0] for p in pg["ports"] if p.endswith(":5432"))
    e = pg["environment"]
    url = (
        f"postgresql://{e['POSTGRES_USER']}:{e['POSTGRES_PASSWORD']}@localhost:{host_port}/{e['POSTGRES_DB']}"
    )
    assert f"#   export DATABASE_URL={url}\n" in text
    docs = "".join(page.read_text(encoding="utf-8") for page in pages())
    assert docs.count(f"DATABASE_URL=${{DATABASE_URL:-{url}}}") >= 2

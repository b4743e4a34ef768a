"""README.md stays a short tour whose links land, and every documentation page is in the site.

The site's own links and anchors are checked by ``mkdocs build --strict`` (``.ci/run``); README.md
is outside the site, so its links are checked here. The blocks of both run in
``tests/integration/test_readme.py``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(page: Path) -> set[str]:
    """The heading anchors of a Markdown page, as GitHub and mkdocs' toc make them."""
    anchors, fenced = set(), False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (heading := re.match(r"^#+ (.+)$", line)):
            text = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower())
            anchors.add(re.sub(r" +", "-", text.strip()))
    return anchors


def test_readme_is_a_short_tour() -> None:
    assert len(README.read_text(encoding="utf-8").splitlines()) < 250


def test_readme_links_land() -> None:
    targets = [
        t
        for t in LINK.findall(README.read_text(encoding="utf-8"))
        if not t.startswith(("http://", "https://"))
    ]
    assert targets
    broken = []
    for target in targets:
        path, _, anchor = target.partition("#")
        page = (ROOT / path) if path else README
        if not page.is_file() or (anchor and anchor not in _anchors(page)):
            broken.append(target)
    assert not broken, f"README.md links to nothing: {broken}"


def test_every_page_is_in_the_site_nav() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert config["strict"] is True
    nav = {name for entry in config["nav"] for name in entry.values()}
    assert nav == {p.name for p in DOCS.glob("*.md")}

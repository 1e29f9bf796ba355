"""The inbox's templates and static files: nothing from outside, no word typed outside the
catalogue (web.labels), and every asset a page names is served by the app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from web import pages

WEB = Path(pages.__file__).parent
TEMPLATES = sorted(pages.TEMPLATES.glob("*.html"))
STATIC = sorted(pages.STATIC.iterdir())
HAN = re.compile(r"[\u4e00-\u9fff]")
# any URL with a host: http(s)://…, protocol-relative //host…, or CSS @import of one
EXTERNAL = re.compile(r"(https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}|@import")


@pytest.mark.parametrize("path", [*TEMPLATES, *STATIC, WEB / "pages.py"], ids=lambda p: p.name)
def test_nothing_is_loaded_from_outside_and_no_word_is_typed_outside_the_catalogue(
    path: Path,
) -> None:
    text = re.sub(r'xmlns="[^"]*"', "", path.read_text())  # an SVG's namespace is a name
    assert not EXTERNAL.search(text), EXTERNAL.search(text)
    assert not HAN.search(text), HAN.search(text)


def test_every_asset_a_template_names_is_in_web_static() -> None:
    named = {
        name
        for template in TEMPLATES
        for name in re.findall(r"asset\['([^']+)'\]", template.read_text())
    }
    assert named == {"inbox.css", "inbox.js", "favicon.svg"}
    assert named <= {path.name for path in STATIC}


def test_the_static_files_are_packaged() -> None:
    text = (WEB.parent / "pyproject.toml").read_text()
    assert 'web = ["templates/*.html", "static/*"]' in text

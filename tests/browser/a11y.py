"""The basics of accessibility, checked in the page itself: one h1 and no skipped heading level, a language, a
name for every form control and every image, and text contrast of at least 4.5:1 (WCAG 2 AA for normal text)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CHECK = (Path(__file__).parent / "a11y.js").read_text(encoding="utf-8")
"""A function run in the page; it returns the problems it finds."""


def problems(page: Any) -> list[str]:
    """What the page lacks of the basics; empty when it has them all."""
    return page.evaluate(CHECK)

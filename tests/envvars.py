"""The environment variables the service reads, found in its source: every string literal in service/ that is a
whole variable name (``CDS_*``, ``DATABASE_URL``, ``REDIS_URL``, ``PROMETHEUS_MULTIPROC_DIR``)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SERVICE = Path(__file__).resolve().parents[1] / "service"
NAME = re.compile(r"CDS_[A-Z0-9_]+|DATABASE_URL|REDIS_URL|PROMETHEUS_MULTIPROC_DIR")


def read_by_the_service() -> set[str]:
    names = set()
    for path in SERVICE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value):
                names.add(node.value)
    return names

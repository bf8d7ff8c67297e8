"""What the deployment files are checked against: the app's own routes, the Dockerfile, the chart's defaults."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "ketamine-cds"


@pytest.fixture
def routes(app: Flask) -> dict[str, str]:
    """The app's URL paths by endpoint name (``health.healthz`` -> ``/healthz``), from its url_map."""
    return {rule.endpoint: rule.rule for rule in app.url_map.iter_rules()}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The arguments of a JSON (exec) form instruction, or split like a shell would."""
        text = self.arguments.strip()
        return json.loads(text) if text.startswith("[") else shlex.split(text)


@pytest.fixture(scope="session")
def dockerfile() -> list[list[Instruction]]:
    """The Dockerfile's stages, each a list of instructions (continuation lines joined, comments dropped)."""
    stages: list[list[Instruction]] = [[]]
    logical = ""
    for line in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        logical += line.rstrip().removesuffix("\\") + " "
        if line.rstrip().endswith("\\"):
            continue
        keyword, _, arguments = logical.strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append(Instruction(keyword.upper(), " ".join(arguments.split())))
    return stages


@pytest.fixture(scope="session")
def chart_defaults() -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))

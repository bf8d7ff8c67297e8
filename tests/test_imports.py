"""Dependencies point one way, read from the source: the core imports nothing of the service, the web or the
environment; within the core each stage imports only from its own stage or earlier ones (facts -> findings ->
cards); the FHIR client knows HTTP, not medications; metrics is a leaf."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CORE_LAYERS = (
    # foundation: request, identifiers, FHIR JSON helpers, typed cards and gaps, the fetch port, terminology, what a
    # blood-pressure reading is, FHIR's record statuses and their classes
    {"errors", "ids", "bounded", "fhir_json", "card_types", "gaps", "fetch", "protocol", "validation", "terminology",
     "feedback", "markup", "vitals", "statuses"},
    {"knowledge", "knowledge.loader", "knowledge.model", "knowledge.schema", "knowledge.table", "knowledge.reference",
     "knowledge.diff", "knowledge.vocabulary"},
    # facts: the patient's data gathered and read
    {"prefetch", "services", "medications", "conditions", "administrations", "dispenses", "allergies",
     "fetch_queries", "gather", "facts"},
    # findings: the rules applied to the facts and to the order itself; patient-view's search for its order
    {"engine", "order_limits", "patient_view"},
    {"cards"},
    {"order_check"},  # the entry point that runs the stages
)
"""Each core module's stage, earliest first; a module may import from its own stage or an earlier one."""
FORBIDDEN_IN_CORE = ("service", "flask", "werkzeug", "requests", "sqlalchemy", "redis", "jwt", "prometheus_client")


def modules(package: str) -> dict[str, Path]:
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (inside functions too): ``from a import b`` gives ``a`` and
    ``a.b``, since ``b`` may be a module."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


CORE = modules("cds_hooks")
SERVICE = modules("service")


def stage(module: str) -> int | None:
    name = module.removeprefix("cds_hooks.")
    return next((rank for rank, layer in enumerate(CORE_LAYERS) if name in layer), None)


def test_every_core_module_has_a_stage():
    assert [name for name in CORE if name != "cds_hooks" and stage(name) is None] == []


@pytest.mark.parametrize("module", sorted(CORE))
def test_the_core_imports_nothing_of_the_service_the_web_or_the_environment(module):
    path = CORE[module]
    bad = sorted(name for name in imports(path) if name.split(".")[0] in FORBIDDEN_IN_CORE)
    assert bad == []
    tree = ast.parse(path.read_text(encoding="utf-8"))
    environment = [node.lineno for node in ast.walk(tree)
                   if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv")]
    assert environment == [], f"{module} reads the environment"


@pytest.mark.parametrize("module", sorted(name for name in CORE if name != "cds_hooks"))
def test_no_core_module_imports_from_a_later_stage(module):
    own = stage(module)
    later = sorted(name for name in imports(CORE[module])
                   if name.startswith("cds_hooks.") and name in CORE and (stage(name) or 0) > own)
    assert later == []


def test_the_fhir_client_knows_http_not_medications():
    medical = {"cds_hooks.medications", "cds_hooks.conditions", "cds_hooks.facts", "cds_hooks.gather",
               "cds_hooks.engine", "cds_hooks.cards", "cds_hooks.order_check", "cds_hooks.services",
               "cds_hooks.prefetch"}
    assert sorted(imports(SERVICE["service.fhir.client"]) & medical) == []


@pytest.mark.parametrize("leaf", ["service.metrics", "service.config", "service.failures"])
def test_cross_cutting_service_modules_are_leaves(leaf):
    reached = sorted(name for name in imports(SERVICE[leaf])
                     if name.startswith("service") and name in SERVICE and name != leaf
                     and name not in ("service.config", "service.failures"))
    assert reached == []
    core = sorted(name for name in imports(SERVICE[leaf]) if name.startswith("cds_hooks.")
                  and name != "cds_hooks.services" and stage(name) not in (0, None))
    assert core == [], f"{leaf} reaches into the core's stages (the service definitions name its labels)"


def test_only_the_http_edge_the_command_line_and_the_console_preview_call_the_entry_point():
    callers = sorted(name for name, path in {**CORE, **SERVICE}.items()
                     if "cds_hooks.order_check" in imports(path) and name != "cds_hooks")
    assert callers == ["service.cli", "service.console.preview", "service.http.cds"]

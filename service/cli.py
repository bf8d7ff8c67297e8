"""The ``ketamine-cds`` command: run the service, check a hook request file offline, migrate the database, or
report how clinicians answered the cards."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

from sqlalchemy.exc import SQLAlchemyError

from cds_hooks.errors import CdsError
from cds_hooks.knowledge import DATA_DIR, load_knowledge, replace_section, rules_markdown
from cds_hooks.knowledge.diff import knowledge_diff
from cds_hooks.knowledge.reference import field_reference
from cds_hooks.markup import plain
from cds_hooks.order_check import answer
from cds_hooks.protocol import load_request
from cds_hooks.services import definitions
from service.config import DEFAULT_PORT, PRODUCTION_HOST, ConfigError, Settings
from service.fhir.rxnav import resolver_from
from service.runtime import site_knowledge
from service.storage.database import Database
from service.storage.report import feedback_report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ketamine-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the service",
        description="Run the service on the embedded development server (embedded defaults: an SQLite file in var/, "
        "no database server, no external FHIR server, no keys), or with --production under gunicorn, configured by "
        "service.gunicorn_conf (the same as `gunicorn -c python:service.gunicorn_conf`).",
    )
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1; with --production, CDS_BIND)")
    serve.add_argument("--port", type=int,
                       help=f"port to listen on (default {DEFAULT_PORT}; with --production, CDS_BIND)")
    serve.add_argument(
        "--production",
        action="store_true",
        help="run under gunicorn with workers, threads and timeouts from the environment",
    )

    check = commands.add_parser("check", help="evaluate a hook request JSON file offline and print the cards")
    check.add_argument("file", type=Path, help="a CDS Hooks request (order-select, order-sign or patient-view) as JSON")
    check.add_argument("--service", help="service id (default: the one registered for the request's hook)")
    check.add_argument("--format", choices=("text", "json"), default="text")
    check.add_argument("--now", help="evaluation time as ISO 8601 (default: now), for washout windows")

    db = commands.add_parser("db", help="manage the database (DATABASE_URL; default the embedded SQLite file)")
    db.add_argument("action", choices=("upgrade",), help="upgrade: apply every migration not yet applied")

    report = commands.add_parser("feedback-report", help="accept and override rates per rule and override reason")
    report.add_argument("--format", choices=("table", "json"), default="table")

    rules = commands.add_parser("rules", help="print the rules with their advice as a Markdown table")
    rules.add_argument("--update-readme", type=Path, metavar="README",
                       help="write the table between the rules markers of this Markdown file instead of printing it")
    rules.add_argument("--diff", type=Path, metavar="OLD_DIR",
                       help="list what changed from the knowledge base in OLD_DIR to this one (CDS_KNOWLEDGE_DIR or "
                       "the packaged one), flagging the rules the site overrides (CDS_KNOWLEDGE_OVERRIDES)")

    commands.add_parser("field-reference", help="print the knowledge base field reference (Markdown) for rule authors",
                        description="Print the reference of every field a knowledge file may hold, generated from "
                        "the schemas that check them: `ketamine-cds field-reference > cds_hooks/knowledge/FIELDS.md`.")

    args = parser.parse_args(argv)
    try:
        if args.command == "serve" and args.production:
            return _serve_production(args.host, args.port)
        if args.command == "serve":
            return _serve(args.host or "127.0.0.1", args.port or DEFAULT_PORT)
        if args.command == "db":
            return _db_upgrade()
        if args.command == "feedback-report":
            return _feedback_report(args.format)
        if args.command == "rules" and args.diff:
            return _rules_diff(args.diff)
        if args.command == "rules":
            return _rules(args.update_readme)
        if args.command == "field-reference":
            print(field_reference(), end="")
            return 0
        return _check(args.file, args.service, args.format, args.now)
    except (ConfigError, CdsError) as error:
        print(f"ketamine-cds: {error}", file=sys.stderr)
        return 2


def _serve(host: str, port: int) -> int:
    """The development server. SIGTERM (what a container runtime or a process manager sends) stops it as Ctrl-C
    does, so the process exits normally and the issued cards still queued are written first; by default SIGTERM
    would end the process at once and lose them."""
    from service.app import create_app

    app = create_app()
    signal.signal(signal.SIGTERM, _stop)
    with contextlib.suppress(KeyboardInterrupt):
        app.run(host=host, port=port, threaded=True)
    return 0


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _serve_production(host: str | None, port: int | None) -> NoReturn:
    """Replace this process with gunicorn, so it receives SIGTERM directly and shuts down gracefully."""
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:service.gunicorn_conf"]
    if host or port:
        argv += ["--bind", f"{host or PRODUCTION_HOST}:{port or DEFAULT_PORT}"]
    os.execv(sys.executable, argv)


def _db_upgrade() -> int:
    database = Database(Settings.from_env().database_url)
    try:
        revision = database.upgrade()
    except SQLAlchemyError as error:
        print(f"ketamine-cds: {database.safe_url}: cannot be migrated ({str(error).splitlines()[0]})", file=sys.stderr)
        return 1
    print(f"{database.safe_url}: at revision {revision}")
    return 0


def _feedback_report(output: str) -> int:
    settings = Settings.from_env()
    report = feedback_report(Database(settings.database_url, migrate=settings.db_migrate == "auto"))
    print(json.dumps(report.as_json(), indent=2) if output == "json" else report.as_table())
    return 0


def _rules(readme: Path | None) -> int:
    settings = Settings.from_env()
    table = rules_markdown(site_knowledge(settings))
    if readme is None:
        print(table, end="")
        return 0
    try:
        readme.write_text(replace_section(readme.read_text(encoding="utf-8"), table), encoding="utf-8")
    except (OSError, ValueError) as error:
        print(f"ketamine-cds: {readme}: {error}", file=sys.stderr)
        return 2
    return 0


def _rules_diff(old_dir: Path) -> int:
    """The changes, one per line; rules the site overrides are flagged, since their override may need review."""
    if not old_dir.is_dir():
        print(f"ketamine-cds: {old_dir}: not a folder", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    old, new = load_knowledge(old_dir), load_knowledge(settings.knowledge_dir or DATA_DIR)
    overridden = {}
    if settings.knowledge_overrides:
        site = load_knowledge(settings.knowledge_dir or DATA_DIR, settings.knowledge_overrides)
        overridden = {rule_id: entry.describe() for rule_id, entry in site.overrides.items()}
    changes = knowledge_diff(old, new)
    print(f"Knowledge base {old.version} -> {new.version}: {len(changes)} change(s)")
    for change in changes:
        print(change.line(overridden))
    touched = sorted({change.rule for change in changes} & overridden.keys())
    if touched:
        print(f"Review the site overrides of: {', '.join(touched)}")
    return 0


def _check(path: Path, service_id: str | None, output: str, now_text: str | None) -> int:
    settings = Settings.from_env()
    knowledge = site_knowledge(settings)
    resolver = resolver_from(settings)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"ketamine-cds: {path}: cannot be read as JSON ({error})", file=sys.stderr)
        return 2
    hook = body.get("hook") if isinstance(body, dict) else None
    services = definitions(knowledge)
    definition = services.by_id(service_id) if service_id else services.for_hook(hook)
    if definition is None:
        print(f"ketamine-cds: {path}: no service is registered for hook {hook!r}", file=sys.stderr)
        return 2
    request = load_request(body, definition.hook)
    now = datetime.fromisoformat(now_text).astimezone(UTC) if now_text else datetime.now(UTC)
    body = answer(request, definition, knowledge, now, resolver=resolver).as_json()
    print(json.dumps(body, indent=2) if output == "json" else _as_text(body["cards"]))
    return 0


def _as_text(cards: list[dict[str, Any]]) -> str:
    """The cards for a reader at a terminal: their Markdown as a renderer would show it (no backslash escapes, no
    bold markers)."""
    if not cards:
        return "No cards: nothing to advise."
    blocks = []
    for card in cards:
        block = [f"[{card['indicator'].upper()}] {plain(card['summary'])}", "", plain(card.get("detail", ""))]
        for suggestion in card.get("suggestions", ()):
            block.append(f"Suggestion: {plain(suggestion['label'])}")
        blocks.append("\n".join(block))
    return ("\n\n" + "-" * 78 + "\n\n").join(blocks)


if __name__ == "__main__":
    sys.exit(main())

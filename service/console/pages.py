"""The console's pages: status, rules and search, card preview, feedback with plots and CSV.

Server-rendered HTML with no script; every page is read-only (the preview computes cards and stores nothing).
"""

from __future__ import annotations

import csv
import hmac
import io
import logging
import re
import threading
from datetime import date, timedelta
from importlib import metadata
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from werkzeug.exceptions import HTTPException, NotFound

from cds_hooks.errors import CdsError
from cds_hooks.knowledge import DATA_DIR, ORDERED_DRUGS, load_knowledge
from service import health
from service.console import markdown, plots
from service.console.catalogue import Catalogue
from service.console.preview import (
    BUNDLE_HOOKS,
    ORDERABLE,
    PreviewInputError,
    fixtures,
    preview_fixture,
    preview_text,
)
from service.http import cors
from service.http.errors import status_of
from service.runtime import runtime
from service.storage import storage
from service.storage.report import Week, feedback_report, weekly_counts

log = logging.getLogger(__name__)
blueprint = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                      static_folder="static", static_url_path="/static")
CATALOGUE = "ketamine_cds.console.catalogue"
_catalogue_lock = threading.Lock()
WEEKS = 12
REALM = 'Basic realm="ketamine-cds console", charset="UTF-8"'
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ADVICE_WORDS = {"avoid": "Avoid", "hold": "Hold", "monitor": "Monitor", "none": "no card"}


@blueprint.before_request
def _require_credential() -> Response | None:
    """The console's own credential when one is set (always in production): HTTP Basic with it as the password,
    or a bearer token. Never the EHRs' JWTs: those are for the CDS services only."""
    token = runtime().settings.console_token
    if token is None:
        return None
    given = request.authorization
    presented = (given.password if given.type == "basic" else given.token) if given else None
    if presented and hmac.compare_digest(presented.encode(), token.encode()):
        return None
    if given:
        log.warning("console access refused: wrong credential (%s %s)", request.method, request.path)
    response = Response(render_template("console/error.html", status=401, message=(
        "The console needs its credential: the password (any user name) set by CDS_CONSOLE_TOKEN.")), status=401)
    response.headers["WWW-Authenticate"] = REALM
    return response


@blueprint.after_request
def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


@blueprint.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    status = error.code or 500
    return render_template("console/error.html", status=status, message=error.description), status


@blueprint.errorhandler(CdsError)
def _domain_error(error: CdsError) -> tuple[str, int]:
    status = status_of(error)
    return render_template("console/error.html", status=status, message=error.message), status


@blueprint.app_template_filter("markdown")
def _markdown(text: str) -> Any:
    return markdown.render(text or "")


@blueprint.app_template_filter("advice")
def _advice(level: str) -> str:
    return ADVICE_WORDS.get(level, level)


@blueprint.app_template_filter("words")
def _words(pattern: re.Pattern[str]) -> str:
    """The words a compiled word pattern (``(?:a|b)`` between word boundaries) was built from, comma-separated."""
    inner = pattern.pattern.split("(?:", 1)[-1].rsplit(")", 1)[0]
    return ", ".join(sorted(re.sub(r"\\(.)", r"\1", word) for word in inner.split("|")))


def catalogue() -> Catalogue:
    """The rules as the console shows them, built on first use (so start-up does not load the release twice)."""
    found = current_app.extensions.get(CATALOGUE)
    if found is None:
        with _catalogue_lock:
            found = current_app.extensions.get(CATALOGUE)
            if found is None:
                settings = runtime().settings
                found = Catalogue(load_knowledge(settings.knowledge_dir or DATA_DIR), runtime().knowledge)
                current_app.extensions[CATALOGUE] = found
    return found


@blueprint.get("/")
def status() -> str:
    state = runtime()
    settings = state.settings
    checks = {name: _check(name, check) for name, check in health.readiness_checks(current_app).items()}
    if "redis" not in checks:
        checks["redis"] = "not used" if not settings.redis_url else "configured, not used by this configuration"
    config = [
        ("Environment (CDS_ENV)", settings.env),
        ("Client authentication (CDS_AUTH_MODE)", settings.auth_mode or "off (unset)"),
        ("Trusted issuers file", str(settings.trusted_issuers_file or "none")),
        ("Public base URL", settings.public_base_url or "the URL each request reached"),
        ("Browser origins allowed (CORS)", ", ".join(cors.origins(settings)) or "none"),
        ("Knowledge base folder", str(settings.knowledge_dir or "the packaged one")),
        ("Site overrides file", str(settings.knowledge_overrides or "none")),
        ("Database", storage().database.safe_url),
        ("FHIR time budget per hook call", f"{settings.fhir_timeout_seconds} s, at most {settings.fhir_max_pages} "
                                           "pages per search"),
        ("Terminology server (CDS_RXNAV_URL)", settings.rxnav_url or "none: the packaged tables and names"),
        ("Console credential", "required" if settings.console_token else "none (development)"),
    ]
    return render_template("console/status.html", version=_version(), kb=state.knowledge, checks=checks,
                           config=config, overrides=list(state.knowledge.overrides.values()))


@blueprint.get("/rules")
def rules() -> str:
    query = request.args.get("q", "")
    found = catalogue().search(query) if query.strip() else None
    return render_template("console/rules.html", catalogue=catalogue(), query=query, found=found,
                           drugs=ORDERED_DRUGS)


@blueprint.get("/rules/<rule_id>")
def rule(rule_id: str) -> str:
    entry = catalogue().entry(rule_id)
    if entry is None:
        raise NotFound(f"No rule has the id {rule_id!r}.")
    members = catalogue().members(entry.release) if entry.rule.kind == "medication" else ()
    conditions = catalogue().condition_set(entry.rule) if entry.rule.kind == "condition" else None
    return render_template("console/rule.html", entry=entry, rule=entry.rule, release=entry.release,
                           catalogue=catalogue(), members=members, conditions=conditions, drugs=ORDERED_DRUGS)


@blueprint.route("/preview", methods=["GET", "POST"])
def preview() -> tuple[str, int]:
    """GET shows the form; POST answers a fixture or pasted JSON. Errors in the input are shown, not raised."""
    form = request.form
    result, problem, status = None, None, 200
    if request.method == "POST":
        try:
            if form.get("fixture"):
                result = preview_fixture(form["fixture"], runtime().clock().date())
            else:
                result = preview_text(form.get("body", ""), form.get("drug", ""), form.get("hook", ""))
        except PreviewInputError as error:
            problem, status = str(error), 400
        except CdsError as error:
            where = f" (at {error.field})" if error.field else ""
            problem, status = f"{error.message}{where}", status_of(error)
    return render_template("console/preview.html", fixtures=sorted(fixtures()), form=form, result=result,
                           problem=problem, drugs=sorted(ORDERABLE), hooks=BUNDLE_HOOKS), status


@blueprint.get("/feedback")
def feedback() -> str:
    database = storage().database
    report = feedback_report(database)
    today = runtime().clock().date()
    weekly = weekly_counts(database, today, WEEKS)
    groups = [f"{rule} ({advice or '-'})" for rule, advice in weekly]
    chosen = request.args.get("group", "")
    selected = [weeks for (rule, advice), weeks in weekly.items() if f"{rule} ({advice or '-'})" == chosen]
    if chosen and not selected:
        raise NotFound(f"No cards were recorded for {chosen!r} in the last {WEEKS} weeks.")
    series_weeks = selected[0] if selected else _totals(list(weekly.values()), today)
    labels = [week.start.isoformat()[5:] for week in series_weeks]
    timeline = plots.weekly_lines(labels, [
        plots.Series("issued", plots.ISSUED, [w.issued for w in series_weeks]),
        plots.Series("accepted", plots.ACCEPTED, [w.accepted for w in series_weeks]),
        plots.Series("overridden", plots.OVERRIDDEN, [w.overridden for w in series_weeks]),
    ], f"Cards per week, {chosen or 'all rules'}, last {WEEKS} weeks")
    bars = plots.outcome_bars([plots.Bar(f"{row.rule} ({row.advice or '-'})", row.issued, row.accepted,
                                         row.overridden) for row in report.rules], "Cards by rule and advice")
    return render_template("console/feedback.html", report=report, bars=bars, timeline=timeline, groups=groups,
                           chosen=chosen, weeks=series_weeks, span=WEEKS)


@blueprint.get("/feedback.csv")
def feedback_csv() -> Response:
    """The rules part of ``ketamine-cds feedback-report --format json``, one row per rule and advice."""
    rows = feedback_report(storage().database).as_json()["rules"]
    return _csv(rows, ["rule", "advice", "issued", "withFeedback", "accepted", "overridden", "acceptRate",
                       "overrideRate"], "feedback-by-rule.csv")


@blueprint.get("/feedback-reasons.csv")
def feedback_reasons_csv() -> Response:
    rows = feedback_report(storage().database).as_json()["overrideReasons"]
    return _csv(rows, ["rule", "system", "code", "display", "overridden", "share"], "override-reasons.csv")


def _csv(rows: list[dict[str, Any]], columns: list[str], filename: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else _csv_safe(row[key]) for key in columns})
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_safe(value: object) -> object:
    """A text cell a spreadsheet would run as a formula (=, +, -, @) is quoted with a leading apostrophe."""
    return f"'{value}" if isinstance(value, str) and value[:1] in ("=", "+", "-", "@") else value


def _totals(groups: list[list[Week]], today: date) -> list[Week]:
    """Every group's weeks added up; empty weeks when nothing was recorded."""
    if not groups:
        first = today - timedelta(days=today.weekday() + 7 * (WEEKS - 1))
        return [Week(first + timedelta(weeks=n), 0, 0, 0) for n in range(WEEKS)]
    return [Week(weeks[0].start, sum(w.issued for w in weeks), sum(w.accepted for w in weeks),
                 sum(w.overridden for w in weeks)) for weeks in zip(*groups, strict=True)]


def _check(name: str, check: health.Check) -> str:
    result = health.run_check(name, check)
    return "ok" if result["status"] == "ok" else f"failed: {result['reason']}"


def _version() -> str:
    try:
        return metadata.version("ketamine-cds")
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"

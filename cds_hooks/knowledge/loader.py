"""Loads and checks the knowledge files, then applies a site's overrides.

Any problem raises ``KnowledgeError`` naming the file and the field, so a bad rule stops start-up.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, ValidationError

from cds_hooks.errors import KnowledgeError, first_error
from cds_hooks.fhir_json import icd10_key
from cds_hooks.knowledge import schema
from cds_hooks.knowledge.model import (
    AdviceText,
    BloodPressureThreshold,
    Citation,
    ConditionValueSet,
    DrugValueSet,
    Evidence,
    KnowledgeBase,
    Modifier,
    OrderLimit,
    OverrideReason,
    Rule,
    RuleSchema,
    SerotoninWatch,
    SiteOverride,
    Washout,
    When,
)
from cds_hooks.knowledge.vocabulary import (
    ADVICE_RANK,
    ALLERGY,
    BLOOD_PRESSURE,
    CONDITION,
    HOLD,
    MEDICATION,
    NONE,
    ORDER,
)
from cds_hooks.statuses import ELEMENTS, StatusClasses
from cds_hooks.terminology import ROUTES, Ingredient, Product, RouteWords, Terminology
from cds_hooks.vitals import BloodPressureCodes

DATA_DIR = Path(__file__).parent / "data"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (several times faster), else the pure-Python one."""


def load_knowledge(data_dir: Path = DATA_DIR, overrides: Path | None = None) -> KnowledgeBase:
    """Read every knowledge file under ``data_dir``; apply the site override file when one is given."""
    manifest = _validated(schema.ManifestSchema(), _yaml(data_dir / "manifest.yaml"), data_dir / "manifest.yaml")
    statuses = _validated(schema.StatusesSchema(), _yaml(data_dir / "statuses.yaml"), data_dir / "statuses.yaml")
    citations = {
        key: Citation(id=key, label=value["label"], url=value.get("url"), kind=value["kind"], short=value.get("short"))
        for key, value in manifest["citations"].items()
    }
    terminology = _terminology(data_dir / "terminology", RouteWords(manifest["route_words"], manifest["route_codes"]))
    known = terminology.ingredient_names()
    drug_sets = _drug_valuesets(data_dir / "valuesets" / "medications.yaml", known)
    condition_sets = _condition_valuesets(data_dir / "valuesets" / "conditions.yaml")
    rules = tuple(
        _rule(path, citations, drug_sets, condition_sets, known, frozenset(manifest["weak_evidence_grades"]))
        for path in sorted((data_dir / "rules").glob("*.yaml"))
    )
    _unique((rule.id for rule in rules), "id", data_dir / "rules")
    _supersedes_known_rules(rules, data_dir / "rules")
    watch = manifest.get("serotonin_watch")
    if watch and watch["valueset"] not in drug_sets:
        raise KnowledgeError(f"unknown value set {watch['valueset']!r}", file=str(data_dir / "manifest.yaml"),
                             field="serotonin_watch.valueset")
    base = KnowledgeBase(
        version=manifest["version"],
        date=manifest["date"].isoformat(),
        publisher=manifest["publisher"],
        rules=rules,
        drug_valuesets=drug_sets,
        condition_valuesets=condition_sets,
        citations=citations,
        terminology=terminology,
        override_reasons={
            level: tuple(_override_reason(reason) for reason in reasons)
            for level, reasons in manifest["override_reasons"].items()
        },
        anaesthesia_terms=_words(manifest["anaesthesia_terms"]),
        anaesthesia_negation=_negation(**manifest["anaesthesia_negation"]),
        serotonin_watch=SerotoninWatch(**watch) if watch else None,
        statuses=_statuses(statuses),
        local_routes=frozenset(manifest["local_routes"]),
        family_history=_family_history(manifest.get("family_history")),
        blood_pressure=_blood_pressure_codes(manifest.get("blood_pressure")),
        dispense_default_supply=timedelta(days=manifest["dispense_default_supply_days"]),
        generic_texts=_texts(manifest["generic_texts"]),
    )
    if base.blood_pressure is None and any(rule.kind == BLOOD_PRESSURE for rule in rules):
        raise KnowledgeError("blood-pressure rules need the blood_pressure window",
                             file=str(data_dir / "manifest.yaml"), field="blood_pressure")
    _every_advice_has_text(base, data_dir / "rules")
    return apply_overrides(base, overrides) if overrides else base


def _supersedes_known_rules(rules: Sequence[Rule], where: Path) -> None:
    """Each rule a rule supersedes exists, is another rule, and supersedes none itself: which card says a thing is
    then plain from the two files alone."""
    by_id = {rule.id: rule for rule in rules}
    for rule in rules:
        for number, other in enumerate(rule.supersedes):
            field = f"supersedes.{number}"
            if other not in by_id or other == rule.id:
                raise KnowledgeError(f"{other!r} is not another rule", file=str(where / rule.file), field=field)
            if by_id[other].supersedes:
                raise KnowledgeError(f"{other!r} supersedes rules itself; name those here instead",
                                     file=str(where / rule.file), field=field)


def _override_reason(data: Mapping[str, Any]) -> OverrideReason:
    reason = OverrideReason(data["code"], data["display"], ordered_context=data.get("ordered_context"))
    return replace(reason, applies_to=frozenset(data["applies_to"])) if "applies_to" in data else reason


def _texts(data: Mapping[str, Mapping[str, str]]) -> dict[str, AdviceText]:
    return {level: AdviceText(**text) for level, text in data.items()}


def _every_advice_has_text(kb: KnowledgeBase, where: Path) -> None:
    """Every advice a rule can reach (its own per ordered drug, a modifying factor's, a site's) has a text that
    fits it: the rule's, the factor's or the site's own, or the knowledge base's plain text for that level. A card
    must never say "Hold..." under a Monitor summary."""
    for rule in kb.rules:
        for drug, advice in rule.advice.items():
            if advice != NONE and rule.text(advice, site=drug in rule.site_changed) is None \
                    and advice not in kb.generic_texts:
                raise KnowledgeError(f"no text for the advice {advice!r} (for {drug}); give the rule texts.{advice} "
                                     f"or the manifest generic_texts.{advice}", file=str(where / rule.file),
                                     field=f"texts.{advice}")
            for number, modifier in enumerate(rule.modifiers):
                level = modifier.advice.get(drug, NONE)
                if level != NONE and rule.text(level, modifier) is None and level not in kb.generic_texts:
                    raise KnowledgeError(f"no text for the advice {level!r} this factor sets (for {drug})",
                                         file=str(where / rule.file), field=f"modifiers.{number}.text")


def apply_overrides(base: KnowledgeBase, path: Path) -> KnowledgeBase:
    """A site's choices, named per rule: switch a rule off (or on, when it is off by default), change its advice
    for one ordered drug, an order rule's limits or a blood-pressure rule's threshold; and the blood-pressure window,
    the default supply of a dispense and the classes of record statuses (never counting one entered in error).

    Each entry records who approved it, when and why. An absolute contraindication may be neither switched off nor
    lowered below Hold: such a file stops start-up, naming the rule and the reason.
    """
    data = _validated(schema.SiteOverridesSchema(), _yaml(path), path)
    by_id = {rule.id: rule for rule in base.rules}
    overrides = {}
    thresholds = {}
    texts: dict[str, dict[str, AdviceText]] = {}
    changes: dict[str, Mapping[str, Any]] = {}
    for rule_id, entry in data["rules"].items():
        if rule_id not in by_id:
            raise KnowledgeError(f"no rule has the id {rule_id!r}", file=str(path), field=f"rules.{rule_id}")
        change = _validated(schema.RuleOverrideSchema(), entry, path, prefix=f"rules.{rule_id}.")
        if "blood_pressure" in change:
            if by_id[rule_id].kind != BLOOD_PRESSURE:
                raise KnowledgeError("only a blood-pressure rule has a threshold", file=str(path),
                                     field=f"rules.{rule_id}.blood_pressure")
            thresholds[rule_id] = _threshold(change["blood_pressure"])
        override = SiteOverride(
            rule_id=rule_id, enabled=change.get("enabled", True), advice=change.get("advice", {}),
            note=change.get("note"), approved_by=change["approved_by"],
            approved_on=change["approved_on"].isoformat(), reason=change["reason"],
        )
        _allowed(by_id[rule_id], override, path)
        overrides[rule_id] = override
        texts[rule_id] = _texts(change["texts"])
        changes[rule_id] = change
    rules = []
    for rule in base.rules:
        entry = overrides.get(rule.id)
        if entry is None:
            rules.append(rule)
            continue
        if not entry.enabled:
            continue
        asked = changes[rule.id]
        advice = {**rule.advice, **entry.advice}
        site_changed = frozenset(drug for drug, level in advice.items() if level != rule.advice[drug])
        if ("limits" in asked or "blood_pressure" in asked
                or (asked.get("enabled") and not rule.enabled)):  # the site's limits, threshold or rule
            site_changed = frozenset(drug for drug, level in advice.items() if level != NONE)
        changed = replace(rule, advice=advice, site_note=entry.note, site_changed=site_changed,
                          site_texts=texts.get(rule.id, {}), enabled=asked.get("enabled", rule.enabled),
                          blood_pressure=thresholds.get(rule.id, rule.blood_pressure))
        if "limits" in asked:
            changed = _with_limits(changed, asked["limits"], path)
        if (values := changed.placeholders) is not None:
            for level, text in changed.site_texts.items():
                _texts_fillable(values, text, path, f"rules.{rule.id}.texts.{level}")
        rules.append(changed)
    codes = base.blood_pressure
    if "blood_pressure" in data and codes is not None:
        codes = replace(codes, window=timedelta(hours=data["blood_pressure"]["within_hours"]))
    supply = data.get("dispense_default_supply_days")
    site = replace(base, rules=tuple(rules), site=data["site"], overrides=overrides, blood_pressure=codes,
                   dispense_default_supply=timedelta(days=supply) if supply else base.dispense_default_supply,
                   statuses=_site_statuses(base.statuses, data.get("statuses"), path))
    _every_advice_has_text(site, path.parent)
    return site


def _allowed(rule: Rule, override: SiteOverride, path: Path) -> None:
    """KnowledgeError when the override would silence or weaken an absolute contraindication."""
    if not rule.absolute_contraindication:
        return
    why = f"rule {rule.id!r} ({rule.title}) is an absolute contraindication"
    if not override.enabled:
        raise KnowledgeError(f"{why}: a site override may not switch it off", file=str(path),
                             field=f"rules.{rule.id}.enabled")
    for drug, advice in sorted(override.advice.items()):
        if ADVICE_RANK[advice] > ADVICE_RANK[HOLD]:
            raise KnowledgeError(f"{why}: a site override may not lower its {drug} advice below hold (to {advice})",
                                 file=str(path), field=f"rules.{rule.id}.advice.{drug}")


def _with_limits(rule: Rule, limits: Mapping[str, Any], path: Path) -> Rule:
    """An order rule with a site's limits in place of its own; any other rule has none to change."""
    field = f"rules.{rule.id}.limits"
    if rule.limit is None:
        raise KnowledgeError("only an order rule has limits", file=str(path), field=field)
    try:
        schema.check_limits(rule.limit.check, dict(limits), complete=False)
    except ValidationError as error:
        name, message = first_error(error.normalized_messages())
        raise KnowledgeError(message, file=str(path), field=f"{field}.{name}") from None
    return replace(rule, limit=_limit({"check": rule.limit.check, "describe": rule.limit.describe,
                                       **_limit_values(rule.limit), **limits}))


def _limit(data: Mapping[str, Any]) -> OrderLimit:
    return OrderLimit(
        check=data["check"],
        describe=data["describe"],
        allowed_mg=tuple(sorted(set(data.get("allowed_mg", ())))),
        max_per_week=data.get("max_per_week"),
        home_categories=frozenset(data.get("home_categories", ())),
        home_performers=frozenset(data.get("home_performers", ())),
        min_age=data.get("min_age"),
        start_mg=data.get("start_mg"),
    )


def _limit_values(limit: OrderLimit) -> dict[str, Any]:
    """The limits an OrderLimit holds, as a rule file states them."""
    values: dict[str, Any] = {
        "allowed_mg": list(limit.allowed_mg), "home_categories": sorted(limit.home_categories),
        "home_performers": sorted(limit.home_performers), "max_per_week": limit.max_per_week,
        "min_age": limit.min_age, "start_mg": limit.start_mg,
    }
    return {name: value for name, value in values.items() if value not in (None, [])}


def _rule(
    path: Path,
    citations: Mapping[str, Citation],
    drug_sets: Mapping[str, DrugValueSet],
    condition_sets: Mapping[str, ConditionValueSet],
    known: frozenset[str],
    weak_grades: frozenset[str],
) -> Rule:
    data = _validated(RuleSchema(), _yaml(path), path)
    sets = {MEDICATION: drug_sets, ALLERGY: drug_sets, CONDITION: condition_sets}.get(data["kind"], {})
    if data["kind"] not in (BLOOD_PRESSURE, ORDER) and data["valueset"] not in sets:
        raise KnowledgeError(f"unknown {data['kind']} value set {data['valueset']!r}", file=str(path),
                             field="valueset")
    for number, key in enumerate(data["citations"]):
        if key not in citations:
            raise KnowledgeError(f"unknown citation {key!r}", file=str(path), field=f"citations.{number}")
    modifiers = []
    for number, item in enumerate(data["modifiers"]):
        unknown = sorted(set(item["when"]["comedication_ingredients"]) - known)
        if unknown:
            raise KnowledgeError(f"unknown ingredient {unknown[0]!r}", file=str(path),
                                 field=f"modifiers.{number}.when.comedication_ingredients")
        when = item["when"]
        modifiers.append(
            Modifier(
                id=item["id"],
                description=item["description"],
                when=When(
                    ordered_drugs=frozenset(when["ordered_drugs"]),
                    ordered_context=when.get("ordered_context"),
                    ordered_routes=frozenset(when["ordered_routes"]),
                    comedication_routes=frozenset(when["comedication_routes"]),
                    comedication_ingredients=frozenset(when["comedication_ingredients"]),
                ),
                note=item["note"],
                advice=item.get("advice", {}),
                evidence=item.get("evidence"),
                text=AdviceText(**item["text"]) if "text" in item else None,
            )
        )
    limit = _limit(data["limit"]) if "limit" in data else None
    converted = {
        "valueset": data.get("valueset", ""),
        "evidence": Evidence(**data["evidence"], weak=data["evidence"]["grade"] in weak_grades),
        "citations": tuple(citations[key] for key in data["citations"]),
        "washout": _washout(data["washout"]) if data.get("washout") else None,
        "comedication_routes": frozenset(data["comedication_routes"]),
        "modifiers": tuple(modifiers),
        "blood_pressure": _threshold(data["blood_pressure"]) if "blood_pressure" in data else None,
        "texts": _texts(data["texts"]),
        "limit": limit,
        "supersedes": tuple(data["supersedes"]),
    }
    # Every other field is taken as the schema loaded it: a rule field is declared once, on the Rule.
    rule = Rule(**{**data, **converted}, file=path.name)
    values = rule.placeholders
    _fillable(values if values is not None else {"ingredients": ""}, rule.summary, path, "summary")
    if values is not None:
        if rule.limit is not None:
            _fillable(values, rule.limit.describe, path, "limit.describe")
        for level, text in rule.texts.items():
            _texts_fillable(values, text, path, f"texts.{level}")
    return rule


def _threshold(data: Mapping[str, Mapping[str, float]]) -> BloodPressureThreshold:
    inclusive = "at_or_above" in data
    limits = data["at_or_above" if inclusive else "above"]
    return BloodPressureThreshold(limits["systolic"], limits["diastolic"], inclusive)


def _statuses(data: Mapping[str, Any]) -> StatusClasses:
    return StatusClasses(
        classes={f"{kind}.{name}": dict(data[kind][name]) for kind, elements in ELEMENTS.items() for name in elements},
        draft_orders_excluded=frozenset(data["draft_orders_excluded"]),
        planned_orders=tuple(data["planned_orders"]),
        booked_sessions=tuple(data["booked_sessions"]),
    )


def _site_statuses(base: StatusClasses, given: object, path: Path) -> StatusClasses:
    """The release's classes with the site's in their place (any part of the record statuses file). A status the
    site reclassifies keeps its place, so the prefetch still asks for the statuses in the release's order."""
    if given is None:
        return base
    site = _validated(schema.StatusesSchema(partial=True), given, path, prefix="statuses.")
    classes = {}
    for element, release in base.classes.items():
        kind, name = element.split(".")
        classes[element] = {**release, **site.get(kind, {}).get(name, {})}
    return replace(
        base,
        classes=classes,
        draft_orders_excluded=frozenset(site.get("draft_orders_excluded", base.draft_orders_excluded)),
        planned_orders=tuple(site.get("planned_orders", base.planned_orders)),
        booked_sessions=tuple(site.get("booked_sessions", base.booked_sessions)),
    )


def _blood_pressure_codes(data: Mapping[str, Any] | None) -> BloodPressureCodes | None:
    if not data:
        return None
    return BloodPressureCodes(window=timedelta(hours=data["within_hours"]))
def _fillable(values: Mapping[str, str], text: str, path: Path, field: str) -> None:
    """An order rule's text may name its limits (``{allowed}``), a blood-pressure rule's its threshold
    (``{systolic}``), another rule's summary the ingredients found (``{ingredients}``), and nothing else."""
    try:
        text.format_map(values)
    except (KeyError, ValueError, IndexError) as error:
        raise KnowledgeError(f"names a placeholder this rule does not fill ({error})", file=str(path),
                             field=field) from None


def _texts_fillable(values: Mapping[str, str], text: AdviceText, path: Path, field: str) -> None:
    for part in AdviceText.__slots__:
        if value := getattr(text, part):
            _fillable(values, value, path, f"{field}.{part}")


def _washout(data: Mapping[str, int]) -> Washout:
    """``{days: 14}``: 14 days, said "14 days" in a sentence and "14-day" before a noun."""
    if "days" in data:
        amount, unit, period = data["days"], "day", timedelta(days=data["days"])
    else:
        amount, unit, period = data["hours"], "hour", timedelta(hours=data["hours"])
    return Washout(period, f"{amount} {unit}{'' if amount == 1 else 's'}", f"{amount}-{unit}")


def _drug_valuesets(path: Path, known: frozenset[str]) -> dict[str, DrugValueSet]:
    items = _yaml_list(path)
    result = {}
    for number, item in enumerate(items):
        data = _validated(schema.DrugValueSetSchema(), item, path, prefix=f"{number}.")
        unknown = [name for name in data["ingredients"] if name not in known]
        if unknown:
            raise KnowledgeError(
                f"ingredient {unknown[0]!r} is neither in the code table nor in the synonyms",
                file=str(path), field=f"{number}.ingredients",
            )
        result[data["id"]] = DrugValueSet(
            id=data["id"], title=data["title"], version=data["version"], source=data["source"],
            ingredients=frozenset(data["ingredients"]),
        )
    _unique((item.get("id") for item in items), "id", path)
    return result


def _condition_valuesets(path: Path) -> dict[str, ConditionValueSet]:
    items = _yaml_list(path)
    result = {}
    for number, item in enumerate(items):
        data = _validated(schema.ConditionValueSetSchema(), item, path, prefix=f"{number}.")
        result[data["id"]] = ConditionValueSet(
            id=data["id"], title=data["title"], version=data["version"], source=data["source"],
            name=data.get("name") or re.split(r"[,(]", data["title"])[0].strip().lower(),
            icd10cm=tuple(icd10_key(code) for code in data["icd10cm"]),
            snomed=frozenset(data["snomed"]),
            text=_words(data["text"]) if data["text"] else None,
            exclude=_words(data["exclude_text"]) if data["exclude_text"] else None,
        )
    _unique((item.get("id") for item in items), "id", path)
    return result


def _family_history(data: Mapping[str, Any] | None) -> ConditionValueSet | None:
    if not data:
        return None
    return ConditionValueSet(
        id="family-history", title="Family history", version="manifest", source=data.get("source", "manifest.yaml"),
        icd10cm=tuple(icd10_key(code) for code in data["icd10cm"]), snomed=frozenset(data["snomed"]),
        text=_words(data["text"]) if data["text"] else None,
    )


def _terminology(folder: Path, routes: RouteWords) -> Terminology:
    """The code table (``rxnorm.csv``) and the names (``synonyms.csv``) make one Terminology.

    Every ingredient name is also a term. A synonym with no ingredient must be a look-alike: words that contain a
    tracked name but name nothing tracked (``isopropyl alcohol``), so that the shorter name does not match there.
    """
    table = folder / "rxnorm.csv"
    rows = _csv(table, ("rxcui", "tty", "name", "ingredients", "source"))
    ingredient_codes = {row["name"].lower(): row["rxcui"] for row in rows if row["tty"] in {"IN", "PIN", "MIN"}}
    products = []
    for number, row in enumerate(rows, start=2):
        if not row["rxcui"].isdigit():
            raise KnowledgeError("rxcui must be digits", file=str(table), field=f"line {number}")
        names = _names(row["ingredients"])
        if not names:
            raise KnowledgeError("no ingredient", file=str(table), field=f"line {number}")
        products.append(
            Product(
                rxcui=row["rxcui"], tty=row["tty"], name=row["name"],
                ingredients=tuple(Ingredient(name, ingredient_codes.get(name)) for name in names),
            )
        )
    _unique((row["rxcui"] for row in rows), "rxcui", table)
    terms: dict[str, list[str]] = {i.name: [i.name] for product in products for i in product.ingredients}
    term_routes: dict[str, str] = {}
    synonyms = folder / "synonyms.csv"
    for number, row in enumerate(_csv(synonyms, ("term", "ingredients", "kind", "route")), start=2):
        term, names = row["term"].lower(), _names(row["ingredients"])
        if not term or not (names or row["kind"].startswith("look-alike")):
            raise KnowledgeError("a term and its ingredients are required (none only for a look-alike)",
                                 file=str(synonyms), field=f"line {number}")
        if row["route"] and row["route"] not in ROUTES:
            raise KnowledgeError(f"unknown route {row['route']!r}", file=str(synonyms), field=f"line {number}")
        terms[term] = sorted(set(terms.get(term, [])) | set(names))
        if row["route"]:
            term_routes[term] = row["route"]
    return Terminology(products, terms, term_routes, routes)


def _names(cell: str) -> list[str]:
    return [name.strip().lower() for name in cell.split(";") if name.strip()]


def _words(terms: Iterable[str]) -> re.Pattern[str]:
    alternation = "|".join(re.escape(term) for term in sorted(terms, key=len, reverse=True))
    return re.compile(rf"(?<![\w])(?:{alternation})(?![\w])", re.IGNORECASE)


def _negation(words: list[str], prefixes: list[str], reach: int) -> re.Pattern[str]:
    r"""The end of a text that negates the term after it: a word up to ``reach`` words back, or a prefix.

    >>> negation = _negation(["not", "no"], ["non"], 1)
    >>> [bool(negation.search(text)) for text in ("TRD, not for ", "not to be ", "non-", "nothing ")]
    [True, False, True, False]
    """
    alternatives = [rf"\b(?:{'|'.join(map(re.escape, words))})\b(?:\s+\w+){{0,{reach}}}\s*"]
    if prefixes:
        alternatives.append(rf"\b(?:{'|'.join(map(re.escape, prefixes))})[-\s]?")
    return re.compile(f"(?:{'|'.join(alternatives)})$", re.IGNORECASE)


def _validated(schema_: Schema, data: object, path: Path, prefix: str = "") -> dict[str, Any]:
    try:
        return schema_.load(data)  # type: ignore[arg-type]  # marshmallow reports anything not a mapping
    except ValidationError as error:
        field, message = first_error(error.messages)
        raise KnowledgeError(message, file=str(path), field=prefix + field) from None


def _yaml(path: Path) -> object:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_YAML_LOADER)
    except OSError as error:
        raise KnowledgeError(f"cannot be read ({error.strerror})", file=str(path)) from None
    except yaml.YAMLError as error:
        raise KnowledgeError(f"is not valid YAML ({error})", file=str(path)) from None


def _yaml_list(path: Path) -> list[Any]:
    data = _yaml(path)
    if not isinstance(data, list):
        raise KnowledgeError("must be a list of value sets", file=str(path))
    return data


def _csv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [column for column in columns if column not in (reader.fieldnames or ())]
            if missing:
                raise KnowledgeError(f"column {missing[0]!r} is missing", file=str(path), field="header")
            return [{key: (value or "").strip() for key, value in row.items() if key} for row in reader]
    except OSError as error:
        raise KnowledgeError(f"cannot be read ({error.strerror})", file=str(path)) from None


def _unique(ids: Iterable[object], field: str, where: Path) -> None:
    seen: set[object] = set()
    for value in ids:
        if value in seen:
            raise KnowledgeError(f"{value!r} is used twice", file=str(where), field=field)
        seen.add(value)

"""Order rules: what the ketamine or esketamine order itself says (dose, sessions a week, where it is given, the
first dose of an older patient) held to the limits the knowledge base states.

Only what the order states in coded FHIR is read: a dose in ``dosageInstruction.doseAndRate`` (mg, g or
micrograms), a schedule in ``timing``, a ``category`` or ``performer``. An order that does not say fires nothing:
no guessing from free text. An ordered drug whose rule advice is ``none`` (ketamine) is not checked at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from cds_hooks import fhir_json
from cds_hooks.engine import Finding, OrderedDrug
from cds_hooks.knowledge.model import KnowledgeBase, OrderLimit, milligrams, number
from cds_hooks.knowledge.vocabulary import NONE
from cds_hooks.medications import dosage_instructions

CATEGORY_SYSTEM = "http://terminology.hl7.org/CodeSystem/medicationrequest-category"
_MILLIGRAMS_PER = {"mg": 1.0, "g": 1000.0, "ug": 0.001, "mcg": 0.001}
"""Mass units (UCUM code or the unit as written) a dose is read in; any other unit is not read."""
_DAYS_PER = {"s": 1 / 86400, "min": 1 / 1440, "h": 1 / 24, "d": 1.0, "wk": 7.0, "mo": 30.4375, "a": 365.25}
"""UCUM units of a Timing period, in days (a month and a year as their average lengths)."""
_PER_WEEK_OF_CODE = {
    "QD": 7.0, "AM": 7.0, "PM": 7.0, "BED": 7.0, "BID": 14.0, "TID": 21.0, "QID": 28.0, "QOD": 3.5, "WK": 1.0,
    "MO": 7 / 30.4375, "Q1H": 168.0, "Q2H": 84.0, "Q3H": 56.0, "Q4H": 42.0, "Q6H": 28.0, "Q8H": 21.0,
}
"""Sessions a week of the HL7 timing abbreviations (``Timing.code``), read only when ``repeat`` says nothing."""
_PERFORMER_WORDS = {"Patient": "the patient is to take it", "RelatedPerson": "a relative or carer is to give it"}

EarlierOrders = Callable[[OrderedDrug], bool]
"""Whether the patient's records show this ordered drug before this order: an order, a statement, an administration
or a dispense."""


def needs_patient(kb: KnowledgeBase) -> bool:
    """Whether a rule that is on reads the patient's birth date (the first dose by age): only then is the Patient
    worth reading."""
    return kb.first_dose_checked


def evaluate(
    ordered: Sequence[OrderedDrug],
    kb: KnowledgeBase,
    now: datetime,
    patient: Mapping[str, Any] | None = None,
    earlier: EarlierOrders | None = None,
) -> list[Finding]:
    """The order rules that fire for each ordered drug, in the knowledge base's rule order."""
    findings = []
    for drug in ordered:
        for rule in kb.rules:
            if rule.limit is None or not rule.enabled or rule.advice[drug.name] == NONE:
                continue
            observed = _observe(rule.limit, drug, now, patient, earlier)
            if observed:
                findings.append(Finding(rule, drug, rule.advice[drug.name], (), observed=observed))
    return findings


def _observe(
    limit: OrderLimit,
    drug: OrderedDrug,
    now: datetime,
    patient: Mapping[str, Any] | None,
    earlier: EarlierOrders | None,
) -> str | None:
    """What the order says that breaks the limit, in a few words; None when it breaks none or does not say."""
    order = drug.order.source
    if limit.check == "dose":
        wrong = [dose for dose in doses_mg(order) if dose not in limit.allowed_mg]
        return f"{milligrams(tuple(wrong))} per session" if wrong else None
    if limit.check == "frequency":
        per_week = sessions_per_week(order)
        if per_week is None or limit.max_per_week is None or per_week <= limit.max_per_week + 1e-9:
            return None
        return f"{number(round(per_week, 1))} sessions a week"
    if limit.check == "setting":
        return _home_use(order, limit)
    return _first_dose_too_high(limit, drug, age_in_years(patient, now), earlier)


def doses_mg(order: Mapping[str, Any]) -> list[float]:
    """Every dose per administration the order states in a mass unit, in mg (each bound of a dose range).

    >>> doses_mg({"dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 84, "code": "mg"}}]}]})
    [84.0]
    >>> doses_mg({"dosageInstruction": [{"text": "84 mg"}]})
    []
    """
    found: list[float] = []
    for dosage in dosage_instructions(order):
        for dose_and_rate in fhir_json.items(dosage.get("doseAndRate")):
            if not isinstance(dose_and_rate, dict):
                continue
            quantities = [dose_and_rate.get("doseQuantity")]
            dose_range = dose_and_rate.get("doseRange")
            if isinstance(dose_range, dict):
                quantities += [dose_range.get("low"), dose_range.get("high")]
            for quantity in quantities:
                milligrams_ = _in_milligrams(quantity)
                if milligrams_ is not None and milligrams_ not in found:
                    found.append(milligrams_)
    return found


def _in_milligrams(quantity: object) -> float | None:
    if not isinstance(quantity, dict):
        return None
    value, unit = quantity.get("value"), quantity.get("code") or quantity.get("unit")
    if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(unit, str):
        return None
    factor = _MILLIGRAMS_PER.get(unit.strip().lower())
    if factor is None or not value > 0 or value == float("inf"):
        return None
    return round(value * factor, 6)


def sessions_per_week(order: Mapping[str, Any]) -> float | None:
    """The most sessions a week any dosage of the order asks for; None when no dosage states a schedule.

    >>> sessions_per_week({"dosageInstruction": [{"timing": {"repeat": {"frequency": 2, "period": 1,
    ...                                                                  "periodUnit": "wk"}}}]})
    2.0
    >>> sessions_per_week({"dosageInstruction": [{"timing": {"code": {"coding": [{"code": "BID"}]}}}]})
    14.0
    """
    rates = [rate for dosage in dosage_instructions(order) if (rate := _per_week(dosage.get("timing"))) is not None]
    return max(rates) if rates else None


def _per_week(timing: object) -> float | None:
    if not isinstance(timing, dict):
        return None
    repeat = timing.get("repeat")
    if isinstance(repeat, dict):
        rate = _repeat_per_week(repeat)
        if rate is not None:
            return rate
    codes = [coding.get("code") for coding in fhir_json.codings(timing.get("code"))]
    rates = [_PER_WEEK_OF_CODE[code] for code in codes if isinstance(code, str) and code in _PER_WEEK_OF_CODE]
    return max(rates) if rates else None


def _repeat_per_week(repeat: Mapping[str, Any]) -> float | None:
    """Sessions a week of a Timing.repeat: ``frequency`` (or ``frequencyMax``) per ``period`` ``periodUnit``;
    named days of the week count once each (times the frequency when it is per day)."""
    frequency = _positive(repeat.get("frequencyMax")) or _positive(repeat.get("frequency"))
    times_of_day = [time for time in fhir_json.items(repeat.get("timeOfDay")) if isinstance(time, str)]
    if frequency is None and times_of_day:
        frequency = float(len(times_of_day))
    period, unit = _positive(repeat.get("period")), repeat.get("periodUnit")
    days = {day for day in fhir_json.items(repeat.get("dayOfWeek")) if isinstance(day, str)}
    if days:
        per_day = (frequency or 1.0) if (unit == "d" and period == 1) or times_of_day else 1.0
        return len(days) * per_day
    if period is None or unit not in _DAYS_PER:
        return None
    return (frequency or 1.0) * 7 / (period * _DAYS_PER[unit])


def _positive(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < float("inf"):
        return None
    return float(value)


def _home_use(order: Mapping[str, Any], limit: OrderLimit) -> str | None:
    """``for use at home (category community)``, or who is named to give it at home; None when the order does
    not say it is for use at home."""
    for concept in fhir_json.items(order.get("category")):
        for coding in fhir_json.codings(concept):
            system, code = coding.get("system"), coding.get("code")
            if code in limit.home_categories and system in (None, CATEGORY_SYSTEM):
                return f"for use at home (category {code})"
    performer = order.get("performer")
    reference = performer.get("reference") if isinstance(performer, dict) else None
    kind = performer.get("type") if isinstance(performer, dict) else None
    if isinstance(reference, str) and "/" in reference:
        kind = reference.rstrip("/").split("/")[-2]
    if isinstance(kind, str) and kind in limit.home_performers:
        return f"for use at home ({_PERFORMER_WORDS.get(kind, kind)})"
    return None


def _first_dose_too_high(
    limit: OrderLimit, drug: OrderedDrug, age: int | None, earlier: EarlierOrders | None
) -> str | None:
    if age is None or limit.min_age is None or limit.start_mg is None or age < limit.min_age:
        return None
    above = [dose for dose in doses_mg(drug.order.source) if dose > limit.start_mg]
    if not above or (earlier is not None and earlier(drug)):
        return None
    return f"{milligrams((max(above),))} as a first dose at {age}"


def age_in_years(patient: Mapping[str, Any] | None, now: datetime) -> int | None:
    """Whole years since ``birthDate``; a partial date counts from its last day, so an age is never overstated.

    >>> from datetime import UTC
    >>> age_in_years({"birthDate": "1960-12-05"}, datetime(2026, 12, 5, tzinfo=UTC))
    66
    >>> age_in_years({"birthDate": "1961"}, datetime(2026, 12, 5, tzinfo=UTC))
    64
    """
    if not isinstance(patient, Mapping):
        return None
    born = fhir_json.parse_datetime(patient.get("birthDate"), upper=True)
    if born is None or born > now:
        return None
    return now.year - born.year - ((now.month, now.day) < (born.month, born.day))



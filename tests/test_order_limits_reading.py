"""The order rules read whatever an EHR puts in an order's dosage, category, performer and a Patient's birth date:
any JSON there is read or left alone, never an exception (property-based)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from cds_hooks import order_limits
from cds_hooks.engine import find_ordered_drugs
from cds_hooks.knowledge import load_knowledge
from cds_hooks.medications import MedicationIndex, read_medication
from tests.builders import ordered

KB = load_knowledge()
NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
WORDS = st.sampled_from(["mg", "g", "ug", "device", "wk", "d", "mo", "a", "h", "BID", "community", "Patient/1",
                         "value", "code", "unit", "frequency", "period", "periodUnit", "dayOfWeek", "mon"])
JSON = st.recursive(SCALARS | WORDS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(WORDS | st.text(max_size=6), inner, max_size=5), max_leaves=25)
QUANTITY = st.fixed_dictionaries({}, optional={"value": SCALARS, "code": WORDS | SCALARS, "unit": WORDS | SCALARS})
REPEAT = st.fixed_dictionaries({}, optional={
    "frequency": SCALARS, "frequencyMax": SCALARS, "period": SCALARS, "periodUnit": WORDS | SCALARS,
    "dayOfWeek": JSON, "timeOfDay": JSON})
DOSAGE = st.fixed_dictionaries({}, optional={
    "doseAndRate": st.lists(st.fixed_dictionaries({}, optional={"doseQuantity": QUANTITY | JSON,
                                                                 "doseRange": JSON}), max_size=3) | JSON,
    "timing": st.fixed_dictionaries({}, optional={"repeat": REPEAT | JSON, "code": JSON}) | JSON})


@settings(max_examples=100, deadline=None, database=None)
@given(dosages=st.lists(DOSAGE, max_size=3) | JSON, category=JSON, performer=JSON)
def test_any_dosage_category_or_performer_is_read_without_error(dosages, category, performer):
    order = {**ordered("esketamine"), "dosageInstruction": dosages, "category": category, "performer": performer}
    for dose in order_limits.doses_mg(order):
        assert dose > 0 and math.isfinite(dose)
    per_week = order_limits.sessions_per_week(order)
    assert per_week is None or (per_week > 0 and math.isfinite(per_week))
    fact = read_medication(order, KB.terminology, MedicationIndex(), KB.statuses, draft=True)
    for finding in order_limits.evaluate(find_ordered_drugs([fact], KB), KB, NOW, {"birthDate": "1950"}):
        assert finding.observed and finding.rule.kind == "order"


@settings(max_examples=60, deadline=None, database=None)
@given(born=JSON | st.dates().map(str) | st.text(max_size=12))
def test_any_birth_date_is_an_age_or_none(born):
    age = order_limits.age_in_years({"birthDate": born}, NOW)
    assert age is None or 0 <= age < 10000

"""The words the knowledge base is written in: advice levels, the ordered drugs, kinds of rule, order checks and
evidence grades. The in-memory model (``model``) and the files' schemas (``schema``) both speak them."""

from __future__ import annotations

AVOID, HOLD, MONITOR, NONE = "avoid", "hold", "monitor", "none"
ADVICE_LEVELS = (AVOID, HOLD, MONITOR, NONE)
"""Most severe first; the order of cards in a response."""
ADVICE_RANK = {level: rank for rank, level in enumerate(ADVICE_LEVELS)}
ORDERED_DRUGS = ("ketamine", "esketamine")
"""The drugs whose orders this service checks, by RxNorm ingredient name."""
MEDICATION, CONDITION, ALLERGY, BLOOD_PRESSURE = "medication", "condition", "allergy", "blood-pressure"
ORDER = "order"
INTERACTION_KINDS = (MEDICATION, CONDITION, ALLERGY, BLOOD_PRESSURE)
"""The rules about the patient's data (``engine``); an ``order`` rule is about the order itself (``order_limits``)."""
RULE_KINDS = (*INTERACTION_KINDS, ORDER)
"""What a rule is about: a co-medication value set, a condition value set, an allergy to a drug value set (the
ordered drugs themselves), or the latest blood-pressure reading against a threshold."""
FIRST_DOSE_CHECK = "first-dose-by-age"
"""The order check that asks whether the ordered drug was ever had before, in any record however old."""
ORDER_CHECKS = ("dose", "frequency", "setting", FIRST_DOSE_CHECK)
"""What an ``order`` rule checks on the ketamine or esketamine order itself."""
GRADES = ("label", "pk-study", "observational", "weak", "conflicting", "policy")
"""The evidence grades a rule may state; the manifest says which of them cards call weak."""

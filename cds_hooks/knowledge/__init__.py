"""The clinical knowledge base: rules, value sets and terminology kept as versioned data files."""

from cds_hooks.knowledge.loader import DATA_DIR, apply_overrides, load_knowledge
from cds_hooks.knowledge.model import KnowledgeBase, Rule
from cds_hooks.knowledge.table import replace_section, rules_markdown, section
from cds_hooks.knowledge.vocabulary import ADVICE_LEVELS, ADVICE_RANK, AVOID, HOLD, MONITOR, NONE, ORDERED_DRUGS

__all__ = [
    "ADVICE_LEVELS",
    "ADVICE_RANK",
    "AVOID",
    "DATA_DIR",
    "HOLD",
    "MONITOR",
    "NONE",
    "ORDERED_DRUGS",
    "KnowledgeBase",
    "Rule",
    "apply_overrides",
    "load_knowledge",
    "replace_section",
    "rules_markdown",
    "section",
]

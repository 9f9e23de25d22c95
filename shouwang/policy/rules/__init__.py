"""The policy engine's pure core: versions as data in, decisions with their explanation out. No ORM here."""

from shouwang.policy.rules.load import PolicyFileError, VersionFile, build, load_all, parse_file
from shouwang.policy.rules.model import MEASURES, Ruleset
from shouwang.policy.rules.plans import (
    Because,
    Plan,
    contact_lookback,
    isolation_site_reset,
    measure_plan,
    reclassify_secondary,
)
from shouwang.policy.rules.zones import code_colour, pooling_mode, zone_lift_eligibility

__all__ = [
    "MEASURES", "Because", "Plan", "PolicyFileError", "Ruleset", "VersionFile", "build", "code_colour",
    "contact_lookback", "isolation_site_reset", "load_all", "measure_plan", "parse_file", "pooling_mode",
    "reclassify_secondary", "zone_lift_eligibility",
]

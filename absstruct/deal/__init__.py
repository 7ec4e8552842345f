"""Deal definitions: the TOML deal file validated into frozen structure models.

:func:`load_deal` reads a deal file into a :class:`Deal`; the sections are models in
:mod:`absstruct.deal.model`, the waterfall steps in :mod:`absstruct.deal.steps`, the
business-day calendar and payment schedule in :mod:`absstruct.deal.calendar`.
"""

from absstruct.deal.load import load_deal, parse_deal, validate_deal
from absstruct.deal.model import Deal, Tranche, Trigger

__all__ = ["Deal", "Tranche", "Trigger", "load_deal", "parse_deal", "validate_deal"]

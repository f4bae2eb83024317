"""What happened, announced: services send these blinker signals and listeners in other
packages act on them, so a service never calls into disclosure (or any later listener).

Every signal here must have its listeners connected before the app serves a request:
:func:`require_listeners` (called by ``create_app``) imports the listening modules and refuses
to start when a signal has none, since a decision issued with nobody listening would silently
never be published.
"""

from __future__ import annotations

import importlib

from blinker import Namespace

_signals = Namespace()

decision_issued = _signals.signal("decision-issued")
"""A penalty decision was issued. Sent with ``session``, ``case``, ``document``, ``actor``."""

calendar_changed = _signals.signal("calendar-changed")
"""A unit's or the national calendar changed. Sent with ``session``, ``changes``
({unit_id: (before, after)} WorkCalendars), ``actor``, ``client_addr``."""

# The modules whose listeners must be connected, by the signals they serve.
LISTENERS: dict[str, tuple[str, ...]] = {
    "decision-issued": ("server.disclosure.service",),
    "calendar-changed": (
        "server.services.legal_review",
        "server.disclosure.service",
        "server.disclosure.inspections",
    ),
}


def require_listeners() -> None:
    """Import every listening module; raise when a signal still has no receiver."""
    for name, modules in LISTENERS.items():
        for module in modules:
            importlib.import_module(module)
        if not _signals[name].receivers:
            raise RuntimeError(f"no listener for the {name!r} event: {', '.join(modules)}")

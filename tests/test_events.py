"""Services announce what happened; the listeners that must act are connected at start-up."""

from __future__ import annotations

import pytest

from server import events


def test_every_event_has_its_listeners() -> None:
    events.require_listeners()
    assert events.decision_issued.receivers
    assert len(events.calendar_changed.receivers) >= 3  # legal review, decisions, inspections


def test_an_event_nobody_listens_to_refuses_to_start(monkeypatch) -> None:
    orphan = events._signals.signal("nobody-listens")
    monkeypatch.setitem(events.LISTENERS, "nobody-listens", ("server.events",))
    assert not orphan.receivers
    with pytest.raises(RuntimeError, match="no listener for the 'nobody-listens' event"):
        events.require_listeners()


def test_the_services_do_not_import_disclosure() -> None:
    """Issuing a decision and changing the calendar reach disclosure through events only."""
    import inspect
    import re

    from server.services import calendar, documents

    for module in (calendar, documents):
        imports = re.findall(r"^\s*(?:from|import) \S+", inspect.getsource(module), re.M)
        assert not [line for line in imports if "disclosure" in line], module

"""Scenario keys stored before 0013 that run over 256 characters (an ESP's message id,
campaign id or recipient of kilobytes) are kept as their start and a hash, as they are
written from now on (`connector/storage/scenario_keys.py`), so lookups find them."""

from typing import Any

from yoyo import step

from connector.storage.scenario_keys import bound_stored_keys

__depends__ = {"0009.attempt-history"}
MARK = "?"  # the driver's placeholder


def _bound(connection: Any) -> None:
    bound_stored_keys(connection, MARK)


steps = [step(_bound)]

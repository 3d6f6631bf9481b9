"""The registry of built-in providers: adding one is a module, a line here, a fixture folder.

Provider modules satisfy the `Provider` protocol directly (mypy checks modules against
protocols), so the registry is a plain dict literal.
"""

from __future__ import annotations

from providers import customerio
from providers.base import Provider

PROVIDERS: dict[str, Provider] = {
    "customerio": customerio,
}

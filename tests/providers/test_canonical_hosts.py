"""`link.canonical` and link patterns: one link whichever way its host or wildcard is
spelled, so a rule written one way selects the clicks an ESP reports the other way."""

from __future__ import annotations

import pytest

from connector.rules.model import RuleSettings
from connector.rules.scenario_model import link_selected
from providers.canonical import canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("https://xn--bcher-kva.example/x", "https://bücher.example/x"),
        ("https://XN--BCHER-KVA.example./x", "https://bücher.example/x"),
        ("https://BÜCHER.example/x", "https://bücher.example/x"),
        ("https://shop.xn--bcher-kva.example/", "https://shop.bücher.example/"),
        ("https://xn--zz.example/", "https://xn--zz.example/"),  # not punycode: as sent
    ],
)
def test_a_punycode_host_is_the_unicode_host(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    ("pattern", "clicked", "selected"),
    [
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x?utm_source=esp", True),
        ("https://xn--bcher-kva.example/x", "https://bücher.example/x", True),
        ("https://*", "https://a.example/deep/page?q=1", True),  # every https link
        ("https://*", "http://a.example/", False),
        ("https://*.example.org*", "https://shop.example.org/a", True),
        ("https://shop.example.org/*", "https://shop.example.org/a/b", True),
    ],
)
def test_patterns_select_every_spelling(pattern: str, clicked: str, selected: bool) -> None:
    rule = RuleSettings.model_validate({"id": "r", "links": [pattern], "actions": ["a"]})
    canonical = canonical_url(clicked)
    assert canonical is not None
    assert link_selected(rule.links, canonical) is selected

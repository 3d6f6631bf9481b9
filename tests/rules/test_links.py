"""classify_link: real destinations pass, ESP system links and non-web links are named."""

from __future__ import annotations

import pytest

from connector.rules.links import classify_link

REAL = [
    "https://shop.example.org/pricing?utm_source=cio",
    "http://example.org",
    "HTTPS://Shop.Example.org/Spring",
    "https://example.org/blog/how-we-chose-our-preferred-vendors",
    "https://example.org/cookie-preference",  # singular: a product page, not a centre
    "https://example.org/products/unsubscribed-box?ref=mail",  # 'unsubscribed' is a word
    "https://example.org/adopt-out-of-shelter",
    "https://manage.kmail-lists.com/subscriptions/subscribe?a=1&g=2",  # a sign-up form
    "https://example.org/?q=unsubscribe+me",  # a search for the word, not an action
    "https://7d623.r.a.d.sendibm1.com/mk/cl/f/s9yFPCn8",  # Brevo's click redirect
]

SYSTEM = [
    # Mailchimp (public message archives)
    ("https://acme.us5.list-manage.com/unsubscribe?u=abdef&id=1", "unsubscribe"),
    ("https://acme.us11.list-manage.com/profile?u=3&id=01&e=7&c=14", "preferences"),
    ("https://us5.campaign-archive.com/?u=abc&id=def", "view_in_browser"),
    # SendGrid
    ("https://u4777.ct.sendgrid.net/asm/unsubscribe/?user_id=4777&data=x", "unsubscribe"),
    ("https://u4504.ct.sendgrid.net/asm/?user_id=4504&data=x", "preferences"),
    ("https://u1.ct.sendgrid.net/wf/unsubscribe?upn=abc", "unsubscribe"),
    # Brevo / Sendinblue, incl. a custom tracking domain
    ("https://bruy2.r.a.d.sendibm1.com/mk/un/sh/SMJz09/30Wa", "unsubscribe"),
    ("http://r.email.example-shop.com/mk/un/v2/blK2WQO", "unsubscribe"),
    ("https://7d623.r.a.d.sendibm1.com/mk/mr/BOH4TaRz", "view_in_browser"),
    ("https://7d623.r.a.d.sendibm1.com/mk/up/ZUHES_QO", "preferences"),
    # Mailjet, Customer.io, HubSpot-style and generic shapes
    ("http://xz01x.mjt.lu/unsub2?hl=en&m=AVMAA&b=4b5c", "unsubscribe"),
    ("https://e.customeriomail.com/unsubscribe/dgSk3wUA", "unsubscribe"),
    ("https://e.example.com/manage_subscription_preferences/abc", "preferences"),
    ("https://hs.example.net/hs/manage-preferences/unsubscribe?d=1", "unsubscribe"),
    ("https://example.org/email/opt-out?t=1", "unsubscribe"),
    ("https://example.org/OptOut", "unsubscribe"),
    ("https://example.org/preferences", "preferences"),
    ("https://example.org/subscription-center?id=1", "preferences"),
    ("https://example.org/newsletter/view-in-browser/123", "view_in_browser"),
    ("https://example.org/webversion/123", "view_in_browser"),
    ("https://example.org/proc.php?act=unsub&nl=1", "unsubscribe"),
    ("https://example.org/list?unsubscribe_token=abc", "unsubscribe"),
    # non-web and broken
    ("mailto:help@example.org?subject=unsubscribe", "scheme:mailto"),
    ("tel:+441234567", "scheme:tel"),
    ("sms:+441234567", "scheme:sms"),
    ("javascript:alert(1)", "scheme:javascript"),
    ("data:text/html,hi", "scheme:data"),
    ("ftp://files.example.org/a", "scheme:ftp"),
    ("#top", "anchor"),
    ("", "empty"),
    ("   ", "empty"),
    ("www.example.org/page", "no_scheme"),
    ("{{unsubscribe}}", "no_scheme"),
    ("https:///path-only", "invalid"),
    ("http://[::1", "invalid"),
]


@pytest.mark.parametrize("url", REAL)
def test_real_links_are_not_system_links(url: str) -> None:
    """Ordinary http(s) destinations, even with look-alike words, are real links."""
    assert classify_link(url) is None


@pytest.mark.parametrize(("url", "reason"), SYSTEM)
def test_system_links_are_named(url: str, reason: str) -> None:
    """ESP unsubscribe / preference / web-version links and non-web links get a reason."""
    assert classify_link(url) == reason


def test_non_string_input_is_invalid_not_an_error() -> None:
    """Whatever arrives, classify_link answers instead of raising."""
    assert classify_link(None) == "invalid"  # type: ignore[arg-type]
    assert classify_link("https://example.org/" + "a" * 100_000) is None

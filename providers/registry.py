"""The registry of built-in providers: adding one is a module, a line here, a fixture folder.

Provider modules satisfy the `Provider` protocol directly (mypy checks modules against
protocols), so the registry is a plain dict literal.
"""

from __future__ import annotations

from providers import (
    amazon_ses,
    brevo,
    customerio,
    generic,
    mailersend,
    mailgun,
    mailjet,
    mandrill,
    postal,
    postmark,
    resend,
    sendgrid,
    sparkpost,
)
from providers.base import Provider

PROVIDERS: dict[str, Provider] = {
    "amazon_ses": amazon_ses,
    "brevo": brevo,
    "customerio": customerio,
    "generic": generic,
    "mailersend": mailersend,
    "mailgun": mailgun,
    "mailjet": mailjet,
    "mandrill": mandrill,
    "postal": postal,
    "postmark": postmark,
    "resend": resend,
    "sendgrid": sendgrid,
    "sparkpost": sparkpost,
}

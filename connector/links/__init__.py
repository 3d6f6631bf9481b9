"""Trigger links: `GET /t/{slug}` redirects a person and records a `link.clicked` event."""

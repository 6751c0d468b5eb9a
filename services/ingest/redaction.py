"""What may be kept of a request: no credentials anywhere, no email address in the admin view or in
the raw record's headers."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from shared.events.keys import mask_emails as mask_emails  # the one masking, kept importable from here
from shared.events.keys import remove_emails as remove_emails

SECRET_HEADERS = {
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-hubspot-signature",
    "x-hubspot-signature-v3",
    "webhook-signature",
    "x-lockstep-token",
}
SECRET_QUERY = {"token", "access_token", "key", "secret"}


def safe_headers(headers: dict[str, str]) -> dict[str, str]:
    return {name: ("[redacted]" if name in SECRET_HEADERS else remove_emails(value)) for name, value in headers.items()}


def safe_url(url: str) -> str:
    if "?" not in url:
        return remove_emails(url)
    parts = urlsplit(url)
    query = [
        (k, "[redacted]" if k.lower() in SECRET_QUERY else remove_emails(v))
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return remove_emails(urlunsplit(parts._replace(query=urlencode(query))))

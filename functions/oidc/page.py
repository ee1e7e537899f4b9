"""The hosted pages: "scan with your phone" for an authorization request, and the error page.

Everything the page loads comes from the stack itself (``/qrlogin.js``,
``/authorize.js``); its Content-Security-Policy allows nothing else, no
framing (``frame-ancestors 'none'``), and styles only with this response's nonce.
"""

from __future__ import annotations

import html
import json
import secrets
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.event_handler import Response

STATIC = Path(__file__).resolve().parent / "static"

_STYLE = """
:root{color-scheme:light;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#111827}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:#f3f4f6}
main{background:#fff;padding:32px 40px;border-radius:18px;box-shadow:0 10px 30px rgb(0 0 0 / .08);text-align:center;
  max-width:360px}
h1{font-size:22px;margin:0 0 4px}p.lead{margin:0 0 20px;color:#4b5563}
.qrl-start-over{display:none!important}
"""


def _headers(nonce: str, connect: str) -> dict[str, str]:
    policy = "; ".join([
        "default-src 'none'", "script-src 'self'", f"style-src 'nonce-{nonce}'", "img-src data:",
        f"connect-src 'self' {connect}".rstrip(), "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ])
    return {
        "Content-Security-Policy": policy,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
    }


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _json_for_script(value: Any) -> str:
    """JSON that is safe inside <script type="application/json">: no "<", no line separators."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def authorize_page(session_body: dict[str, Any], client_name: str) -> Response:
    nonce = secrets.token_urlsafe(16)
    data = {"session": session_body, "style_nonce": nonce}
    who = f"to continue to <strong>{html.escape(client_name)}</strong>" if client_name else "to continue"
    body = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sign in with your phone</title>
<style nonce="{nonce}">{_STYLE}</style>
<script type="application/json" id="qrl-authorization">{_json_for_script(data)}</script>
<script type="module" src="authorize.js"></script>
</head>
<body data-outcome="waiting">
<main>
<h1>Sign in with your phone</h1>
<p class="lead">{who}</p>
<div id="qr-login"></div>
<noscript>This page needs JavaScript to show the code.</noscript>
</main>
</body>
</html>
"""
    return Response(status_code=200, content_type="text/html; charset=utf-8", body=body,
                    headers=_headers(nonce, _origin(session_body.get("websocket_url", ""))))


def error_page(message: str, status_code: int = 400) -> Response:
    """An authorization request we cannot answer with a redirect: say why, and go nowhere."""
    nonce = secrets.token_urlsafe(16)
    body = f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Sign-in error</title><style nonce="{nonce}">{_STYLE}</style></head>
<body data-outcome="error">
<main><h1>This sign-in link is not valid</h1>
<p class="lead" id="error">{html.escape(message)}</p>
<p>Go back to the application and try again. If it keeps happening, tell its developers.</p></main>
</body>
</html>
"""
    return Response(status_code=status_code, content_type="text/html; charset=utf-8", body=body,
                    headers=_headers(nonce, ""))


@cache
def script(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def script_response(name: str) -> Response:
    # Short public caching: a new deploy reaches every browser within five minutes.
    return Response(status_code=200, content_type="text/javascript; charset=utf-8", body=script(name),
                    headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"})

"""The API explorer (`/docs`): Swagger UI from fastapi-offline's assets, under a strict CSP.

Swagger UI's page starts the bundle with one inline script. Rather than allow every inline
script (`'unsafe-inline'`), the policy names that script by its SHA-256 hash: nothing else
inline runs, even if something were injected into the page.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

STATIC = "/static-offline-docs"  # where fastapi-offline mounts Swagger UI's files
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def policy(html: str) -> str:
    """Return the page's Content-Security-Policy: its own inline scripts by hash, else 'self'."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
        for body in INLINE_SCRIPT.findall(html)
    )
    # Swagger UI's React views set style attributes: inline style (not script) is allowed.
    return (
        f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )


def install(app: FastAPI) -> None:
    """Serve Swagger UI at `/docs` (the app is built with `docs_url=None`)."""

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{root}{STATIC}/favicon.png",
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        html = bytes(page.body).decode()
        return HTMLResponse(html, headers={"Content-Security-Policy": policy(html)})

"""Each service's `/openapi.json` and `/docs` (Swagger UI 5), served without a CDN.

Public on purpose: they describe shapes, never data (the same shapes are in the repository),
and an integrator needs them before holding a token; every data route still requires its
scope. The page's assets come from the `fastapi-offline` package, served under `/docs/assets`
with relative URLs, so the page works behind an ingress path prefix and on a closed network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR: Final = Path(fastapi_offline.__file__).parent / "static"
ASSETS_PATH: Final = "/docs/assets"
BEARER: Final = "bearer"


def install_api_docs(app: FastAPI) -> None:
    """On an app made with docs_url, redoc_url and openapi_url None (FastAPI's own pages load
    Swagger UI from a CDN and would answer first)."""
    if app.docs_url or app.redoc_url or app.openapi_url:
        raise ValueError("make the app with docs_url, redoc_url and openapi_url set to None")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
            components = schema.setdefault("components", {})
            components.setdefault("securitySchemes", {})[BEARER] = {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "JWT",
                "description": "An OIDC access token with the route's scope (docs/deploy.md).",
            }
            schema["security"] = [{BEARER: []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi_document() -> dict[str, Any]:
        return app.openapi()

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        # Relative URLs: /docs resolves them against the service's own origin and prefix.
        return get_swagger_ui_html(
            openapi_url="openapi.json",
            title=f"{app.title}: API",
            swagger_js_url="docs/assets/swagger-ui-bundle.js",
            swagger_css_url="docs/assets/swagger-ui.css",
            swagger_favicon_url="docs/assets/favicon.png",
        )

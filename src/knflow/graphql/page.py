"""The GraphiQL page at `/graphiql`, with its scripts and styles served by the function.

Nothing is loaded from a CDN: on an air-gapped cluster (common for Developer Hub) a page
that fetches React from the internet stays a blank "Loading...". The assets come from
pinned npm packages at install time (`knflow.deploy.graphiql_assets`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from knflow.errors import NotFoundError
from knflow.runtime.services import Services
from knflow.runtime.web import Request, Response

ASSETS_DIR: Final = Path(__file__).resolve().parent / "static"
"""Where `make install` puts the bundles (package data, never committed)."""
PINNED_ASSETS: Final = Path(__file__).resolve().parent / "graphiql-assets.txt"
"""The npm packages, versions and integrity hashes the bundles come from."""
STATIC_PREFIX: Final = "/graphiql/static"
CONTENT_TYPES: Final = {".js": "text/javascript", ".css": "text/css"}
ASSETS: Final = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
)
_PAGE: Final = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>knflow Data Index - GraphiQL</title>
<link rel="stylesheet" href="{prefix}/graphiql.min.css">
<style>body {{ margin: 0; height: 100vh; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql">Loading...</div>
<script src="{prefix}/react.production.min.js"></script>
<script src="{prefix}/react-dom.production.min.js"></script>
<script src="{prefix}/graphiql.min.js"></script>
<script>
  const fetcher = GraphiQL.createFetcher({{
    url: new URL("{graphql}", window.location.href).toString(),
  }});
  const root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {{ fetcher: fetcher }}));
</script>
</body>
</html>
"""


def serve_page(services: Services, request: Request, *, graphql_path: str) -> Response:
    """Serve the page, or a 503 saying how to install the assets when they are missing."""
    missing = [name for name in ASSETS if not (ASSETS_DIR / name).is_file()]
    if missing:
        message = (
            "the GraphiQL assets are not installed (missing "
            f"{', '.join(missing)}); run `make install` or"
            " `python -m knflow.deploy.graphiql_assets`"
        )
        return Response(status=503, body={"message": message})
    page = _PAGE.format(prefix=STATIC_PREFIX, graphql=graphql_path)
    return Response(
        body=page.encode("utf-8"), headers={"content-type": "text/html; charset=utf-8"}
    )


def serve_asset(services: Services, request: Request) -> Response:
    """Serve one of the bundles by name; nothing else under the folder is reachable.

    Raises:
        NotFoundError: the name is not one of the assets.
    """
    name = request.params["name"]
    path = ASSETS_DIR / name
    if name not in ASSETS or not path.is_file():
        raise NotFoundError(f"no GraphiQL asset '{name}'")
    return Response(
        body=path.read_bytes(),
        headers={
            "content-type": CONTENT_TYPES[path.suffix],
            "cache-control": "public, max-age=86400",
        },
    )

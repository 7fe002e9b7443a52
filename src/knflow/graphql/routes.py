"""The Data Index's HTTP routes: `/graphql` (GET and POST), GraphiQL at `/graphiql` and its assets.

Kept apart from `graphql.http` so that data-index-sink can route without importing strawberry
and building the schema: the function wakes up mostly for the other functions' CloudEvents,
and the first query is what pays for the GraphQL machinery.
"""

from __future__ import annotations

from typing import Final

from knflow.auth.policy import Permission
from knflow.graphql import page
from knflow.runtime.services import Services
from knflow.runtime.web import Request, Response, Route

GRAPHQL_PATH: Final = "/graphql"
GRAPHIQL_PATH: Final = "/graphiql"


def routes() -> list[Route]:
    """Return the GraphQL routes for `serving`."""
    return [
        Route("POST", GRAPHQL_PATH, handle_post, Permission.READ),
        Route("GET", GRAPHQL_PATH, handle_get, Permission.READ),
        Route("GET", GRAPHIQL_PATH, handle_graphiql),
        Route("GET", f"{page.STATIC_PREFIX}/{{name}}", page.serve_asset),
    ]


def handle_post(services: Services, request: Request) -> Response:
    """Execute a POSTed operation; the schema is built at the first one."""
    from knflow.graphql import http

    return http.handle_post(services, request)


def handle_get(services: Services, request: Request) -> Response:
    """Execute a query sent in the query string; the schema is built at the first one."""
    from knflow.graphql import http

    return http.handle_get(services, request)


def handle_graphiql(services: Services, request: Request) -> Response:
    """Serve the GraphiQL page, pointed at `/graphql`, with assets served here too."""
    return page.serve_page(services, request, graphql_path=GRAPHQL_PATH)

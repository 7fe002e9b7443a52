"""data-index-sink: index the Kogito events and serve the Data Index GraphQL API.

CloudEvents are accepted at `/` (the broker) and at the Kogito paths `/processes`,
`/definitions` and `/jobs`; GraphQL is served at `/graphql` and GraphiQL at `/graphiql`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from knflow import serving

if TYPE_CHECKING:
    from knflow.serving.endpoints import Endpoints


def endpoints() -> Endpoints:
    """The indexer and the GraphQL routes; imported once readiness was answered."""
    from knflow.graphql import routes as graphql_routes
    from knflow.runtime.data_index import ingest
    from knflow.serving.endpoints import Endpoints

    return Endpoints(routes=graphql_routes.routes(), on_event=ingest.handle_event)


handle = serving.function(endpoints)

"""data-index-sink: index the Kogito events and serve the Data Index GraphQL API.

CloudEvents are accepted at `/` (the broker) and at the Kogito paths `/processes`,
`/definitions` and `/jobs`; GraphQL is served at `/graphql` and GraphiQL at `/graphiql`.
"""

from knflow import serving


def endpoints() -> serving.Endpoints:
    """The indexer and the GraphQL routes; imported once readiness was answered."""
    from knflow.graphql import routes as graphql_routes
    from knflow.runtime.data_index import ingest

    return serving.Endpoints(
        routes=graphql_routes.routes(), on_event=ingest.handle_event
    )


handle = serving.function(endpoints)

"""data-index-sink: index the Kogito events and serve the Data Index GraphQL API.

CloudEvents are accepted at `/` (the broker) and at the Kogito paths `/processes`,
`/definitions` and `/jobs`; GraphQL is served at `/graphql` and GraphiQL at `/graphiql`.
"""

from knflow import serving
from knflow.graphql import http as graphql_http
from knflow.runtime.data_index import ingest

handle = serving.event_function(ingest.handle_event, routes=graphql_http.routes())

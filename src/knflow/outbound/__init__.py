"""Calls out of knflow: workflow functions (REST, OpenAPI, Knative), the broker sink, Backstage."""

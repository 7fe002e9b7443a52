"""start-workflow: the SonataFlow-compatible REST API — start instances, manage them, describe workflows."""

from knflow import serving
from knflow.runtime import rest_api

handle = serving.http_function(rest_api.ROUTES)

"""start-workflow: the SonataFlow-compatible REST API — start instances, manage them, describe workflows."""

from knflow import serving
from knflow.runtime.start_workflow import rest_api

handle = serving.http_function(rest_api.ROUTES)

"""job-trigger: fire timers and scheduled starts, serve the Kogito Job Service v2 API."""

from knflow import serving
from knflow.runtime.job_trigger import firing, jobs_api

handle = serving.event_function(firing.handle_event, routes=jobs_api.ROUTES)

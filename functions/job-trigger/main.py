"""job-trigger: fire timers and scheduled starts, serve the Kogito Job Service v2 API."""

from knflow import serving
from knflow.runtime import job_trigger, jobs_api

handle = serving.event_function(job_trigger.on_event, routes=jobs_api.ROUTES)

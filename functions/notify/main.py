"""notify: deliver notification requests and instance endings to Backstage."""

from knflow import serving
from knflow.runtime import notify

handle = serving.event_function(notify.handle_event)

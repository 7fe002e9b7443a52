"""notify: deliver notification requests and instance endings to Backstage."""

from knflow import serving
from knflow.runtime.notify import delivery

handle = serving.event_function(delivery.handle_event)

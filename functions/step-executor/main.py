"""step-executor: continue workflow instances — step events, and the events workflows consume."""

from knflow import serving
from knflow.runtime.step_executor import inbox

handle = serving.event_function(inbox.handle_event)

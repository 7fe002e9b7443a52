"""data-index-sink: project the Kogito events into the Data Index and rebuild it."""

"""job-trigger: fire timers and scheduled starts, serve the Kogito Job Service API, reconcile."""

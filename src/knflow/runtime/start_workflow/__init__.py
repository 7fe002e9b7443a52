"""start-workflow: the SonataFlow REST API, instance management, and definition registration."""

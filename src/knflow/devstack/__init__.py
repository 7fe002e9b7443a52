"""The development stack: embedded PostgreSQL, the development broker, and the process supervisor."""

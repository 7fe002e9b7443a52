"""Use cases, one per function: they combine engine, store, events and outbound in transactions."""

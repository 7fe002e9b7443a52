"""Serverless Workflow 0.8 documents: loading, validation and the parsed model (pure)."""

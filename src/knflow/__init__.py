"""knflow: CNCF Serverless Workflow 0.8 on scale-to-zero Knative functions, state in PostgreSQL."""

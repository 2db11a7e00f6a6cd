"""Todo API: the FastAPI application, its settings, database, security and services."""

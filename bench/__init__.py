"""Load benchmark of the service on PostgreSQL, beside a bare Starlette baseline (`make bench`)."""

"""The REST door: thin routes over the services, and the mapping of errors to HTTP."""

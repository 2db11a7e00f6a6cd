"""The service layer: every rule of the contract, written once, called by REST and GraphQL alike.

Services take a `Runner` (a unit of database work) and the acting user explicitly, know nothing
of HTTP, and raise the domain errors of `app.errors`.
"""

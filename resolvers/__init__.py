"""The GraphQL door: the schema object and its root types, their resolvers (thin: they call the
services), the per-request context, the execution extensions and the HTTP mount at `/graphql`."""

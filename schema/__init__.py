"""The GraphQL schema's object and input types (no resolvers, no root types: see `resolvers`).
The SDL clients read is `schema/schema.graphql`, written by `python -m resolvers`."""

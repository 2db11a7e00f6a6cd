"""The GraphQL schema's object, input and enum types: the data each holds, and the field
resolvers of its lazy fields (a cursor, a total count, an event's task), which read the database
and the viewer from the request's context. No root types (see `resolvers`). The SDL clients read
is `schema/schema.graphql`, written by `python -m resolvers`."""

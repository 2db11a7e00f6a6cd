"""The GraphQL schema's object, input and enum types. No root types and no service calls (see
`resolvers`): a lazy field (a cursor, a total count, an event's task) calls what the resolver
that built the object handed it. The SDL clients read is `schema/schema.graphql`, written by
`python -m resolvers`."""

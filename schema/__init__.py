"""The GraphQL schema: Strawberry types, inputs and the schema object."""

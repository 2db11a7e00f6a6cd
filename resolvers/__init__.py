"""GraphQL resolvers and DataLoaders: thin doors onto the services."""

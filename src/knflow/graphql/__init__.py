"""The Kogito Data Index GraphQL API: strawberry types and resolvers."""

"""HTTP and websocket transport: the GraphQL view, middleware, health and metrics."""

"""Business rules. Resolvers and jobs call these; only the unit of work commits."""

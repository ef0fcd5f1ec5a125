"""The dashboard's project-list query: team -> projects -> environments -> variables, members."""

from __future__ import annotations

import json
from typing import Any

DASHBOARD = """
query DashboardProjects($slug: String!, $first: Int!) {
  teamBySlug(slug: $slug) {
    id
    name
    slug
    members {
      id
      role
      joinedAt
      user { id name email }
    }
    projects(first: $first) {
      pageInfo { hasNextPage endCursor }
      nodes {
        id
        name
        slug
        framework
        productionBranch
        updatedAt
        environments {
          id
          name
          kind
          variables { id key valueDigest updatedAt }
        }
      }
    }
  }
}
""".strip()


def body(slug: str, first: int) -> bytes:
    doc = {
        "query": DASHBOARD,
        "operationName": "DashboardProjects",
        "variables": {"slug": slug, "first": first},
    }
    return json.dumps(doc).encode()


def count_objects(value: Any) -> int:
    """Objects (JSON objects with an `id`) in a response: what "page size" means here."""
    if isinstance(value, dict):
        return int("id" in value) + sum(count_objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_objects(v) for v in value)
    return 0

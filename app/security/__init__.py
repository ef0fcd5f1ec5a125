"""Credential primitives: password hashing, signed access tokens, opaque secrets."""

"""Kubernetes runtime: pure manifest rendering (`manifests`) and the cluster adapter (`adapter`).

Nothing is imported here on purpose: rendering manifests must not pay for importing the
official `kubernetes` client, and `validation` depends on a dev-only package.
"""

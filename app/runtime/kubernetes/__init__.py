"""Kubernetes runtime: pure manifest rendering (`manifests`), the cluster client (`adapter`),
the rollouts' `Runtime` on blue/green colours (`runtime`) and signed artifact URLs.

Nothing is imported here on purpose: rendering manifests must not pay for importing the
official `kubernetes` client, and `validation` depends on a dev-only package.
"""

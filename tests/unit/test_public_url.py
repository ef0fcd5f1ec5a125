"""The URL the API shows for an environment follows the runtime that serves it."""

from __future__ import annotations

from app.domain.rollout_traffic import public_url
from app.settings import Settings


def test_router_host_by_default_and_the_url_template_when_set() -> None:
    settings = Settings(router_port=8081)
    assert public_url(settings, "shop", "production") == "http://shop-production.localhost:8081"
    behind_tls = Settings(deploy_url_template="https://{host}")
    assert public_url(behind_tls, "shop", "preview-x") == "https://shop-preview-x.localhost"


def test_kubernetes_environments_show_their_ingress_host() -> None:
    settings = Settings(
        kubeconfig="/etc/kube/config",
        kubernetes_environments=["production"],
        kubernetes_host_template="{project}.apps.example.com",
    )
    assert public_url(settings, "shop", "production") == "http://shop.apps.example.com"
    # Other environments stay on the local runtime behind the router.
    assert public_url(settings, "shop", "staging") == "http://shop-staging.localhost:8080"

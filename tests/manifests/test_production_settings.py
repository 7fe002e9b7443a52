"""The manifests deploy knflow in production mode: tokens required, cluster-local, OIDC events."""

from __future__ import annotations

from typing import Any

import pytest

from knflow.auth import policy
from knflow.config import AuthMode, Settings
from knflow.deploy import documents
from tests.conftest import ROOT

FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if p.is_dir())


def _one(path: str) -> dict[str, Any]:
    return documents.read(ROOT / path)[0]


def _func_yaml(name: str) -> dict[str, Any]:
    return _one(f"functions/{name}/func.yaml")


def test_shared_settings_require_tokens_and_eventing_oidc() -> None:
    settings = Settings.from_environment(
        _one("knative/configmap-knflow-config.yaml")["data"]
    )
    assert settings.auth_mode is AuthMode.REQUIRED
    assert settings.eventing_oidc
    assert settings.auth_anonymous == {"read", "abort"}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_has_no_public_route(name: str) -> None:
    labels = {
        item["key"]: item["value"] for item in _func_yaml(name)["deploy"]["labels"]
    }
    assert labels["networking.knative.dev/visibility"] == "cluster-local"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_checks_the_audience_its_triggers_send(name: str) -> None:
    envs = {env.get("name"): env["value"] for env in _func_yaml(name)["run"]["envs"]}
    audiences = {
        trigger["spec"]["subscriber"].get("audience")
        for path in sorted((ROOT / "eventing").glob("trigger-*.yaml"))
        for trigger in documents.read(path)
        if trigger["spec"]["subscriber"]["ref"].get("name") == name
    }
    assert audiences in ({envs["KNFLOW_EVENTING_AUDIENCE"]}, set())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_function_mounts_the_policy_and_the_token_keys(name: str) -> None:
    mounted = {
        volume.get("configMap") or volume.get("secret"): volume["path"]
        for volume in _func_yaml(name)["run"]["volumes"]
    }
    assert mounted == {
        "knflow-auth-policy": "/etc/knflow/policy",
        "knflow-token-key": "/etc/knflow/token-key",
    }


def test_policy_config_map_parses() -> None:
    text = _one("knative/configmap-knflow-auth-policy.yaml")["data"]["policy.yaml"]
    [document] = documents.parse(text, name="policy.yaml")
    parsed = policy.parse(document)
    assert parsed.default == {policy.Permission.READ}


def test_network_policy_admits_the_developer_hub_and_knative_only() -> None:
    network = _one("knative/networkpolicy-knflow-ingress.yaml")["spec"]
    namespaces = {
        peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
        for rule in network["ingress"]
        if "ports" not in rule
        for peer in rule["from"]
        if "namespaceSelector" in peer
    }
    assert network["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/part-of": "knflow"
    }
    assert namespaces == {
        "rhdh",
        "knative-serving",
        "knative-eventing",
        "kourier-system",
    }


def test_network_policy_admits_prometheus_to_the_functions_port_only() -> None:
    network = _one("knative/networkpolicy-knflow-ingress.yaml")["spec"]
    [scraping] = [rule for rule in network["ingress"] if "ports" in rule]
    assert scraping["ports"] == [{"protocol": "TCP", "port": 8080}]
    [peer] = scraping["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "openshift-user-workload-monitoring"
    }

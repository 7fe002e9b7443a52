"""The policy file: grants by principal and workflow glob, a default, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from knflow.auth import policy
from knflow.auth.identity import Identity, TokenKind
from knflow.auth.policy import Permission
from knflow.errors import ForbiddenError, InputError

POLICY = """
default: [read]
rules:
  - workflows: ["onboarding-*"]
    principals: ["group:default/platform", "role:orchestrator-admin"]
    allow: [execute, abort, retrigger]
  - workflows: ["*"]
    principals: ["user:default/root"]
    allow: [execute, abort, retrigger, update, schedule]
"""


def _who(*principals: str) -> Identity:
    return Identity(
        subject=principals[0],
        kind=TokenKind.BACKSTAGE,
        principals=frozenset(principals),
    )


@pytest.fixture
def rules(tmp_path: Path) -> policy.Policy:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return policy.load(str(path))


def test_group_member_may_execute_matching_workflows(rules: policy.Policy) -> None:
    ada = _who("user:default/ada", "group:default/platform")
    assert rules.allows(ada, Permission.EXECUTE, "onboarding-dev")


def test_group_member_may_not_execute_other_workflows(rules: policy.Policy) -> None:
    ada = _who("user:default/ada", "group:default/platform")
    with pytest.raises(
        ForbiddenError, match="lacks permission 'execute' on workflow 'payroll'"
    ):
        rules.require(ada, Permission.EXECUTE, "payroll")


def test_keycloak_realm_role_grants_like_a_group(rules: policy.Policy) -> None:
    operator = _who("f3a1", "role:orchestrator-admin")
    assert rules.allows(operator, Permission.ABORT, "onboarding-prod")


def test_default_grants_read_to_every_authenticated_caller(
    rules: policy.Policy,
) -> None:
    assert rules.allows(_who("user:default/bob"), Permission.READ, "payroll")


def test_reading_across_workflows_needs_a_rule_for_all_of_them(
    rules: policy.Policy,
) -> None:
    ada = _who("user:default/ada", "group:default/platform")
    assert not rules.allows(ada, Permission.EXECUTE, "*")
    assert rules.allows(_who("user:default/root"), Permission.SCHEDULE, "*")


def test_no_policy_file_allows_everything() -> None:
    assert policy.load("").allows(_who("user:default/bob"), Permission.UPDATE, "x")


def test_unknown_permission_is_named() -> None:
    with pytest.raises(InputError, match="unknown permission 'run'"):
        policy.parse({"rules": [{"principals": ["*"], "allow": ["run"]}]})


def test_unknown_key_is_named() -> None:
    with pytest.raises(InputError, match="unknown key 'users'"):
        policy.parse({"rules": [{"users": ["*"], "allow": ["read"]}]})

"""The authorization policy: which principals may do what to which workflows.

A small declarative file (YAML or JSON, a ConfigMap on a cluster), named by `KNFLOW_AUTH_POLICY`:

```yaml
default: [read]                      # what every authenticated caller may do, on every workflow
rules:
  - workflows: ["onboarding-*"]      # workflow id globs
    principals: ["group:default/platform", "role:orchestrator-admin", "user:default/ada"]
    allow: [execute, abort, retrigger, read]
```

A principal is a token's `sub`, a Backstage ownership ref from `ent`, `role:<realm role>`,
`role:<client>/<client role>` or `group:<name>`; principals and workflows are globs. Rules only
grant: a permission is held when the default or any matching rule allows it. Without a policy
file every authenticated caller may do everything.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from knflow.auth.identity import Identity
from knflow.errors import DefinitionError, ForbiddenError, InputError


class Permission(StrEnum):
    """What a request does, in the policy's words."""

    EXECUTE = "execute"
    """Start an instance (`POST /{workflowId}`, or a rerun of an ended one)."""
    ABORT = "abort"
    """Abort an instance."""
    RETRIGGER = "retrigger"
    """Re-run or skip the failed state of an instance in ERROR (one, or a bulk retrigger)."""
    UPDATE = "update"
    """Change an instance's variables (the Data Index mutation)."""
    READ = "read"
    """Read definitions and instances (management GETs, the Data Index GraphQL API)."""
    SCHEDULE = "schedule"
    """Create, change or cancel jobs through the Job Service API."""
    MIGRATE = "migrate"
    """Move an instance to another revision of its workflow."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One grant."""

    workflows: tuple[str, ...]
    """Workflow id globs."""
    principals: tuple[str, ...]
    """Principal globs."""
    allow: frozenset[Permission]
    """Granted permissions."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy:
    """The whole policy; `Policy()` (no file) allows every authenticated caller everything."""

    default: frozenset[Permission] = frozenset(Permission)
    """Permissions every authenticated caller holds on every workflow."""
    rules: tuple[Rule, ...] = ()
    """Further grants."""

    def allows(
        self, identity: Identity, permission: Permission, workflow_id: str
    ) -> bool:
        """Whether `identity` holds `permission` on `workflow_id` (`*`: on every workflow)."""
        if permission in self.default:
            return True
        return any(
            permission in rule.allow
            and _matches_workflow(rule.workflows, workflow_id)
            and any(
                fnmatch.fnmatchcase(name, pattern)
                for pattern in rule.principals
                for name in identity.principals
            )
            for rule in self.rules
        )

    def require(
        self, identity: Identity, permission: Permission, workflow_id: str
    ) -> None:
        """Raise unless `identity` holds `permission` on `workflow_id`.

        Raises:
            ForbiddenError: it does not; the message names the permission.
        """
        if not self.allows(identity, permission, workflow_id):
            raise ForbiddenError(
                subject=identity.subject,
                permission=permission.value,
                workflow_id=workflow_id,
            )


def load(path: str) -> Policy:
    """Read the policy file at `path`; an empty path gives the allow-everything policy.

    Raises:
        InputError: the file cannot be read or says something this module does not understand.
    """
    if not path:
        return Policy()
    # Imported here: YAML parsing costs ~100 ms at a cold start, and only a policy file needs it.
    from knflow.workflow import loading

    try:
        text = Path(path).read_text(encoding="utf-8")
        document = loading.parse_text(text, name=Path(path).name)
    except (OSError, DefinitionError) as error:
        raise InputError(f"policy file {path} cannot be read: {error}") from error
    return parse(document, source=path)


def parse(document: Any, *, source: str = "policy") -> Policy:
    """Build a policy from its parsed document.

    Raises:
        InputError: an unknown key, permission or shape, named with its place.
    """
    if not isinstance(document, Mapping):
        raise InputError(
            f"{source}: the policy must be an object with 'default' and 'rules'"
        )
    _only_keys(document, {"default", "rules"}, source)
    rules = document.get("rules") or []
    if not isinstance(rules, list):
        raise InputError(f"{source}: 'rules' must be a list")
    return Policy(
        default=_permissions(document.get("default") or [], f"{source}: default"),
        rules=tuple(_rule(raw, f"{source}: rules[{i}]") for i, raw in enumerate(rules)),
    )


def _rule(raw: Any, where: str) -> Rule:
    if not isinstance(raw, Mapping):
        raise InputError(f"{where} must be an object")
    _only_keys(raw, {"workflows", "principals", "allow"}, where)
    return Rule(
        workflows=_globs(raw.get("workflows", ["*"]), f"{where}.workflows"),
        principals=_globs(raw.get("principals"), f"{where}.principals"),
        allow=_permissions(raw.get("allow"), f"{where}.allow"),
    )


def _permissions(raw: Any, where: str) -> frozenset[Permission]:
    names = _globs(raw, where)
    known = {p.value for p in Permission}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise InputError(
            f"{where}: unknown permission {unknown[0]!r}; use {', '.join(sorted(known))}"
        )
    return frozenset(Permission(name) for name in names)


def _globs(raw: Any, where: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise InputError(f"{where} must be a list of non-empty strings")
    return tuple(raw)


def _only_keys(raw: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise InputError(
            f"{where}: unknown key {extra[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )


def _matches_workflow(patterns: tuple[str, ...], workflow_id: str) -> bool:
    if (
        workflow_id == "*"
    ):  # across workflows (the Data Index): only a rule for all of them
        return "*" in patterns
    return any(fnmatch.fnmatchcase(workflow_id, pattern) for pattern in patterns)

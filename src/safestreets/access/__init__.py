"""Accounts, roles, ownership and handling codes, the audit chain.

- :mod:`~safestreets.access.policy`: the rules, pure (the one module the store imports);
- :mod:`~safestreets.access.accounts`: agencies, users, roles, logins, API tokens;
- :mod:`~safestreets.access.grants`: the grant lists of RESTRICTED records;
- :mod:`~safestreets.access.audit`: verifying the audit chain, anchors.

The principal-aware reads themselves are in :mod:`safestreets.store.access_reads` (and the
``principal=`` keyword of the store's other reads). docs/security.md explains the design.
"""

from safestreets.access.policy import Principal, may, may_see

__all__ = ["Principal", "may", "may_see"]

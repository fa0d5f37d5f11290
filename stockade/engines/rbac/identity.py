"""Identities: service-account user names and the groups impersonation derives.

``kubectl --as NAME [--as-group G]...`` asks the API server to impersonate; the server builds the
identity as follows. If NAME is a service-account user name (``system:serviceaccount:<ns>:<name>``
with exactly two valid parts) and no group is given, the groups are ``system:serviceaccounts`` and
``system:serviceaccounts:<ns>``; otherwise they are exactly the given groups. Then every user but
``system:anonymous`` gets ``system:authenticated`` unless ``system:authenticated`` or
``system:unauthenticated`` is already there; ``system:anonymous`` gets ``system:unauthenticated``
if absent. An already-authenticated identity (``--user/--group``) is used as given.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from stockade.engines.rbac.model import (
    ALL_SERVICE_ACCOUNTS,
    ANONYMOUS,
    AUTHENTICATED,
    SA_GROUP_PREFIX,
    SA_PREFIX,
    UNAUTHENTICATED,
    UserInfo,
)

# Namespace names are DNS-1123 labels; service-account names DNS-1123 subdomains.
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def split_service_account(username: str) -> tuple[str, str] | None:
    """(namespace, name) if ``username`` is a valid service-account user name, else ``None``."""
    if not username.startswith(SA_PREFIX):
        return None
    parts = username[len(SA_PREFIX) :].split(":")
    if len(parts) != 2:
        return None
    ns, name = parts
    if len(ns) > 63 or not _LABEL.match(ns) or len(name) > 253 or not _SUBDOMAIN.match(name):
        return None
    return ns, name


def service_account_username(namespace: str, name: str) -> str:
    """``system:serviceaccount:<namespace>:<name>``."""
    return f"{SA_PREFIX}{namespace}:{name}"


def service_account_groups(namespace: str) -> tuple[str, ...]:
    """The groups the token authenticator gives every service account of a namespace."""
    return (ALL_SERVICE_ACCOUNTS, f"{SA_GROUP_PREFIX}{namespace}")


def impersonate(user: str, groups: Sequence[str] = ()) -> UserInfo:
    """The identity the API server builds for ``--as user [--as-group g]...``."""
    out = list(groups)
    if not out:
        sa = split_service_account(user)
        if sa is not None:
            out = list(service_account_groups(sa[0]))
    if user != ANONYMOUS:
        if AUTHENTICATED not in out and UNAUTHENTICATED not in out:
            out.append(AUTHENTICATED)
    elif UNAUTHENTICATED not in out:
        out.append(UNAUTHENTICATED)
    return UserInfo(user, tuple(out))


def authenticated(user: str, groups: Sequence[str] = ()) -> UserInfo:
    """An identity exactly as given (``--user/--group``): nothing is added."""
    return UserInfo(user, tuple(groups))

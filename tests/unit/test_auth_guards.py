"""Guards around firebase-admin's verification, in-process against the local identity."""

from __future__ import annotations

import pytest

from devtools.identity import IdentityServer
from shared.errors import Misconfigured


def test_auth_emulator_switch_is_refused_on_every_verification(
    settings_env: dict[str, str], identity: IdentityServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """firebase-admin reads FIREBASE_AUTH_EMULATOR_HOST on every verification and then skips
    the signature; a guard that ran once (when the app was created) would let a variable set
    later switch signature checks off for the rest of the process."""
    from shared.auth.users import verify_user
    from shared.config import get_settings

    monkeypatch.delenv("FIREBASE_AUTH_EMULATOR_HOST", raising=False)
    token = identity.identity.id_token("ada@example.com", role="admin")
    assert verify_user(token, get_settings(), minimum_role="member").email == "ada@example.com"

    monkeypatch.setenv("FIREBASE_AUTH_EMULATOR_HOST", "127.0.0.1:9099")
    with pytest.raises(Misconfigured) as refused:
        verify_user(token, get_settings(), minimum_role="member")
    assert refused.value.code == "auth_emulator_enabled"
    assert refused.value.status == 500


@pytest.mark.parametrize("role, expected", [(None, "member"), ("admin", "admin"), ("member", "member"), ("root", "member")])
def test_role_of_strings(role: object, expected: str) -> None:
    from shared.auth.users import role_of

    assert role_of({} if role is None else {"role": role}) == expected


@pytest.mark.parametrize("role", [["admin"], {"a": 1}, 1, 1.5, False])
def test_role_of_anything_else_is_forbidden(role: object) -> None:
    from shared.auth.users import role_of
    from shared.errors import Forbidden

    with pytest.raises(Forbidden):
        role_of({"role": role})

"""The user manager on the KV port, against both adapters (SQLite and the shared etcd)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
import pytest

from bcs import errors
from bcs.core import kv as kv_mod
from bcs.core import users
from bcs.core.users import tokens
from tests import services

ADMIN = "bootstrap-secret-admin-token"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["direct", "mirrored"])
async def manager(
    request: pytest.FixtureRequest, kv: kv_mod.KV, prefix: str, clock: Clock
) -> AsyncIterator[users.UserManager]:
    """Reads straight from the KV port, or from the synced in-memory mirror."""
    mgr = users.UserManager(kv, prefix=prefix, admin_token=ADMIN, clock=clock)
    if request.param == "mirrored":
        mgr.start()
        await mgr.wait_synced()
    try:
        yield mgr
    finally:
        await mgr.close()


async def test_bootstrap_admin_token_authenticates_as_admin(manager: users.UserManager) -> None:
    principal = await manager.authenticate(ADMIN)
    assert principal == users.Principal(name="admin", kind="admin", token_id="bootstrap")
    assert principal.is_admin
    for bad in ("", ADMIN + "x", ADMIN[:-1], "a" * 32, "ABCDEFGH" + "x" * 24):
        with pytest.raises(errors.Unauthorized):
            await manager.authenticate(bad)


async def test_user_token_is_stored_only_as_a_salted_hash(
    manager: users.UserManager, kv: kv_mod.KV, prefix: str
) -> None:
    user, issued = await manager.create_user("alice", kind="plain", created_by="admin")
    assert (user.name, user.kind, user.user_type) == ("alice", "plain", 3)
    assert len(issued.token) == tokens.TOKEN_LENGTH
    assert issued.token.isalnum()
    assert issued.token not in repr(issued)
    dump = b"".join(item.key.encode() + item.value for item in await kv.range(prefix))
    secret = issued.token[tokens.ID_LENGTH :]
    assert secret.encode() not in dump
    assert issued.token[: tokens.ID_LENGTH].encode() in dump  # the id is the lookup key

    principal = await manager.authenticate(issued.token)
    assert principal == users.Principal(name="alice", kind="plain", token_id=issued.record.id)
    # Same id, another secret: refused.
    forged = issued.token[: tokens.ID_LENGTH] + ("A" if secret[0] != "A" else "B") + secret[1:]
    with pytest.raises(errors.Unauthorized):
        await manager.authenticate(forged)


async def test_two_tokens_with_one_secret_hash_differently(manager: users.UserManager) -> None:
    await manager.create_user("bob", kind="saas", created_by="admin")
    one = await manager.create_token("bob", created_by="bob", expiration=-1)
    two = await manager.create_token("bob", created_by="bob", expiration=-1)
    assert one.record.salt != two.record.salt
    assert tokens.digest("same", one.record.salt) != tokens.digest("same", two.record.salt)


async def test_expiry_refresh_and_delete(manager: users.UserManager, clock: Clock) -> None:
    _, first = await manager.create_user("carol", kind="plain", created_by="admin")
    assert first.record.expires_at == clock.now + 24 * 3600  # upstream: plain users live a day
    short = await manager.create_token("carol", created_by="admin", expiration=60)
    assert (await manager.authenticate(short.token)).name == "carol"

    clock.now += 61
    with pytest.raises(errors.Unauthorized, match="expired"):
        await manager.authenticate(short.token)
    listed = {r.id: r for r in await manager.list_tokens("carol")}
    assert set(listed) == {first.record.id, short.record.id}
    assert listed[short.record.id].to_wire(now=clock.now)["status"] == 0

    # Extending an expired token counts from now.
    extended = await manager.extend_token(short.record.id, expiration=100)
    assert extended.expires_at == clock.now + 100
    assert (await manager.authenticate(short.token)).name == "carol"
    # Extending a live one adds what is left.
    extended = await manager.extend_token(short.record.id, expiration=100)
    assert extended.expires_at == clock.now + 200
    never = await manager.extend_token(short.record.id, expiration=-1)
    assert never.expires_at is None

    await manager.delete_token(short.record.id)
    with pytest.raises(errors.Unauthorized):
        await manager.authenticate(short.token)
    with pytest.raises(errors.NotFound):
        await manager.delete_token(short.record.id)


async def test_refresh_plain_keeps_a_live_token_and_replaces_an_expired_one(
    manager: users.UserManager, clock: Clock
) -> None:
    _, issued = await manager.create_user("dave", kind="plain", created_by="admin")
    user, new, record = await manager.refresh_user("dave", kind="plain", lifetime=3 * 86400, rotate=False)
    assert new is None
    assert record.id == issued.record.id
    assert record.expires_at == clock.now + 3 * 86400

    clock.now += 4 * 86400
    user, new, record = await manager.refresh_user("dave", kind="plain", lifetime=86400, rotate=False)
    assert new is not None
    assert record.id != issued.record.id
    assert user.primary_token == record.id
    assert (await manager.authenticate(new.token)).name == "dave"
    with pytest.raises(errors.Unauthorized):
        await manager.authenticate(issued.token)


async def test_refresh_saas_rotates(manager: users.UserManager) -> None:
    _, issued = await manager.create_user("svc", kind="saas", created_by="admin")
    assert issued.record.expires_at is None
    _, new, _ = await manager.refresh_user("svc", kind="saas", lifetime=None, rotate=True)
    assert new is not None
    assert (await manager.authenticate(new.token)).is_admin
    with pytest.raises(errors.Unauthorized):
        await manager.authenticate(issued.token)


async def test_bad_users_and_tokens_are_rejected_without_change(
    manager: users.UserManager, kv: kv_mod.KV, prefix: str
) -> None:
    await manager.create_user("erin", kind="plain", created_by="admin")
    before = await kv.range(prefix)
    with pytest.raises(errors.Conflict):
        await manager.create_user("erin", kind="plain", created_by="admin")
    for name in ("", "a/b", "tokens", "x" * 65, " sp"):
        with pytest.raises(errors.BadRequest):
            await manager.create_user(name, kind="plain", created_by="admin")
    with pytest.raises(errors.BadRequest):
        await manager.create_user("frank", kind="root", created_by="admin")
    for expiration in (0, -2, 1000 * 86400 + 1, "10", 1.5, True):
        with pytest.raises(errors.BadRequest):
            await manager.create_token("erin", created_by="admin", expiration=expiration)
    with pytest.raises(errors.NotFound):
        await manager.create_token("nobody", created_by="admin", expiration=-1)
    assert await kv.range(prefix) == before


async def test_permissions_viewer_reads_manager_does_all(manager: users.UserManager) -> None:
    _, viewer = await manager.create_user("vic", kind="plain", created_by="admin")
    _, boss = await manager.create_user("max", kind="plain", created_by="admin")
    await manager.grant(
        "vic", resource_type="cluster", resource="BCS-K8S-40001", role="viewer", created_by="a"
    )
    await manager.grant(
        "max", resource_type="cluster", resource="BCS-K8S-40001", role="manager", created_by="a"
    )
    vic = await manager.authenticate(viewer.token)
    mx = await manager.authenticate(boss.token)
    admin = await manager.authenticate(ADMIN)
    for verb in ("get", "list", "watch"):
        assert await manager.allowed(vic, cluster_id="BCS-K8S-40001", verb=verb)
    for verb in ("create", "update", "patch", "delete", "deletecollection"):
        assert not await manager.allowed(vic, cluster_id="BCS-K8S-40001", verb=verb)
        assert await manager.allowed(mx, cluster_id="BCS-K8S-40001", verb=verb)
        assert await manager.allowed(admin, cluster_id="BCS-K8S-49999", verb=verb)
    assert not await manager.allowed(vic, cluster_id="BCS-K8S-40002", verb="get")

    listed = await manager.list_permissions(resource_type="cluster", resource="BCS-K8S-40001")
    assert sorted((p.user_name, p.role) for p in listed) == [("max", "manager"), ("vic", "viewer")]
    assert [p.resource for p in await manager.list_permissions(user_name="vic")] == ["BCS-K8S-40001"]

    # Granting again replaces the role.
    await manager.grant(
        "vic", resource_type="cluster", resource="BCS-K8S-40001", role="manager", created_by="a"
    )
    assert await manager.allowed(vic, cluster_id="BCS-K8S-40001", verb="delete")
    await manager.revoke("vic", resource_type="cluster", resource="BCS-K8S-40001")
    assert not await manager.allowed(vic, cluster_id="BCS-K8S-40001", verb="get")
    with pytest.raises(errors.NotFound):
        await manager.revoke("vic", resource_type="cluster", resource="BCS-K8S-40001")

    assert await manager.verify(boss.token, cluster_id="BCS-K8S-40001", verb="create") == (True, "allowed")
    allowed, message = await manager.verify(viewer.token, cluster_id="BCS-K8S-40001", verb="get")
    assert not allowed
    assert "vic" in message
    assert await manager.verify("nonsense", cluster_id="BCS-K8S-40001", verb="get") == (
        False,
        "invalid token",
    )


async def test_bad_permissions_are_rejected(manager: users.UserManager) -> None:
    await manager.create_user("gus", kind="plain", created_by="admin")
    for kwargs in (
        {"resource_type": "cluster", "resource": "BCS-K8S-40001", "role": "owner"},
        {"resource_type": "namespace", "resource": "BCS-K8S-40001", "role": "viewer"},
        {"resource_type": "cluster", "resource": "", "role": "viewer"},
        {"resource_type": "cluster", "resource": "a/b", "role": "viewer"},
    ):
        with pytest.raises(errors.BadRequest):
            await manager.grant("gus", created_by="admin", **kwargs)
    with pytest.raises(errors.NotFound):
        await manager.grant(
            "nobody", resource_type="cluster", resource="BCS-K8S-1", role="viewer", created_by="a"
        )
    assert await manager.list_permissions() == []


async def test_register_token_is_scoped_to_its_cluster_and_rotates(manager: users.UserManager) -> None:
    first = await manager.create_register_token("BCS-K8S-40001", created_by="admin")
    principal = await manager.authenticate(first.token)
    assert (principal.kind, principal.cluster_id, principal.is_register) == (
        "register",
        "BCS-K8S-40001",
        True,
    )
    assert not await manager.allowed(principal, cluster_id="BCS-K8S-40001", verb="get")

    second = await manager.create_register_token("BCS-K8S-40001", created_by="admin")
    assert [r.id for r in await manager.register_tokens("BCS-K8S-40001")] == [second.record.id]
    with pytest.raises(errors.Unauthorized):
        await manager.authenticate(first.token)

    await manager.create_user("hal", kind="plain", created_by="admin")
    await manager.grant(
        "hal", resource_type="cluster", resource="BCS-K8S-40001", role="viewer", created_by="a"
    )
    await manager.forget_cluster("BCS-K8S-40001")
    assert await manager.register_tokens("BCS-K8S-40001") == []
    assert await manager.list_permissions(resource="BCS-K8S-40001") == []
    with pytest.raises(errors.Unauthorized):
        await manager.authenticate(second.token)


async def test_a_second_manager_sees_changes_through_its_mirror(
    kv: kv_mod.KV, prefix: str, clock: Clock
) -> None:
    """Two processes on one KV: a revocation in one is honoured by the other's mirror."""
    writer = users.UserManager(kv, prefix=prefix, admin_token=ADMIN, clock=clock)
    reader = users.UserManager(kv, prefix=prefix, admin_token=ADMIN, clock=clock)
    _, issued = await writer.create_user("ivy", kind="plain", created_by="admin")
    reader.start()
    try:
        await reader.wait_synced()
        assert (await reader.authenticate(issued.token)).name == "ivy"
        later = await writer.create_token("ivy", created_by="admin", expiration=-1)

        async def knows_later() -> bool:
            try:
                return (await reader.authenticate(later.token)).name == "ivy"
            except errors.Unauthorized:
                return False

        await services.eventually(knows_later, timeout=5, what="the reader to see the new token")
        await writer.delete_token(issued.record.id)

        async def revoked() -> bool:
            try:
                await reader.authenticate(issued.token)
            except errors.Unauthorized:
                return True
            return False

        await services.eventually(revoked, timeout=5, what="the reader to see the revocation")
    finally:
        await reader.close()
        await writer.close()


async def test_mirror_skips_unreadable_values(kv: kv_mod.KV, prefix: str, clock: Clock) -> None:
    mgr = users.UserManager(kv, prefix=prefix, admin_token=ADMIN, clock=clock)
    await kv.put(f"{prefix}users/accounts/broken", b"{not json")
    _, issued = await mgr.create_user("jay", kind="plain", created_by="admin")
    mgr.start()
    try:
        await mgr.wait_synced()
        assert (await mgr.authenticate(issued.token)).name == "jay"
        await kv.put(f"{prefix}users/accounts/jay", orjson.dumps({"name": "jay", "kind": "saas"}))

        async def promoted() -> bool:
            return (await mgr.authenticate(issued.token)).kind == "saas"

        await services.eventually(promoted, timeout=5, what="the mirror to apply the change")
    finally:
        await mgr.close()

"""The cluster registry: clusters and their credentials, kept as JSON in the KV port.

Keys (``prefix`` is ``KvSettings.prefix``): ``<prefix>clusters/<clusterID>`` and
``<prefix>credentials/<serverKey>``, whose values are the upstream bk-bcs JSON objects (cluster-manager's
``Cluster`` and ``ClusterCredential``), plus one id high-water mark per engine and environment under
``<prefix>cluster-id-marks/`` so that a deleted cluster's number is never handed out again. The
attribute names of :class:`Cluster` and :class:`Credential` are the upstream JSON field names, so the
wire shape is simply their fields. Every read-modify-write is a compare-and-swap on the key's mod
revision, so concurrent writers (several bcs processes on one etcd) never lose an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import pathlib
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
import orjson

from bcs import errors
from bcs.core import kv as kv_mod

if TYPE_CHECKING:
    from bcs.config import ClusterSpec

__all__ = [
    "ENGINES",
    "ENVIRONMENTS",
    "ID_RANGES",
    "Cluster",
    "ClusterRegistry",
    "Credential",
    "RegistryEvent",
    "cluster_id",
    "parse_cluster_id",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

ENGINES = ("k8s", "mesos")
ENVIRONMENTS = ("stag", "debug", "prod")
CONNECT_MODES = ("direct", "tunnel")

# Upstream `ClusterIDRange` (cluster-manager internal/common/constant.go): inclusive bounds.
ID_RANGES: Mapping[tuple[str, str], tuple[int, int]] = {
    ("mesos", "stag"): (10000, 15000),
    ("mesos", "debug"): (20000, 25000),
    ("mesos", "prod"): (30000, 399999),
    ("k8s", "stag"): (15001, 19999),
    ("k8s", "debug"): (25001, 29999),
    ("k8s", "prod"): (40000, 1000000),
}

_ID_PATTERN = re.compile(r"^BCS-(K8S|MESOS)-([0-9]+)$")
_CAS_ATTEMPTS = 1000  # far beyond any real contention; a bound so a bug cannot spin forever


def parse_cluster_id(value: str) -> tuple[str, int]:
    """``"BCS-K8S-40001"`` → ``("k8s", 40001)``; anything else is a BadRequest."""
    match = _ID_PATTERN.match(value)
    if match is None:
        raise errors.BadRequest(
            f"invalid cluster id {value!r}: expected BCS-K8S-<number> or BCS-MESOS-<number>"
        )
    return match.group(1).lower(), int(match.group(2))


def cluster_id(engine: str, number: int) -> str:
    """The id of cluster ``number`` of ``engine``, zero-padded to 5 digits as upstream."""
    return f"BCS-{engine.upper()}-{number:05d}"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _str_dict(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in dict(value or {}).items()}


def _from_json(cls: type[T], data: Mapping[str, Any], what: str) -> T:
    """Build ``cls`` from upstream JSON, ignoring unknown fields (newer writers may add some)."""
    names = {f.name for f in attrs.fields(cls)}  # type: ignore[arg-type]
    known = {k: v for k, v in data.items() if k in names}
    try:
        return cls(**known)
    except (TypeError, ValueError) as e:
        raise errors.BadRequest(f"invalid {what}: {e}") from None


@attrs.frozen
class Cluster:
    """A registered cluster (upstream cluster-manager ``Cluster``, the fields bcs uses)."""

    clusterID: str = attrs.field()
    clusterName: str = ""
    provider: str = ""
    engineType: str = attrs.field(default="k8s", validator=attrs.validators.in_(ENGINES))
    environment: str = attrs.field(default="prod", validator=attrs.validators.in_(ENVIRONMENTS))
    status: str = "RUNNING"
    createTime: str = ""
    updateTime: str = ""
    labels: dict[str, str] = attrs.field(factory=dict, converter=_str_dict)
    extra: dict[str, Any] = attrs.field(factory=dict, converter=dict)

    @clusterID.validator
    def _check_id(self, _attribute: attrs.Attribute[str], value: str) -> None:
        engine, _ = parse_cluster_id(value)
        if engine != self.engineType:
            raise errors.BadRequest(f"cluster id {value} does not match engineType {self.engineType!r}")

    @property
    def number(self) -> int:
        return parse_cluster_id(self.clusterID)[1]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cluster:
        return _from_json(cls, data, "cluster")


@attrs.frozen
class Credential:
    """How to reach a cluster (upstream ``ClusterCredential``); secrets stay out of ``repr``."""

    serverKey: str = attrs.field()  # the cluster id for kube agents; "<clusterID>-<host>" for Mesos drivers
    clusterID: str = attrs.field()
    serverAddress: str = ""  # comma-separated https://host:port list
    caCertData: str = attrs.field(default="", repr=False)
    userToken: str = attrs.field(default="", repr=False)
    clusterDomain: str = ""
    connectMode: str = attrs.field(default="direct", validator=attrs.validators.in_(CONNECT_MODES))
    clientModule: str = ""  # kubeagent / mesosdriver
    createTime: str = ""
    updateTime: str = ""

    @serverKey.validator
    def _check_key(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not value or "/" in value:
            raise errors.BadRequest(f"invalid credential serverKey {value!r}")

    @property
    def addresses(self) -> list[str]:
        return [a.strip() for a in self.serverAddress.split(",") if a.strip()]

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Credential:
        return _from_json(cls, data, "credential")


@attrs.frozen
class RegistryEvent:
    """A change of the registry seen by :meth:`ClusterRegistry.watch`; objects are None for deletes."""

    kind: Literal["cluster", "credential"]
    type: Literal["put", "delete"]
    id: str  # cluster id or credential server key
    revision: int
    cluster: Cluster | None = None
    credential: Credential | None = None


def _matches(data: Mapping[str, Any], filters: Mapping[str, str], fields: Iterable[str]) -> bool:
    unknown = set(filters) - set(fields)
    if unknown:
        raise errors.BadRequest(f"unknown filter field(s): {', '.join(sorted(unknown))}")
    return all(str(data.get(k, "")) == str(v) for k, v in filters.items())


class ClusterRegistry:
    """Clusters and credentials in ``kv`` under ``prefix``; see the module docstring for the keys."""

    def __init__(self, kv: kv_mod.KV, *, prefix: str) -> None:
        self._kv = kv
        self._clusters = f"{prefix}clusters/"
        self._credentials = f"{prefix}credentials/"
        self._marks = f"{prefix}cluster-id-marks/"
        # The longest prefix both object kinds share, so one watch sees them (others are filtered).
        self._watched = _common_prefix(self._clusters, self._credentials)

    # -- clusters --------------------------------------------------------------------------------

    async def add_cluster(self, cluster: Cluster) -> Cluster:
        """Register a new cluster; Conflict if the id is taken."""
        now = _now()
        stored = attrs.evolve(cluster, createTime=cluster.createTime or now, updateTime=now)
        low, high = _range(stored.engineType, stored.environment)
        if low <= stored.number <= high:
            await self._advance_mark(stored.engineType, stored.environment, floor=stored.number, step=0)
        if not await self._kv.compare_and_swap(
            self._clusters + stored.clusterID, _dump(stored), expected_mod_revision=0
        ):
            raise errors.Conflict(f"cluster {stored.clusterID} already exists")
        return stored

    async def get_cluster(self, cluster_id: str) -> Cluster:
        found = await self._kv.get(self._clusters + cluster_id)
        if found is None:
            raise errors.ClusterNotFound(f"cluster {cluster_id} not found")
        return Cluster.from_json(orjson.loads(found.value))

    async def list_clusters(self, filters: Mapping[str, str] | None = None) -> list[Cluster]:
        """Every cluster, sorted by id, whose fields equal ``filters`` (upstream field names)."""
        fields = [f.name for f in attrs.fields(Cluster) if f.name not in ("labels", "extra")]
        found = []
        for item in await self._kv.range(self._clusters):
            data = orjson.loads(item.value)
            if _matches(data, filters or {}, fields):
                found.append(Cluster.from_json(data))
        return found

    async def update_cluster(self, cluster_id: str, changes: Mapping[str, Any]) -> Cluster:
        """Apply ``changes`` (upstream field names) to a cluster; the id and create time are fixed."""
        fixed = {"clusterID", "createTime", "updateTime"} & set(changes)
        if fixed:
            raise errors.BadRequest(f"cannot change {', '.join(sorted(fixed))} of cluster {cluster_id}")
        unknown = set(changes) - {f.name for f in attrs.fields(Cluster)}
        if unknown:
            raise errors.BadRequest(f"unknown cluster field(s): {', '.join(sorted(unknown))}")

        key = self._clusters + cluster_id
        for _ in range(_CAS_ATTEMPTS):
            current = await self._kv.get(key)
            if current is None:
                raise errors.ClusterNotFound(f"cluster {cluster_id} not found")
            try:
                updated = attrs.evolve(
                    Cluster.from_json(orjson.loads(current.value)), **changes, updateTime=_now()
                )
            except (TypeError, ValueError) as e:
                raise errors.BadRequest(f"invalid update of cluster {cluster_id}: {e}") from None
            if await self._kv.compare_and_swap(
                key, _dump(updated), expected_mod_revision=current.mod_revision
            ):
                return updated
        raise errors.Conflict(f"cluster {cluster_id} keeps changing; try again")

    async def delete_cluster(self, cluster_id: str) -> Cluster:
        """Remove a cluster and every credential of it; return what was removed."""
        cluster = await self.get_cluster(cluster_id)
        if not await self._kv.delete(self._clusters + cluster_id):
            raise errors.ClusterNotFound(f"cluster {cluster_id} not found")
        for credential in await self.list_credentials({"clusterID": cluster_id}):
            await self._kv.delete(self._credentials + credential.serverKey)
        return cluster

    # -- credentials -----------------------------------------------------------------------------

    async def put_credential(self, credential: Credential) -> Credential:
        """Create or replace the credential of ``serverKey``; the cluster must exist."""
        await self.get_cluster(credential.clusterID)
        key = self._credentials + credential.serverKey
        for _ in range(_CAS_ATTEMPTS):
            current = await self._kv.get(key)
            now = _now()
            created = credential.createTime or now
            if current is not None:
                created = orjson.loads(current.value).get("createTime") or created
            stored = attrs.evolve(credential, createTime=created, updateTime=now)
            expected = 0 if current is None else current.mod_revision
            if await self._kv.compare_and_swap(key, _dump(stored), expected_mod_revision=expected):
                return stored
        raise errors.Conflict(f"credential {credential.serverKey} keeps changing; try again")

    async def get_credential(self, server_key: str) -> Credential:
        found = await self._kv.get(self._credentials + server_key)
        if found is None:
            raise errors.NotFound(f"no credential for {server_key}")
        return Credential.from_json(orjson.loads(found.value))

    async def list_credentials(self, filters: Mapping[str, str] | None = None) -> list[Credential]:
        """Every credential, sorted by server key, whose fields equal ``filters``."""
        fields = [f.name for f in attrs.fields(Credential)]
        found = []
        for item in await self._kv.range(self._credentials):
            data = orjson.loads(item.value)
            if _matches(data, filters or {}, fields):
                found.append(Credential.from_json(data))
        return found

    async def delete_credential(self, server_key: str) -> None:
        if not await self._kv.delete(self._credentials + server_key):
            raise errors.NotFound(f"no credential for {server_key}")

    # -- static clusters -------------------------------------------------------------------------

    async def load_static(self, specs: Iterable[ClusterSpec]) -> list[Cluster]:
        """Register the ``[[clusters]]`` of the config (and their credentials); safe to repeat.

        A cluster that exists keeps its create time and status; the config wins for the rest.
        """
        loaded = []
        for spec in specs:
            cluster, credential = await _from_spec(spec)
            try:
                current = await self.get_cluster(cluster.clusterID)
            except errors.ClusterNotFound:
                with contextlib.suppress(errors.Conflict):  # a concurrent loader added it first
                    await self.add_cluster(cluster)
                current = await self.get_cluster(cluster.clusterID)
            wanted: dict[str, Any] = {
                "clusterName": cluster.clusterName,
                "environment": cluster.environment,
                "extra": {**current.extra, **cluster.extra},
            }
            if any(getattr(current, k) != v for k, v in wanted.items()):
                current = await self.update_cluster(cluster.clusterID, wanted)
            await self._load_credential(credential)
            loaded.append(current)
        return loaded

    async def _load_credential(self, credential: Credential) -> None:
        try:
            current = await self.get_credential(credential.serverKey)
        except errors.NotFound:
            current = None
        if current is None or _without_times(current) != _without_times(credential):
            await self.put_credential(credential)

    # -- ids -------------------------------------------------------------------------------------

    async def allocate_id(self, engine: str, environment: str) -> str:
        """A cluster id never handed out before: max(existing, high-water mark) + 1 in the range."""
        low, high = _range(engine, environment)
        existing = await self.list_clusters({"engineType": engine, "environment": environment})
        floor = max((c.number for c in existing if low <= c.number <= high), default=low - 1)
        return cluster_id(engine, await self._advance_mark(engine, environment, floor=floor, step=1))

    async def _advance_mark(self, engine: str, environment: str, *, floor: int, step: int) -> int:
        """Set the range's high-water mark to max(mark, floor) + step by compare-and-swap; return it.

        ``step=1`` allocates; ``step=0`` records an explicitly chosen number so it is never allocated.
        """
        low, high = _range(engine, environment)
        key = f"{self._marks}{engine}-{environment}"
        for _ in range(_CAS_ATTEMPTS):
            mark = await self._kv.get(key)
            current = low - 1 if mark is None else int(mark.value)
            number = max(current, floor) + step
            if number == current:
                return number
            if number > high:
                raise errors.Conflict(f"no cluster ids left for {engine}-{environment} (range {low}-{high})")
            expected = 0 if mark is None else mark.mod_revision
            if await self._kv.compare_and_swap(key, str(number).encode(), expected_mod_revision=expected):
                return number
        raise errors.Conflict(f"the cluster id mark of {engine}-{environment} keeps changing; try again")

    # -- watch -----------------------------------------------------------------------------------

    async def revision(self) -> int:
        """The KV revision now: list after reading it, then ``watch(start_revision=rev + 1)``."""
        return await self._kv.revision()

    async def watch(self, *, start_revision: int | None = None) -> AsyncIterator[RegistryEvent]:
        """Cluster and credential changes in revision order (see :meth:`KV.watch_prefix`)."""
        events = self._kv.watch_prefix(self._watched, start_revision=start_revision)
        async with contextlib.aclosing(events):  # type: ignore[type-var]
            async for event in events:
                decoded = self._decode(event)
                if decoded is not None:
                    yield decoded

    def _decode(self, event: kv_mod.WatchEvent) -> RegistryEvent | None:
        if event.key.startswith(self._clusters):
            kind: Literal["cluster", "credential"] = "cluster"
            name = event.key[len(self._clusters) :]
        elif event.key.startswith(self._credentials):
            kind, name = "credential", event.key[len(self._credentials) :]
        else:
            return None  # an id mark, or a key of another component sharing the prefix
        if event.type == "delete":
            return RegistryEvent(kind=kind, type="delete", id=name, revision=event.revision)
        try:
            data = orjson.loads(event.value)
            if kind == "cluster":
                return RegistryEvent(
                    kind=kind, type="put", id=name, revision=event.revision, cluster=Cluster.from_json(data)
                )
            return RegistryEvent(
                kind=kind, type="put", id=name, revision=event.revision, credential=Credential.from_json(data)
            )
        except (orjson.JSONDecodeError, errors.BcsError) as e:
            logger.warning("registry: skipping unreadable %s %s: %s", kind, name, e)
            return None


def _dump(obj: Cluster | Credential) -> bytes:
    return orjson.dumps(obj.to_json())


def _common_prefix(a: str, b: str) -> str:
    size = 0
    while size < min(len(a), len(b)) and a[size] == b[size]:
        size += 1
    return a[:size]


def _range(engine: str, environment: str) -> tuple[int, int]:
    try:
        return ID_RANGES[(engine, environment)]
    except KeyError:
        raise errors.BadRequest(
            f"no cluster id range for engine {engine!r} and environment {environment!r}"
            f" (engines: {', '.join(ENGINES)}; environments: {', '.join(ENVIRONMENTS)})"
        ) from None


def _without_times(credential: Credential) -> Credential:
    return attrs.evolve(credential, createTime="", updateTime="")


async def _from_spec(spec: ClusterSpec) -> tuple[Cluster, Credential]:
    where = f"clusters: {spec.id}"
    ca = spec.ca_data
    if not ca and spec.ca_file:
        try:
            ca = await asyncio.to_thread(pathlib.Path(spec.ca_file).read_text, encoding="utf-8")
        except OSError as e:
            raise errors.ConfigError(f"{where}: cannot read ca_file {spec.ca_file}: {e.strerror}") from None
    try:
        cluster = Cluster(
            clusterID=spec.id,
            clusterName=spec.name or spec.id,
            engineType=spec.engine,
            environment=spec.environment,
            extra={"source": "config"},
        )
        credential = Credential(
            serverKey=spec.id,
            clusterID=spec.id,
            serverAddress=spec.server,
            caCertData=ca,
            userToken=spec.token,
            connectMode="direct",
        )
    except (errors.BcsError, ValueError) as e:
        raise errors.ConfigError(f"{where}: {e}") from None
    return cluster, credential

"""The offer pool, the constraint language and placement, on plain data."""

from __future__ import annotations

import pytest

from bcs import errors
from bcs.core.offers import constraints, model, placement, pool


def offer(i: int, *, cpus: float = 4.0, mem: float = 4096.0, **attrs: model.AttrValue) -> model.Offer:
    return model.Offer(
        id=f"o{i}",
        agent_id=f"a{i}",
        hostname=f"h{i}",
        cpus=cpus,
        mem=mem,
        ports=[(31000, 31009)],
        attributes=dict(attrs),
    )


def rule(name: str, op: str, **value: object) -> dict[str, object]:
    out: dict[str, object] = {"name": name, "operate": op}
    if "text" in value:
        out.update(type=3, text={"value": value["text"]})
    if "items" in value:
        out.update(type=4, set={"item": value["items"]})
    if "scalar" in value:
        out.update(type=1, scalar={"value": value["scalar"]})
    return out


def parsed(*ors: list[dict[str, object]]) -> constraints.Constraint:
    return constraints.parse({"intersectionItem": [{"unionData": o} for o in ors]})


def req(
    key: str, c: constraints.Constraint | None = None, *, group: str = "g", ports: int = 0
) -> model.Request:
    return model.Request(key=key, group=group, cpus=1.0, mem=128.0, ports=ports, constraint=c)


def test_pool_orders_emptiest_first_merges_per_agent_and_expires() -> None:
    p = pool.OfferPool(pool.PoolSettings(lifetime=10, expire_grace=5, lost_grace=30))
    p.set_totals("a1", 4, 4096)
    p.set_totals("a2", 4, 4096)
    assert p.add(offer(1, cpus=1, mem=1024), now=0) == []
    assert p.add(offer(2), now=0) == []
    assert [o.agent_id for o in p.offers()] == ["a2", "a1"]
    second = model.Offer(id="o1b", agent_id="a1", hostname="h1", cpus=3, mem=3072)
    assert p.add(second, now=1) == []  # merged, not declined
    assert len(p) == 2
    assert p.get("o1b") is p.get("o1")
    assert p.get("o1").ids == ["o1", "o1b"]
    assert p.add(offer(9, cpus=0.01), now=1) == ["o9"]  # below the minimum
    assert p.lose_agent("a2", now=2) == ["o2"]
    assert p.add(model.Offer(id="o2b", agent_id="a2", hostname="h2", cpus=4, mem=4096), now=3) == ["o2b"]
    assert p.expire(now=11) == []
    assert not any(True for _ in p.offers())
    assert sorted(p.expire(now=16)) == ["o1", "o1b"]
    assert p.add(model.Offer(id="o2c", agent_id="a2", hostname="h2", cpus=4, mem=4096), now=40) == []


def test_agent_deltas_are_taken_from_new_offers() -> None:
    p = pool.OfferPool()
    assert p.add(offer(1), now=0) == []
    # an in-place increase on a1: its held offer (counted without it) is given back
    assert p.set_delta("a1", 1.5, 512.0, 0.0) == ["o1"]
    assert len(p) == 0
    assert p.set_delta("a1", 1.5, 512.0, 0.0) == []  # unchanged: nothing to give back
    assert p.add(model.Offer(id="o1b", agent_id="a1", hostname="h1", cpus=4.0, mem=4096.0), now=1) == []
    assert (p.get("o1b").cpus, p.get("o1b").mem) == (2.5, 3584.0)
    placed, left = placement.place([req("r1"), req("r2"), req("r3")], p, constraints.Index())
    assert [x.offer.id for x in placed] == ["o1b", "o1b"]  # 2.5 cpus hold two requests, not three
    assert [r.key for r in left] == ["r3"]
    assert p.add(offer(2, cpus=2.0), now=1) == []  # another agent: untouched
    assert p.get("o2").cpus == 2.0
    assert p.set_delta("a1", 0.0, -10.0, 0.0) == ["o1b"]  # gone (negatives count as nothing)
    assert p.delta("a1") == (0.0, 0.0, 0.0)
    assert p.add(model.Offer(id="o1c", agent_id="a1", hostname="h1", cpus=0.5, mem=64.0), now=2) == []
    assert p.get("o1c").cpus == 0.5
    p.set_delta("a1", 0.49, 0.0, 0.0)
    assert p.add(model.Offer(id="o1d", agent_id="a1", hostname="h1", cpus=0.5, mem=64.0), now=2) == ["o1d"]


def test_unique_and_groupby_spread_placements() -> None:
    p = pool.OfferPool()
    for i in range(6):
        p.add(offer(i, zone=f"z{i % 3}"))
    index = constraints.Index()
    unique = parsed([rule("hostname", "UNIQUE")])
    placed, left = placement.place([req(f"t{i}", unique) for i in range(8)], p, index)
    assert len(placed) == 6
    assert len(left) == 2
    assert len({pl.offer.agent_id for pl in placed}) == 6
    groupby = parsed([rule("zone", "GROUPBY", items=["z0", "z1", "z2"])])
    placed, _ = placement.place([req(f"g{i}", groupby, group="spread") for i in range(6)], p, index)
    zones = [pl.offer.attributes["zone"] for pl in placed]
    assert sorted(zones) == ["z0", "z0", "z1", "z1", "z2", "z2"]
    index.remove("t0")
    assert index.total("g") == 5


@pytest.mark.parametrize(
    ("items", "fits"),
    [
        ([rule("zone", "CLUSTER", text="z1")], {"a1"}),
        ([rule("zone", "CLUSTER", items=["z1", "z2"])], {"a1", "a2"}),
        ([rule("hostname", "LIKE", text="h[12]")], {"a1", "a2"}),
        ([rule("hostname", "UNLIKE", text="h*")], set()),
        ([rule("weight", "GREATER", scalar=2)], {"a2"}),
        ([rule("zone", "MAXPER", text="1")], {"a0", "a1", "a2"}),
        ([rule("rack", "CLUSTER", text="r")], set()),  # missing attribute: no fit
        ([rule("zone", "CLUSTER", text="z0"), rule("zone", "CLUSTER", text="z2")], {"a0", "a2"}),  # OR
    ],
)
def test_operators(items: list[dict[str, object]], fits: set[str]) -> None:
    c = parsed(items)
    offers = [offer(i, zone=f"z{i}", weight=float(i + 1)) for i in range(3)]
    assert {o.agent_id for o in offers if constraints.fits(c, o, "g", constraints.Index())} == fits


def test_and_of_ors_exclude_and_toleration() -> None:
    index = constraints.Index()
    index.add("x", group="other", agent_id="a0", attributes={"hostname": "h0"}, labels={"tier": "db"})
    c = parsed([rule("zone", "CLUSTER", items=["z0", "z1"])], [rule("label", "EXCLUDE", items=["tier:db"])])
    offers = [offer(i, zone=f"z{i}") for i in range(3)]
    assert [o.agent_id for o in offers if constraints.fits(c, o, "g", index)] == ["a1"]
    tainted = offer(5, NoSchedule="gpu=true")
    assert not constraints.fits(None, tainted, "g", index)
    assert constraints.fits(parsed([rule("gpu", "TOLERATION", text="true")]), tainted, "g", index)


def test_parse_errors_name_the_field() -> None:
    with pytest.raises(errors.BadRequest, match=r"intersectionItem\[0\].unionData\[1\].operate"):
        parsed([rule("a", "UNIQUE"), rule("b", "NOPE")])
    with pytest.raises(errors.BadRequest, match="MAXPER"):
        parsed([rule("a", "MAXPER", text="x")])


def test_ports_are_taken_from_the_offer() -> None:
    p = pool.OfferPool()
    p.add(model.Offer(id="o", agent_id="a", hostname="h", cpus=8, mem=8192, ports=[(31000, 31002)]))
    placed, left = placement.place(
        [req("a", ports=2), req("b", ports=2), req("c", ports=1)], p, constraints.Index()
    )
    assert [pl.ports for pl in placed] == [(31000, 31001), (31002,)]
    assert [r.key for r in left] == ["b"]

"""Pure pieces: resource arithmetic, the attributes file layering, call validation details."""

from __future__ import annotations

import pytest

from bcs.sim.mesos import agents, resources, wire


def _res(cpus: float = 0, mem: float = 0, ports: str = "") -> resources.Resources:
    items = []
    if cpus:
        items.append({"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}})
    if mem:
        items.append({"name": "mem", "type": "SCALAR", "scalar": {"value": mem}})
    if ports:
        rng = [{"begin": b, "end": e} for b, e in resources.parse_ranges(ports)]
        items.append({"name": "ports", "type": "RANGES", "ranges": {"range": rng}})
    return resources.Resources.parse(items)


def test_scalars_use_fixed_point() -> None:
    three = _res(cpus=0.1) + _res(cpus=0.2)
    assert three.contains(_res(cpus=0.3))
    assert (three - _res(cpus=0.3)).empty()


def test_ranges_subtract_and_contain() -> None:
    agent = _res(ports="31000-31010")
    used = _res(ports="31002,31005-31006")
    left = agent - used
    assert left.ranges["ports"] == ((31000, 31001), (31003, 31004), (31007, 31010))
    assert left.contains(_res(ports="31007-31010"))
    assert not left.contains(_res(ports="31001-31003"))
    assert (left + used).ranges == agent.ranges
    assert agent.to_state()["ports"] == "[31000-31010]"


def test_parse_rejects_bad_resources() -> None:
    with pytest.raises(ValueError):
        resources.Resources.parse([{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}])
    with pytest.raises(ValueError):
        resources.Resources.parse([{"name": "x", "type": "TEXT"}])
    # numeric strings are accepted, as protobuf::parse does
    assert (
        resources.Resources.parse([{"name": "cpus", "type": "SCALAR", "scalar": {"value": "1.5"}}]).scalar(
            "cpus"
        )
        == 1.5
    )


def test_attribute_layers_defaults_patterns_and_per_agent() -> None:
    spec = {
        "defaults": {"attributes": {"zone": "z1", "rack": "r0"}},
        "patterns": [
            {"match": "agent-*", "index": "1-2", "attributes": {"rack": "r1"}},
            {"index": [2], "attributes": {"ports": {"ranges": "1-3"}}, "mem": 512},
        ],
        "agents": {"0": {"hostname": "special", "ip": "10.5.5.5", "attributes": {"rack": "rs"}}},
    }
    made = agents.make_agents(3, master_id="M", cpus=1, mem=1024, disk=0, ports="", spec=spec)
    values = [agents.attribute_values(a.attributes) for a in made]
    assert [a.hostname for a in made] == ["special", "agent-1", "agent-2"]
    assert made[0].ip == "10.5.5.5"
    assert values[0] == {"zone": "z1", "rack": "rs"}
    assert values[1] == {"zone": "z1", "rack": "r1"}
    assert values[2] == {"zone": "z1", "rack": "r1", "ports": "[1-3]"}
    assert made[2].total.scalar("mem") == 512
    assert "disk" not in made[0].total.scalars
    assert [a.id for a in made] == ["M-S0", "M-S1", "M-S2"]


def test_validate_call_missing_task_fields() -> None:
    call = {
        "type": "ACCEPT",
        "framework_id": {"value": "f"},
        "accept": {
            "offer_ids": [{"value": "o"}],
            "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{"task_id": {"value": "t"}}]}}],
        },
    }
    with pytest.raises(wire.CallError) as info:
        wire.validate_call(call)
    assert info.value.status == 400
    assert info.value.text.endswith(
        "Missing required fields: accept.operations[0].launch.task_infos[0].name, "
        "accept.operations[0].launch.task_infos[0].agent_id"
    )

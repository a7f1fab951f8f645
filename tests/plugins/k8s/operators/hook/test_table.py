"""The HookRun table (bk-bcs §5.4 semantics) against the simulated cluster and a scripted web endpoint.

Each group's runs execute concurrently in one controller; every run must reach its phase with its exact
counters. Multi-measurement cases use sub-second intervals to keep the suite fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import controller, model
from tests.plugins.k8s.conftest import WebTarget
from tests.plugins.k8s.operators.hook.cases import (
    BAD,
    E500,
    OK,
    OTHER,
    C,
    Case,
    check,
    metric,
    run_cases,
    web,
)

S, F, E, INC = model.SUCCESSFUL, model.FAILED, model.ERROR, model.INCONCLUSIVE
ONE = 'result == "1"'

CONDITIONS = [
    Case(
        "no-conditions",
        [metric("m", web("c1"))],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"c1": [OK]},
    ),
    Case(
        "success-true",
        [metric("m", web("c2"), successCondition=ONE)],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"c2": [OK]},
    ),
    Case(
        "success-false",
        [metric("m", web("c3"), successCondition=ONE)],
        F,
        {"m": C(count=1, failed=1)},
        answers={"c3": [BAD]},
        message="metric m assessed Failed",
    ),
    Case(
        "failure-only-true",
        [metric("m", web("c4"), failureCondition='result == "0"')],
        F,
        {"m": C(count=1, failed=1)},
        answers={"c4": [BAD]},
    ),
    Case(
        "failure-only-false",
        [metric("m", web("c5"), failureCondition='result == "0"')],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"c5": [OK]},
    ),
    Case(
        "both-neither",
        [metric("m", web("c6"), successCondition=ONE, failureCondition='result == "0"')],
        INC,
        {"m": C(count=1, inconclusive=1)},
        answers={"c6": [OTHER]},
    ),
    Case(
        "both-true-failure-wins",
        [metric("m", web("c7"), successCondition="len(result) > 0", failureCondition='result == "0"')],
        F,
        {"m": C(count=1, failed=1)},
        answers={"c7": [BAD]},
    ),
    Case(
        "as-int",
        [metric("m", web("c8", json_path="{$.players}"), successCondition="asInt(result) >= 3")],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"c8": [OK]},
    ),
    Case(
        "as-float",
        [metric("m", web("c9", json_path="{$.rate}"), successCondition="asFloat(result) < 0.01")],
        F,
        {"m": C(count=1, failed=1)},
        answers={"c9": [OK]},
    ),
    Case(
        "and-or-not",
        [
            metric(
                "m",
                web("c10", json_path="{$.players}"),
                successCondition='!(result == "x") && (asInt(result) > 9 || asInt(result) == 5)',
            )
        ],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"c10": [OK]},
    ),
    Case(
        "len-of-string",
        [metric("m", web("c11", json_path="{$.name}"), successCondition="len(result) > 0")],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"c11": [OK]},
    ),
    Case(
        "jsonpath-filter",
        [
            metric(
                "m", web("c12", json_path="{$.rooms[?(@.players==0)].id}"), successCondition='result == "b"'
            )
        ],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"c12": [OK]},
    ),
    Case(
        "not-a-boolean",
        [metric("m", web("c13"), successCondition="asInt(result)", consecutiveErrorLimit=0)],
        E,
        {"m": C(error=1, consecutiveError=1)},
        answers={"c13": [OK]},
        message="not a boolean",
    ),
]

WEB_ERRORS = [
    Case(
        "http-500-default-limit",
        [metric("m", web("e1"))],
        E,
        {"m": C(error=5, consecutiveError=5)},
        answers={"e1": [E500]},
        message="non 2xx",
    ),
    Case(
        "transport-error",
        [metric("m", {"web": {"url": "http://127.0.0.1:1/x", "timeoutSeconds": 2}}, consecutiveErrorLimit=1)],
        E,
        {"m": C(error=2, consecutiveError=2)},
    ),
    Case(
        "not-json",
        [metric("m", web("e3"), consecutiveErrorLimit=0)],
        E,
        {"m": C(error=1, consecutiveError=1)},
        answers={"e3": [(200, "<html>busy</html>")]},
        message="JSON",
    ),
    Case(
        "errors-then-success",
        [metric("m", web("e4"), successCondition=ONE)],
        S,
        {"m": C(count=1, successful=1, error=2, consecutiveSuccessful=1)},
        answers={"e4": [E500, (503, {}), OK]},
    ),
    Case(
        "consecutive-error-limit-2",
        [metric("m", web("e5"), consecutiveErrorLimit=2)],
        E,
        {"m": C(error=3, consecutiveError=3)},
        answers={"e5": [E500]},
    ),
]

LIMITS = [
    Case(
        "count-3",
        [metric("m", web("l1"), successCondition=ONE, interval="300ms", count=3)],
        S,
        {"m": C(count=3, successful=3, consecutiveSuccessful=3)},
        answers={"l1": [OK]},
    ),
    Case(
        "failure-limit-1",
        [metric("m", web("l2"), successCondition=ONE, interval="300ms", count=5, failureLimit=1)],
        F,
        {"m": C(count=2, failed=2)},
        answers={"l2": [BAD]},
    ),
    Case(
        "failure-limit-default-0",
        [metric("m", web("l3"), successCondition=ONE, interval="300ms", count=3)],
        F,
        {"m": C(count=1, failed=1)},
        answers={"l3": [BAD]},
    ),
    Case(
        "failure-limit-disabled",
        [metric("m", web("l4"), successCondition=ONE, interval="300ms", count=2, failureLimit=-1)],
        S,
        {"m": C(count=2, failed=2)},
        answers={"l4": [BAD]},
    ),
    Case(
        "successful-limit",
        [metric("m", web("l5"), successCondition=ONE, interval="300ms", successfulLimit=2)],
        S,
        {"m": C(count=2, successful=2, consecutiveSuccessful=2)},
        answers={"l5": [OK]},
    ),
    Case(
        "inconclusive-limit-1",
        [
            metric(
                "m",
                web("l6"),
                successCondition=ONE,
                failureCondition='result == "0"',
                interval="300ms",
                count=5,
                inconclusiveLimit=1,
            )
        ],
        INC,
        {"m": C(count=2, inconclusive=2)},
        answers={"l6": [OTHER]},
    ),
    Case(
        "consecutive-successful-limit",
        [
            metric(
                "m",
                web("l7"),
                successCondition=ONE,
                interval="300ms",
                failureLimit=3,
                consecutiveSuccessfulLimit=2,
            )
        ],
        S,
        {"m": C(count=4, successful=3, failed=1, consecutiveSuccessful=2)},
        answers={"l7": [OK, BAD, OK, OK]},
    ),
    Case(
        "error-does-not-consume-count",
        [metric("m", web("l8"), successCondition=ONE, interval="300ms", count=2)],
        S,
        {"m": C(count=2, successful=2, error=1, consecutiveSuccessful=1)},
        answers={"l8": [OK, E500, OK]},
    ),
]

SCHEDULING = [
    Case(
        "initial-delay",
        [metric("m", web("s1"), initialDelay="1s")],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"s1": [OK]},
    ),
    Case(
        "terminate-running",
        [metric("m", web("s2"), successCondition=ONE, interval="1s")],
        S,
        {"m": C(count=2, successful=2, consecutiveSuccessful=2)},
        answers={"s2": [OK]},
        terminate_after=2,
    ),
    Case(
        "terminate-before-start",
        [metric("m", web("s3"), initialDelay="1h")],
        S,
        {"m": C()},
        terminate=True,
        metric_phases={"m": S},
    ),
    Case(
        "ordered-all-pass",
        [metric("m1", web("s4a")), metric("m2", web("s4b"))],
        S,
        {
            "m1": C(count=1, successful=1, consecutiveSuccessful=1),
            "m2": C(count=1, successful=1, consecutiveSuccessful=1),
        },
        answers={"s4a": [OK], "s4b": [OK]},
        policy=model.ORDERED,
    ),
    Case(
        "ordered-first-fails",
        [metric("m1", web("s5a"), successCondition=ONE), metric("m2", web("s5b"))],
        F,
        {"m1": C(count=1, failed=1), "m2": C()},
        answers={"s5a": [BAD], "s5b": [OK]},
        policy=model.ORDERED,
        metric_phases={"m1": F, "m2": S},
    ),
    Case(
        "parallel-failure-stops-others",
        [metric("m1", web("s6a"), successCondition=ONE), metric("m2", web("s6b"), interval="300ms")],
        F,
        {"m1": C(count=1, failed=1), "m2": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"s6a": [BAD], "s6b": [OK]},
        policy=model.PARALLEL,
        metric_phases={"m1": F, "m2": S},
    ),
    Case(
        "worst-metric-wins",
        [
            metric("m1", web("s7a"), successCondition=ONE, failureCondition='result == "0"'),
            metric("m2", web("s7b"), consecutiveErrorLimit=0),
        ],
        E,
        {"m1": C(count=1, inconclusive=1), "m2": C(error=1, consecutiveError=1)},
        answers={"s7a": [OTHER], "s7b": [E500]},
        metric_phases={"m1": INC, "m2": E},
    ),
]

TEMPLATE = {
    "metadata": {"name": "room-empty", "namespace": "default"},
    "spec": {
        "args": [{"name": "room", "value": "r1"}, {"name": "path", "value": "a1"}, {"name": "base"}],
        "metrics": [
            metric(
                "m",
                {
                    "web": {
                        "url": "{{ args.base }}/{{ args.path }}",
                        "jsonPath": "{$.ok}",
                        "headers": [{"key": "X-Room", "value": "{{ args.room }}"}],
                    }
                },
                successCondition=ONE,
            )
        ],
    },
}

ARGS = [
    Case("missing-arg", [metric("m", web("a0"))], E, {}, args=[{"name": "room"}], message="'room'"),
    Case(
        "template-args",
        [],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        answers={"a1": [OK]},
        manifest=model.hookrun_from_template(TEMPLATE, name="x", args={"room": "r7"}),
    ),
    Case(
        "undefined-arg-in-url",
        [metric("m", {"web": {"url": "{{ args.base }}/{{ args.nope }}"}}, consecutiveErrorLimit=0)],
        E,
        {"m": C(error=1, consecutiveError=1)},
        message="nope",
    ),
    Case("count-without-interval", [metric("m", web("a3"), count=3)], E, {}, message="requires an interval"),
    Case(
        "two-providers",
        [metric("m", {**web("a4"), "prometheus": {"address": "http://x", "query": "up"}})],
        E,
        {},
        message="exactly one provider",
    ),
]

ANNOTATION = "io.tencent.bcs.dev/room-empty"


def kube_metric(
    name: str,
    function: str,
    value: str,
    *,
    path: str = "metadata.annotations." + ANNOTATION,
    **fields: object,
) -> dict:
    return metric(
        name, {"kubernetes": {"function": function, "fields": [{"path": path, "value": value}]}}, **fields
    )


POD_ARGS = [{"name": "PodName", "value": "game-0"}, {"name": "PodNamespace", "value": "default"}]

KUBERNETES = [
    Case(
        "k8s-get-equal",
        [kube_metric("m", "get", "true")],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        args=POD_ARGS,
    ),
    Case(
        "k8s-get-mismatch",
        [kube_metric("m", "get", "false", consecutiveErrorLimit=0)],
        E,
        {"m": C(error=1, consecutiveError=1)},
        args=POD_ARGS,
        message=ANNOTATION,
    ),
    Case(
        "k8s-patch",
        [kube_metric("m", "patch", "done", path="metadata.annotations.bcs/hooked")],
        S,
        {"m": C(count=1, successful=1, consecutiveSuccessful=1)},
        args=POD_ARGS,
    ),
    Case(
        "k8s-unknown-kind",
        [kube_metric("m", "get", "true", consecutiveErrorLimit=0)],
        E,
        {"m": C(error=1, consecutiveError=1)},
        args=[*POD_ARGS, {"name": "Kind", "value": "Nope"}],
        message="Nope",
    ),
    Case(
        "k8s-bad-path",
        [kube_metric("m", "get", "x", path="spec.nodeName", consecutiveErrorLimit=0)],
        E,
        {"m": C(error=1, consecutiveError=1)},
        args=POD_ARGS,
        message="metadata.annotations",
    ),
    Case(
        "k8s-missing-pod",
        [kube_metric("m", "get", "true", consecutiveErrorLimit=0)],
        E,
        {"m": C(error=1, consecutiveError=1)},
        args=[{"name": "PodName", "value": "gone"}],
    ),
]

GROUPS = {
    "conditions": CONDITIONS,
    "web-errors": WEB_ERRORS,
    "limits": LIMITS,
    "scheduling": SCHEDULING,
    "args": ARGS,
    "kubernetes": KUBERNETES,
}


def test_table_has_enough_cases() -> None:
    assert sum(len(g) for g in GROUPS.values()) >= 30


@pytest.fixture
async def hooks(hook_crds: client.KubeClient) -> AsyncIterator[controller.HookController]:
    ctl = controller.HookController(hook_crds, workers=8, error_retry=0.3)
    task = asyncio.create_task(ctl.run(), name="hook controller")
    yield ctl
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("group", sorted(GROUPS))
async def test_hookrun_table(
    group: str, hooks: controller.HookController, hook_crds: client.KubeClient, web_target: WebTarget
) -> None:
    kube = hook_crds
    pods = client.Resource("", "v1", "pods", "Pod")
    await kube.create(
        pods,
        "default",
        {
            "metadata": {"name": "game-0", "annotations": {ANNOTATION: "true"}},
            "spec": {"containers": [{"name": "game", "image": "game:1"}]},
        },
    )
    cases = GROUPS[group]
    runs = await run_cases(kube, cases, base=web_target.url, target=web_target)
    assert check(cases, runs) == []
    await _extra_checks(group, kube, runs, web_target)


async def _extra_checks(group: str, kube: client.KubeClient, runs: dict, target: WebTarget) -> None:
    def measurements(run: str, name: str) -> list[dict]:
        results = {r["name"]: r for r in runs[run]["status"]["metricResults"]}
        return results[name]["measurements"]

    if group == "scheduling":
        first = model.parse_time(measurements("initial-delay", "m")[0]["startedAt"])
        started = model.parse_time(runs["initial-delay"]["status"]["startedAt"])
        assert (first - started).total_seconds() >= 1.0
        m1_done = model.parse_time(measurements("ordered-all-pass", "m1")[0]["finishedAt"])
        m2_start = model.parse_time(measurements("ordered-all-pass", "m2")[0]["startedAt"])
        assert m2_start >= m1_done
        assert target.hits("s5b") == 0  # Ordered: m2 never ran after m1 failed
        assert target.hits("s3") == 0  # terminated before its initial delay
    if group == "args":
        rooms = [h.get("X-Room") for p, h in target.requests if p == "a1"]
        assert rooms == ["r7"]  # header templated from the value the HookRun supplied
    if group == "kubernetes":
        pod = await kube.get(client.Resource("", "v1", "pods", "Pod"), "default", "game-0")
        assert pod["metadata"]["annotations"]["bcs/hooked"] == "done"
        assert pod["metadata"]["annotations"][ANNOTATION] == "true"
    if group == "conditions":
        assert measurements("as-int", "m")[0]["value"] == "5"
        assert measurements("jsonpath-filter", "m")[0]["value"] == "b"

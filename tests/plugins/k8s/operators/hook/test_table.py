"""The HookRun table (bk-bcs §5.4 semantics) against the simulated cluster and a scripted web endpoint.

Each group's runs execute concurrently in one controller; every run must reach its phase with its exact
counters. Multi-measurement cases use sub-second intervals to keep the suite fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

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
ZERO = 'result == "0"'
PASSED_ONCE = C(count=1, successful=1, consecutiveSuccessful=1)
FAILED_ONCE = C(count=1, failed=1)
ERRED_ONCE = C(error=1, consecutiveError=1)


def web_case(
    id_: str,
    phase: str,
    counters: dict[str, int],
    answers: list[tuple[int, Any]],
    *,
    json_path: str = "{$.ok}",
    message: str = "",
    terminate_after: int | None = None,
    **fields: Any,
) -> Case:
    """One metric ``m`` (with ``fields``) on the web path ``id_``, which answers ``answers`` in turn."""
    return Case(
        id_,
        [metric("m", web(id_, json_path=json_path), **fields)],
        phase,
        {"m": counters},
        answers={id_: answers},
        message=message,
        terminate_after=terminate_after,
    )


CONDITIONS = [
    web_case("no-conditions", S, PASSED_ONCE, [OK]),
    web_case("success-true", S, PASSED_ONCE, [OK], successCondition=ONE),
    web_case(
        "success-false", F, FAILED_ONCE, [BAD], successCondition=ONE, message="metric m assessed Failed"
    ),
    web_case("failure-only-true", F, FAILED_ONCE, [BAD], failureCondition=ZERO),
    web_case("failure-only-false", S, PASSED_ONCE, [OK], failureCondition=ZERO),
    web_case(
        "both-neither", INC, C(count=1, inconclusive=1), [OTHER], successCondition=ONE, failureCondition=ZERO
    ),
    web_case(
        "both-true-failure-wins",
        F,
        FAILED_ONCE,
        [BAD],
        successCondition="len(result) > 0",
        failureCondition=ZERO,
    ),
    web_case("as-int", S, PASSED_ONCE, [OK], json_path="{$.players}", successCondition="asInt(result) >= 3"),
    web_case(
        "as-float", F, FAILED_ONCE, [OK], json_path="{$.rate}", successCondition="asFloat(result) < 0.01"
    ),
    web_case(
        "and-or-not",
        S,
        PASSED_ONCE,
        [OK],
        json_path="{$.players}",
        successCondition='!(result == "x") && (asInt(result) > 9 || asInt(result) == 5)',
    ),
    web_case("len-of-string", S, PASSED_ONCE, [OK], json_path="{$.name}", successCondition="len(result) > 0"),
    web_case(
        "jsonpath-filter",
        S,
        PASSED_ONCE,
        [OK],
        json_path="{$.rooms[?(@.players==0)].id}",
        successCondition='result == "b"',
    ),
    web_case(
        "not-a-boolean",
        E,
        ERRED_ONCE,
        [OK],
        successCondition="asInt(result)",
        consecutiveErrorLimit=0,
        message="not a boolean",
    ),
]

WEB_ERRORS = [
    web_case("http-500-default-limit", E, C(error=5, consecutiveError=5), [E500], message="non 2xx"),
    Case(
        "transport-error",
        [metric("m", {"web": {"url": "http://127.0.0.1:1/x", "timeoutSeconds": 2}}, consecutiveErrorLimit=1)],
        E,
        {"m": C(error=2, consecutiveError=2)},
    ),
    web_case(
        "not-json", E, ERRED_ONCE, [(200, "<html>busy</html>")], consecutiveErrorLimit=0, message="JSON"
    ),
    web_case(
        "errors-then-success",
        S,
        C(count=1, successful=1, error=2, consecutiveSuccessful=1),
        [E500, (503, {}), OK],
        successCondition=ONE,
    ),
    web_case("consecutive-error-limit-2", E, C(error=3, consecutiveError=3), [E500], consecutiveErrorLimit=2),
]

# Multi-measurement cases: every 300 ms on a metric that is successful when the answer is "1".
POLLED = {"successCondition": ONE, "interval": "300ms"}

LIMITS = [
    web_case("count-3", S, C(count=3, successful=3, consecutiveSuccessful=3), [OK], count=3, **POLLED),
    web_case("failure-limit-1", F, C(count=2, failed=2), [BAD], count=5, failureLimit=1, **POLLED),
    web_case("failure-limit-default-0", F, FAILED_ONCE, [BAD], count=3, **POLLED),
    web_case("failure-limit-disabled", S, C(count=2, failed=2), [BAD], count=2, failureLimit=-1, **POLLED),
    web_case(
        "successful-limit",
        S,
        C(count=2, successful=2, consecutiveSuccessful=2),
        [OK],
        successfulLimit=2,
        **POLLED,
    ),
    web_case(
        "inconclusive-limit-1",
        INC,
        C(count=2, inconclusive=2),
        [OTHER],
        failureCondition=ZERO,
        count=5,
        inconclusiveLimit=1,
        **POLLED,
    ),
    web_case(
        "consecutive-successful-limit",
        S,
        C(count=4, successful=3, failed=1, consecutiveSuccessful=2),
        [OK, BAD, OK, OK],
        failureLimit=3,
        consecutiveSuccessfulLimit=2,
        **POLLED,
    ),
    web_case(
        "error-does-not-consume-count",
        S,
        C(count=2, successful=2, error=1, consecutiveSuccessful=1),
        [OK, E500, OK],
        count=2,
        **POLLED,
    ),
]

SCHEDULING = [
    web_case("initial-delay", S, PASSED_ONCE, [OK], initialDelay="1s"),
    web_case(
        "terminate-running",
        S,
        C(count=2, successful=2, consecutiveSuccessful=2),
        [OK],
        terminate_after=2,
        successCondition=ONE,
        interval="1s",
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
        {"m1": PASSED_ONCE, "m2": PASSED_ONCE},
        answers={"s4a": [OK], "s4b": [OK]},
        policy=model.ORDERED,
    ),
    Case(
        "ordered-first-fails",
        [metric("m1", web("s5a"), successCondition=ONE), metric("m2", web("s5b"))],
        F,
        {"m1": FAILED_ONCE, "m2": C()},
        answers={"s5a": [BAD], "s5b": [OK]},
        policy=model.ORDERED,
        metric_phases={"m1": F, "m2": S},
    ),
    Case(
        "parallel-failure-stops-others",
        [metric("m1", web("s6a"), successCondition=ONE), metric("m2", web("s6b"), interval="300ms")],
        F,
        {"m1": FAILED_ONCE, "m2": PASSED_ONCE},
        answers={"s6a": [BAD], "s6b": [OK]},
        policy=model.PARALLEL,
        metric_phases={"m1": F, "m2": S},
    ),
    Case(
        "worst-metric-wins",
        [
            metric("m1", web("s7a"), successCondition=ONE, failureCondition=ZERO),
            metric("m2", web("s7b"), consecutiveErrorLimit=0),
        ],
        E,
        {"m1": C(count=1, inconclusive=1), "m2": ERRED_ONCE},
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
        {"m": PASSED_ONCE},
        answers={"a1": [OK]},
        manifest=model.hookrun_from_template(TEMPLATE, name="x", args={"room": "r7"}),
    ),
    Case(
        "undefined-arg-in-url",
        [metric("m", {"web": {"url": "{{ args.base }}/{{ args.nope }}"}}, consecutiveErrorLimit=0)],
        E,
        {"m": ERRED_ONCE},
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
POD_ARGS = [{"name": "PodName", "value": "game-0"}, {"name": "PodNamespace", "value": "default"}]


def kube_case(
    id_: str,
    phase: str,
    function: str,
    value: str,
    *,
    path: str = "metadata.annotations." + ANNOTATION,
    args: list[dict[str, Any]] = POD_ARGS,
    message: str = "",
) -> Case:
    """One kubernetes metric ``m`` (``function`` on field ``path`` with ``value``) that ends ``phase``
    after one measurement: Successful, or Error with no retry (consecutiveErrorLimit 0)."""
    fields = {"consecutiveErrorLimit": 0} if phase == E else {}
    provider = {"kubernetes": {"function": function, "fields": [{"path": path, "value": value}]}}
    counters = ERRED_ONCE if phase == E else PASSED_ONCE
    return Case(id_, [metric("m", provider, **fields)], phase, {"m": counters}, args=args, message=message)


KUBERNETES = [
    kube_case("k8s-get-equal", S, "get", "true"),
    kube_case("k8s-get-mismatch", E, "get", "false", message=ANNOTATION),
    kube_case("k8s-patch", S, "patch", "done", path="metadata.annotations.bcs/hooked"),
    kube_case(
        "k8s-unknown-kind",
        E,
        "get",
        "true",
        args=[*POD_ARGS, {"name": "Kind", "value": "Nope"}],
        message="Nope",
    ),
    kube_case("k8s-bad-path", E, "get", "x", path="spec.nodeName", message="metadata.annotations"),
    kube_case("k8s-missing-pod", E, "get", "true", args=[{"name": "PodName", "value": "gone"}]),
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

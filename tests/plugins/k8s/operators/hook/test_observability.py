"""Events on HookRun phase changes and the operator's Prometheus metrics."""

from __future__ import annotations

import asyncio

from bcs.plugins.k8s.kube import client
from bcs.plugins.k8s.operators.hook import controller, events, model
from tests.plugins.k8s.conftest import WebTarget
from tests.plugins.k8s.operators.hook.cases import E500, OK, C, Case, check, metric, run_cases, web


async def test_events_and_metrics(hook_crds: client.KubeClient, web_target: WebTarget) -> None:
    ctl = controller.HookController(hook_crds, workers=2, error_retry=0.2)
    task = asyncio.create_task(ctl.run(), name="hook controller")
    cases = [
        Case("good", [metric("m", web("g"))], model.SUCCESSFUL,
             {"m": C(count=1, successful=1, consecutiveSuccessful=1)}, answers={"g": [OK]}),
        Case("broken", [metric("m", web("b"), consecutiveErrorLimit=1)], model.ERROR,
             {"m": C(error=2, consecutiveError=2)}, answers={"b": [E500]}),
    ]  # fmt: skip
    try:
        runs = await run_cases(hook_crds, cases, base=web_target.url, target=web_target)
        assert check(cases, runs) == []
        listed = await hook_crds.list(events.EVENTS, "default")
        seen = {
            (e["involvedObject"]["name"], e["reason"], e["type"])
            for e in listed["items"]
            if e.get("source", {}).get("component") == events.COMPONENT
        }
        # "good" completes in its first reconcile, so its only phase change is New -> Successful.
        assert seen == {
            ("good", "Successful", "Normal"),
            ("broken", "Running", "Normal"),
            ("broken", "Error", "Warning"),
        }
        uid = runs["broken"]["metadata"]["uid"]
        assert all(
            e["involvedObject"]["uid"] == uid and e["involvedObject"]["kind"] == "HookRun"
            for e in listed["items"]
            if e["involvedObject"].get("name") == "broken"
        )
        text = ctl.metrics.render().decode()
        assert 'bcs_hookruns{phase="Successful"} 1.0' in text
        assert 'bcs_hookruns{phase="Error"} 1.0' in text
        assert 'bcs_hook_provider_errors_total{provider="web"} 2.0' in text
        assert 'bcs_hook_measurement_duration_seconds_count{phase="Successful",provider="web"} 1.0' in text
        assert 'bcs_hookrun_phase_transitions_total{phase="Running"} 1.0' in text
        assert 'bcs_hook_reconciles_total{result="ok"}' in text
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

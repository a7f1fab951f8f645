"""Pure rules: condition expressions, durations and spec validation, args, and §5.4 assessment."""

from __future__ import annotations

import datetime

import pytest

from bcs.plugins.k8s.operators.hook import assess, expressions, model
from bcs.plugins.k8s.operators.hook import providers as base
from bcs.plugins.k8s.operators.hook.providers import jsonpath, prometheus

T0 = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("expr", "result", "want"),
    [
        ('result == "1"', "1", True),
        ("asInt(result) >= 3", "3", True),
        ("asFloat(result) < 0.01", "0.5", False),
        ("result[0] > 0.9", [0.95], True),
        ("len(result) > 0", [], False),
        ('result == "a" && !(result != "a")', "a", True),
        ('result == "x" || asInt("2") == 2', "y", True),
        ('result == "&&||!"', "&&||!", True),  # operators inside strings stay untouched
        ("result == `raw`", "raw", True),
        ("result == true", True, True),
    ],
)
def test_expressions(expr: str, result: object, want: bool) -> None:
    assert expressions.evaluate(expr, result) is want


@pytest.mark.parametrize(
    "expr",
    [
        "result",
        "asInt(result)",
        "__import__('os')",
        "result.__class__",
        "open('/etc/passwd')",
        "asInt('x') > 1",
        "((",
    ],
)
def test_bad_or_unsafe_expressions_raise(expr: str) -> None:
    with pytest.raises(expressions.ExpressionError):
        expressions.evaluate(expr, "5")


def _metric(**fields: object) -> model.Metric:
    return model.Metric.from_dict({"name": "m", "provider": {"web": {"url": "u"}}, **fields}, 0)


def test_condition_rules() -> None:
    both = _metric(successCondition='result == "1"', failureCondition='result == "0"')
    assert [base.evaluate_conditions(both, v) for v in ("1", "0", "2")] == [
        "Successful",
        "Failed",
        "Inconclusive",
    ]
    assert base.evaluate_conditions(_metric(), "anything") == "Successful"
    assert base.evaluate_conditions(_metric(successCondition='result == "1"'), "0") == "Failed"
    assert base.evaluate_conditions(_metric(failureCondition='result == "1"'), "0") == "Successful"
    failure_wins = _metric(successCondition="true", failureCondition="true")
    assert base.evaluate_conditions(failure_wins, "") == "Failed"


def test_durations_and_effective_count() -> None:
    assert model.parse_duration("1m30s") == 90
    assert model.parse_duration("500ms") == 0.5
    assert model.parse_duration("1h") == 3600
    with pytest.raises(model.SpecError):
        model.parse_duration("10 seconds")
    assert _metric().effective_count == 1
    assert _metric(interval="1s").effective_count is None
    assert _metric(interval="1s", count=3).effective_count == 3
    assert _metric().consecutive_error_limit == 4


def test_spec_validation_messages() -> None:
    with pytest.raises(model.SpecError, match="requires an interval"):
        _metric(count=2)
    with pytest.raises(model.SpecError, match="used twice"):
        model.parse_metrics({"metrics": [{"name": "a", "provider": {"web": {}}}] * 2})
    with pytest.raises(model.SpecError, match="policy"):
        model.parse_metrics({"metrics": [{"name": "a", "provider": {"web": {}}}], "policy": "Random"})
    with pytest.raises(model.SpecError, match="interval"):
        _metric(interval="soon")


def test_args_merge_and_resolution() -> None:
    template = {
        "metadata": {"name": "t", "namespace": "ns"},
        "spec": {"args": [{"name": "a", "value": "1"}, {"name": "b"}], "metrics": []},
    }
    run = model.hookrun_from_template(template, name="r", args={"b": "2", "PodName": "p"}, labels={"x": "y"})
    assert run["metadata"] == {"name": "r", "namespace": "ns", "labels": {"x": "y"}}
    assert model.resolve_args(run["spec"]["args"]) == {"a": "1", "b": "2", "PodName": "p"}
    unresolved = model.hookrun_from_template(template, name="r")
    with pytest.raises(model.SpecError, match="'b'"):
        model.resolve_args(unresolved["spec"]["args"])
    assert base.render("http://{{ args.a }}:{{args.b}}/x", {"a": "h", "b": "9"}) == "http://h:9/x"
    with pytest.raises(base.ProviderError, match="c"):
        base.render("{{ args.c }}", {})


def test_jsonpath_and_value_formatting() -> None:
    data = {"age": 45, "items": [{"n": "a"}, {"n": "b"}], "ok": True, "f": 1.5}
    assert jsonpath.render("{$.age}", data) == "45"
    assert jsonpath.render("{.items[*].n}", data) == "a b"
    assert jsonpath.render("age={.age}, ok={.ok}", data) == "age=45, ok=true"
    assert jsonpath.render("{.missing}", data) == ""
    assert jsonpath.render("{.items[0]}", data) == '{"n":"a"}'
    assert [prometheus.format_value(v) for v in (1.0, 0.005, float("nan"))] == ["1", "0.005", "NaN"]


def _status(*measurements: str, **counters: int) -> dict:
    ms = [
        {"phase": p, "startedAt": model.format_time(T0), "finishedAt": model.format_time(T0)}
        for p in measurements
    ]
    return {
        "startedAt": model.format_time(T0),
        "metricResults": [{"name": "m", **counters, "measurements": ms}],
    }


def test_assessment_order() -> None:
    m = _metric(interval="1s", failureLimit=1, successfulLimit=2)
    r = lambda **c: {"measurements": [{"phase": "Successful"}], **c}  # noqa: E731
    assert assess.assess_metric(m, r(failed=2, successful=5), terminating=False) == "Failed"  # failure first
    assert assess.assess_metric(m, r(failed=1, successful=2), terminating=False) == "Successful"
    assert assess.assess_metric(m, r(inconclusive=1), terminating=False) == "Inconclusive"
    assert assess.assess_metric(m, r(consecutiveError=5), terminating=False) == "Error"
    assert assess.assess_metric(m, r(consecutiveError=4), terminating=False) == "Running"
    assert assess.assess_metric(m, r(), terminating=True) == "Successful"
    assert assess.assess_metric(m, {"measurements": []}, terminating=False) == "Pending"
    assert assess.assess_metric(m, {"measurements": [{"phase": "Running"}]}, terminating=True) == "Running"
    assert model.worse("Inconclusive", "Error")
    assert model.worse("Error", "Failed")
    assert model.worse("Successful", "Running")
    assert not model.worse("Failed", "Error")


def test_error_retry_defaults_to_ten_seconds_without_interval() -> None:
    m = _metric()  # no interval: an Error is retried after 10 s
    status = _status("Error", error=1, consecutiveError=1)
    assert assess.next_reconcile([m], status, T0) == T0 + datetime.timedelta(seconds=10)
    assert assess.metric_tasks([m], {}, status, T0 + datetime.timedelta(seconds=9)) == []
    assert len(assess.metric_tasks([m], {}, status, T0 + datetime.timedelta(seconds=10))) == 1
    with_interval = _metric(interval="30s")
    assert assess.next_reconcile([with_interval], status, T0) == T0 + datetime.timedelta(seconds=10)
    short = _metric(interval="2s")
    assert assess.next_reconcile([short], status, T0) == T0 + datetime.timedelta(seconds=2)


def test_requeue_times_follow_interval_and_initial_delay() -> None:
    m = _metric(interval="5s", count=3)
    assert assess.next_reconcile([m], _status("Successful", count=1), T0) == T0 + datetime.timedelta(
        seconds=5
    )
    assert assess.next_reconcile([m], _status("Successful", count=3), T0) is None  # count reached
    delayed = _metric(initialDelay="7s")
    fresh = {"startedAt": model.format_time(T0)}
    assert assess.next_reconcile([delayed], fresh, T0) == T0 + datetime.timedelta(seconds=7)
    assert assess.metric_tasks([delayed], {}, fresh, T0) == []


def test_terminating_when_a_metric_went_bad() -> None:
    assert assess.is_terminating({"terminate": True}, {})
    assert assess.is_terminating({}, {"metricResults": [{"phase": "Inconclusive"}]})
    assert not assess.is_terminating({}, {"metricResults": [{"phase": "Successful"}]})


def test_counters_follow_bk_bcs() -> None:
    result = assess.new_result("m")
    for phase in ("Successful", "Successful", "Error", "Failed", "Inconclusive", "Successful"):
        assess.record(result, {"phase": phase}, resumed=False)
    counters = {k: result[k] for k in assess._COUNTERS}
    assert counters == {
        "count": 5, "successful": 3, "failed": 1, "inconclusive": 1, "error": 1,
        "consecutiveError": 0, "consecutiveSuccessful": 1,
    }  # fmt: skip


def test_trim_keeps_the_last_measurements() -> None:
    status = _status(*["Successful"] * 15)
    assess.trim(status)
    assert len(status["metricResults"][0]["measurements"]) == model.MEASUREMENT_HISTORY_LIMIT

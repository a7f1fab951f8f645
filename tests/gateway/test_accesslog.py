"""The access log writes no secrets: credential query parameters and whole tokens in paths are masked."""

from __future__ import annotations

import logging
import pathlib

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from bcs import app as app_mod
from bcs.gateway import accesslog
from bcs.testing import ADMIN_TOKEN
from tests import services
from tests.gateway import upstream
from tests.gateway.accounts import bearer


def test_access_log_masks_credential_query_parameters() -> None:
    request = make_mocked_request("GET", "/clusters/x/api/v1/pods?watch=1&access_token=s3cret&token=t0k")
    target = accesslog.safe_target(request)
    assert "s3cret" not in target
    assert "t0k" not in target
    assert target.startswith("/clusters/x/api/v1/pods?watch=1&access_token=")
    assert accesslog.safe_target(make_mocked_request("GET", "/healthz")) == "/healthz"
    whole = "abcd1234" + "S" * 24
    target = accesslog.safe_target(make_mocked_request("DELETE", f"/bcsapi/v4/usermanager/v1/tokens/{whole}"))
    assert target == "/bcsapi/v4/usermanager/v1/tokens/abcd1234***"
    by_id = accesslog.safe_target(make_mocked_request("PUT", "/bcsapi/v4/usermanager/v1/tokens/abcd1234"))
    assert by_id == "/bcsapi/v4/usermanager/v1/tokens/abcd1234"


async def test_each_request_is_one_line_without_its_token(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = app_mod.create_app(upstream.gateway_settings(tmp_path / "data"))
    runner = web.AppRunner(
        app, access_log_class=accesslog.AccessLogger, access_log=logging.getLogger("bcs.access")
    )
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        port = runner.addresses[0][1]
        caplog.set_level(logging.INFO, logger="bcs.access")
        url = f"http://127.0.0.1:{port}/bcsapi/v4/version?access_token=hunter2"
        async with aiohttp.ClientSession() as session, session.get(url, headers=bearer(ADMIN_TOKEN)) as r:
            assert r.status == 200
            rid = r.headers["X-Request-Id"]

        def logged() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.name == "bcs.access"]

        await services.eventually(logged, what="the access log line")
        (record,) = logged()
        assert '"GET /bcsapi/v4/version?access_token=***" 200' in record.getMessage()
        assert record.request_id == rid  # type: ignore[attr-defined]
        assert "hunter2" not in caplog.text
        assert ADMIN_TOKEN not in caplog.text
    finally:
        await runner.cleanup()

"""run_control_task: SNS subscription confirmation, re-validated before any request is made."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import respx

from connector.control import ControlTaskFailed, run_control_task
from connector.errors import MalformedPayload
from providers import amazon_ses
from providers.base import ControlTask
from tests.support.fixtures import cases

SUBSCRIPTION = next(case for case in cases("amazon_ses") if case.name == "subscription")
TOPIC = SUBSCRIPTION.source().topic_arns[0]
URL: str = json.loads(SUBSCRIPTION.body)["SubscribeURL"]


def _confirm(data: dict[str, str], kind: str = "sns.confirm_subscription") -> None:
    async def run() -> None:
        async with httpx.AsyncClient() as client:
            await run_control_task(ControlTask(kind, data), client)

    asyncio.run(run())


def test_parsed_confirmation_is_confirmed_with_one_get() -> None:
    """The task amazon_ses.parse schedules GETs exactly its SubscribeURL, once."""
    (task,) = amazon_ses.parse(SUBSCRIPTION.request(), SUBSCRIPTION.source()).tasks
    with respx.mock(assert_all_mocked=True) as router:
        route = router.get(URL).respond(200, text="<ConfirmSubscriptionResponse/>")
        _confirm(dict(task.data), task.kind)
    assert route.call_count == 1
    assert str(route.calls.last.request.url) == str(httpx.URL(URL))


@pytest.mark.parametrize(
    "data",
    [
        {"url": "https://evil.example/?Action=ConfirmSubscription", "topic_arn": TOPIC},
        {"url": URL.replace("https://", "http://"), "topic_arn": TOPIC},
        {"url": URL, "topic_arn": "arn:aws:sns:us-east-1:999988887777:other"},
        {"url": URL.replace("ConfirmSubscription", "Unsubscribe"), "topic_arn": TOPIC},
        {"url": URL},
    ],
)
def test_stored_task_is_revalidated_before_any_request(data: dict[str, str]) -> None:
    """A task whose URL is off SNS, for another topic or action, is refused without a request."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        catch_all = router.route().respond(200)
        with pytest.raises(MalformedPayload):
            _confirm(data)
    assert catch_all.call_count == 0


@pytest.mark.parametrize(
    "outcome",
    [
        httpx.Response(403, text="<Error/>"),
        httpx.Response(500),
        httpx.Response(302, headers={"Location": "https://evil.example/"}),
        httpx.ConnectError("down"),
        httpx.ReadTimeout("slow"),
    ],
)
def test_failed_confirmation_raises_so_the_worker_retries(outcome: Any) -> None:
    """Non-200 answers (redirects are not followed) and transport errors raise ControlTaskFailed."""
    with respx.mock(assert_all_mocked=True) as router:
        router.get(URL).mock(side_effect=[outcome])
        with pytest.raises(ControlTaskFailed):
            _confirm({"url": URL, "topic_arn": TOPIC})


def test_unknown_task_kind_is_refused() -> None:
    """Only known kinds run; anything else is an error, not a silent success."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        catch_all = router.route().respond(200)
        with pytest.raises(ControlTaskFailed):
            _confirm({"url": URL, "topic_arn": TOPIC}, kind="sns.something_else")
    assert catch_all.call_count == 0

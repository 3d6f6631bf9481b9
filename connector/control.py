"""Network work a webhook asks of us, run by the pipeline after the webhook was answered.

Today that is only Amazon SNS's subscription confirmation: `amazon_ses.parse` turns an
authentic `SubscriptionConfirmation` for an allowed topic into
`ControlTask("sns.confirm_subscription", {"url": SubscribeURL, "topic_arn": ...})`, and this
module GETs the URL (https://docs.aws.amazon.com/sns/latest/dg/SendMessageToHttp.confirm.html).
The URL was stored with the task, so it is validated again here (https, an
`sns.<region>.amazonaws.com` host, `Action=ConfirmSubscription` for that very topic) before
any request is made. Failures raise; the worker records them and retries with backoff
(confirmation tokens are valid for three days: SNS Subscribe API reference).
"""

from __future__ import annotations

import httpx

from connector.errors import ConnectorError, MalformedPayload
from providers.amazon_ses import subscribe_url
from providers.base import ControlTask

TIMEOUT = 10.0  # seconds


class ControlTaskFailed(ConnectorError):
    """A control task could not be carried out (it is retried later)."""

    reason = "control_task"


async def run_control_task(task: ControlTask, client: httpx.AsyncClient) -> None:
    """Carry out `task`; raise if it cannot be done, so the worker retries it."""
    if task.kind != "sns.confirm_subscription":
        raise ControlTaskFailed(f"unknown control task kind {task.kind!r}")
    await _confirm_subscription(task, client)


async def _confirm_subscription(task: ControlTask, client: httpx.AsyncClient) -> None:
    topic_arn = task.data.get("topic_arn")
    if not topic_arn:
        raise MalformedPayload("sns.confirm_subscription task has no topic_arn")
    url = subscribe_url(task.data.get("url"), topic_arn)
    try:
        response = await client.get(url, timeout=TIMEOUT, follow_redirects=False)
    except httpx.HTTPError as error:
        raise ControlTaskFailed(f"SubscribeURL request failed: {type(error).__name__}") from None
    if response.status_code != 200:
        raise ControlTaskFailed(f"SubscribeURL answered HTTP {response.status_code}")

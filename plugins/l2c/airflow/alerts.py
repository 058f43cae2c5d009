"""Alerts: anomalies of severity >= warn and failed tasks, logged and optionally posted to a webhook.

The webhook is the Airflow connection ``l2c_alerts`` (type HTTP): ``host`` (with or without the
scheme), ``port``, ``schema`` (``http``/``https``; default ``https``) and an optional ``endpoint``
in its extra, e.g. ``AIRFLOW_CONN_L2C_ALERTS='{"conn_type": "http", "host": "hooks.example.org",
"extra": {"endpoint": "/l2c"}}'``. Without the connection alerts are only logged. Posting never
fails the task that alerts: a webhook that is down costs a logged error, not the night's load.
The message is short JSON: ``{"source": "l2c", "kind": ..., "dag_id", "run_id", "export_date",
"summary", "items": [...]}`` (items capped at ``MAX_ITEMS``).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

log = logging.getLogger(__name__)

CONN_ID = "l2c_alerts"
MAX_ITEMS = 20
TIMEOUT_S = 10


def webhook_url(conn_id: str = CONN_ID) -> str | None:
    """The webhook URL of the ``l2c_alerts`` connection, or None when it is not defined."""
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or no Airflow context at all
        log.debug("no %s connection (%s): alerts are logged only", conn_id, exc)
        return None
    host = (conn.host or "").rstrip("/")
    if not host:
        return None
    base = host if "://" in host else f"{conn.schema or 'https'}://{host}"
    if conn.port:
        base = f"{base}:{conn.port}"
    endpoint = (conn.extra_dejson or {}).get("endpoint", "")
    if endpoint and not endpoint.startswith("/"):
        endpoint = "/" + endpoint
    return base + endpoint


def send(kind: str, summary: str, items: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """Log the alert; post it when ``l2c_alerts`` exists. Returns the message (for the task log/tests)."""
    message = {"source": "l2c", "kind": kind, **fields, "summary": summary, "items": items[:MAX_ITEMS]}
    log.warning("L2C-ALERT %s: %s", kind, summary)
    for item in items:
        log.warning("L2C-ALERT   %s", item.get("message") or item)
    url = webhook_url()
    if url:
        body = json.dumps(message, default=str, ensure_ascii=False).encode("utf-8")
        req = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                log.info("alert posted to the %s webhook (HTTP %s)", CONN_ID, resp.status)
        except (urllib.error.URLError, OSError) as exc:
            log.error("could not post the alert to the %s webhook: %s", CONN_ID, exc)
    return message


def _run_fields(context: dict[str, Any]) -> dict[str, Any]:
    from l2c.airflow.context import export_date

    ti = context.get("ti") or context.get("task_instance")
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": context.get("run_id"),
        "export_date": export_date(context).isoformat(),
    }


def anomaly_callback(context: dict[str, Any]) -> None:
    """``on_success_callback`` of the anomaly task: alert tonight's new anomalies of severity >= warn."""
    from l2c.airflow.context import export_date
    from l2c.config import settings
    from l2c.quality.anomalies.run import new_alerts

    items = new_alerts(settings().raw_dir, export_date(context))
    if not items:
        log.info("no new anomalies of severity >= warn")
        return
    worst = "error" if any(i["severity"] == "error" for i in items) else "warn"
    send(
        "anomalies",
        f"{len(items)} new data anomal{'y' if len(items) == 1 else 'ies'} (worst: {worst}); "
        "the load went on, see dq.anomalies",
        items,
        **_run_fields(context),
    )


def task_failure_callback(context: dict[str, Any]) -> None:
    """``on_failure_callback`` of every task: the night's load stopped, nothing was published."""
    exc = context.get("exception")
    fields = _run_fields(context)
    send(
        "task_failed",
        f"{fields['dag_id']}.{fields['task_id']} failed for export date {fields['export_date']}: "
        f"{str(exc).splitlines()[0] if exc else 'see the task log'}; the published warehouse is unchanged",
        [],
        **fields,
    )

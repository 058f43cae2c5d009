"""Wait for a night's export: a deferrable sensor, with reschedule mode as the fallback.

``ExportSensor`` checks once in the worker; while the export is incomplete it *defers* to
:class:`ExportCompleteTrigger`, which polls the landing folder in the triggerer (no worker slot is
held for the hours an export can be late). Without a triggerer (``L2C_SENSOR_DEFERRABLE=false``)
it falls back to reschedule mode, which frees the slot between pokes too.

Either way it gives up after ``timeout`` seconds with a message naming the missing export files
and the folder they were expected in, and fails without retries (a retry would only wait again).
Under ``airflow dags test`` / ``l2c-dev run`` Airflow runs the trigger inline, so the same path runs.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.sdk.exceptions import AirflowSensorTimeout
from airflow.triggers.base import BaseTrigger, TriggerEvent


def deferrable_default() -> bool:
    """L2C_SENSOR_DEFERRABLE (default true: the deployment runs a triggerer)."""
    from l2c.config import settings

    return settings().sensor_deferrable


def missing_files(source: str, day: date) -> str | None:
    """None when the export of ``day`` is complete, else what is missing (folder and entity files)."""
    from l2c.config import settings
    from l2c.errors import L2CInputError
    from l2c.ingest.landing import find_export

    try:
        find_export(source, day, settings())
    except L2CInputError as exc:
        return str(exc)
    return None


def timeout_message(source: str, day: date, waited: float, missing: str | None) -> str:
    return (
        f"the {source.upper()} export of {day} did not arrive within {waited:.0f} s: {missing}. "
        "Deliver the files into that folder and clear this task (or re-run the date: `airflow dags test l2c_nightly <date>`)."
    )


class ExportCompleteTrigger(BaseTrigger):
    """Polls the landing folder until the export is complete or the deadline passes."""

    def __init__(self, source: str, export_date: str, deadline: float, poke_interval: float) -> None:
        super().__init__()
        self.source = source
        self.export_date = export_date
        self.deadline = deadline
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "source": self.source,
                "export_date": self.export_date,
                "deadline": self.deadline,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self):
        day = date.fromisoformat(self.export_date)
        while True:
            missing = await asyncio.to_thread(missing_files, self.source, day)
            if missing is None:
                yield TriggerEvent({"status": "complete"})
                return
            left = self.deadline - time.time()
            if left <= 0:
                yield TriggerEvent({"status": "timeout", "missing": missing})
                return
            self.log.info("waiting for the %s export of %s: %s", self.source, day, missing)
            await asyncio.sleep(min(self.poke_interval, left))


class ExportSensor(BaseSensorOperator):
    """Succeeds once every entity file of ``source``'s export for the run's date has landed."""

    def __init__(self, *, source: str, deferrable: bool | None = None, **kwargs: Any) -> None:
        deferrable = deferrable_default() if deferrable is None else deferrable
        if not deferrable:
            kwargs.setdefault("mode", "reschedule")
        super().__init__(**kwargs)
        self.deferrable = deferrable
        self.source = source

    def _day(self, context) -> date:
        from l2c.airflow.context import export_date

        return export_date(context)

    def poke(self, context) -> bool:
        from l2c.airflow.nightly import export_is_complete

        return export_is_complete(self.source, context)

    def execute(self, context) -> None:
        day = self._day(context)
        if not self.deferrable:
            try:
                return super().execute(context)
            except AirflowSensorTimeout as exc:
                raise AirflowSensorTimeout(
                    timeout_message(self.source, day, self.timeout, missing_files(self.source, day))
                ) from exc
        if self.poke(context):
            return None
        timeout = float(self.timeout)
        self.defer(
            trigger=ExportCompleteTrigger(
                self.source, day.isoformat(), time.time() + timeout, float(self.poke_interval)
            ),
            method_name="execute_complete",
            # the trigger gives up itself (with the message below); this is only the backstop
            timeout=timedelta(seconds=timeout + 300),
        )

    def execute_complete(self, context, event: dict[str, Any] | None = None) -> None:
        from l2c.airflow.context import progress

        day = self._day(context)
        if event and event.get("status") == "complete":
            progress(context, self.task_id, f"export complete (deferred wait, {self.source})")
            return None
        missing = (event or {}).get("missing") or missing_files(self.source, day)
        raise AirflowSensorTimeout(timeout_message(self.source, day, self.timeout, missing))

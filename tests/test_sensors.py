"""The export sensor's trigger: polls the landing folder in the triggerer, gives up with a clear message.

The trigger runs here on a real event loop against real folders; the end-to-end test runs the
sensor inside `airflow dags test` (a missing export fails the night, naming the files).
"""

from __future__ import annotations

import asyncio
import time
from datetime import date

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowSensorTimeout

from l2c.airflow.sensors import ExportCompleteTrigger, ExportSensor, missing_files
from l2c.ingest.mapping import load_mapping

DAY = date(2025, 3, 14)


@pytest.fixture
def landing(tmp_path, monkeypatch):
    monkeypatch.setenv("L2C_LANDING_DIR", str(tmp_path / "landing"))
    return tmp_path / "landing"


def _deliver(landing, source: str, entities: list[str] | None = None) -> None:
    from l2c.config import settings

    mapping = load_mapping(source, settings())
    folder = landing / source / DAY.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    for name, entity in mapping.entities.items():
        if entities is None or name in entities:
            (folder / f"{entity.files[0]}.csv").write_text("id\n", "utf-8")


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload


def test_trigger_gives_up_at_its_deadline_naming_the_missing_files(landing):
    _deliver(landing, "ma", entities=["leads"])
    trigger = ExportCompleteTrigger("ma", DAY.isoformat(), deadline=time.time() + 0.3, poke_interval=0.1)
    event = asyncio.run(_first_event(trigger))
    assert event["status"] == "timeout"
    assert "no file for ma.activities" in event["missing"] and "ma.leads" not in event["missing"]
    assert str(landing / "ma" / DAY.isoformat()) in event["missing"]


def test_trigger_fires_when_the_last_file_lands(landing):
    _deliver(landing, "crm", entities=["leads"])
    trigger = ExportCompleteTrigger("crm", DAY.isoformat(), deadline=time.time() + 30, poke_interval=0.1)

    async def scenario():
        waiting = asyncio.create_task(_first_event(trigger))
        await asyncio.sleep(0.3)
        assert not waiting.done()  # still waiting for the other entities
        _deliver(landing, "crm")
        return await asyncio.wait_for(waiting, 10)

    assert asyncio.run(scenario()) == {"status": "complete"}
    assert missing_files("crm", DAY) is None


def test_trigger_serializes_to_an_importable_class(landing):
    from airflow.sdk._shared.module_loading import import_string

    classpath, kwargs = ExportCompleteTrigger("ma", DAY.isoformat(), 123.0, 60.0).serialize()
    rebuilt = import_string(classpath)(**kwargs)
    assert isinstance(rebuilt, ExportCompleteTrigger) and rebuilt.serialize() == (classpath, kwargs)


def test_sensor_failure_names_the_export_and_falls_back_to_reschedule(landing, monkeypatch):
    sensor = ExportSensor(task_id="wait_for_ma_export", source="ma", timeout=600, poke_interval=60)
    assert sensor.deferrable
    context = {"logical_date": pendulum.datetime(2025, 3, 14, 2, tz="Asia/Shanghai")}
    with pytest.raises(
        AirflowSensorTimeout,
        match=r"the MA export of 2025-03-14 did not arrive within 600 s: .*export directory not found",
    ):
        sensor.execute_complete(context, {"status": "timeout", "missing": missing_files("ma", DAY)})
    monkeypatch.setenv("L2C_SENSOR_DEFERRABLE", "false")
    fallback = ExportSensor(task_id="wait_for_crm_export", source="crm", timeout=600, poke_interval=60)
    assert not fallback.deferrable and fallback.mode == "reschedule"

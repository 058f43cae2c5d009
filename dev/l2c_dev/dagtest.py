"""Run ``l2c_nightly`` for several logical dates in one process: ``python -m l2c_dev.dagtest D1 D2 ...``.

What ``airflow dags test l2c_nightly <date>`` does (``DAG.test()``: the real tasks, Cosmos group and
pool, on the metadata database of ``AIRFLOW_HOME``), once per date, in order, in one interpreter.
One process instead of one ``airflow`` CLI per night saves its start-up (~7 s) and the warm-up of
Airflow's in-process execution API (~8 s) on every night after the first: a quarter of a demo
night. :mod:`l2c_dev.runner` starts it and splits its output per date at the marker lines below.

Exit status: 0 when every night succeeded, 1 when one failed (with ``--stop-on-failure`` the later
dates are not run).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

DAG_ID = "l2c_nightly"
#: Marker lines (on stdout, flushed) around each night.
START_MARKER = "L2C-NIGHT-START"
END_MARKER = "L2C-NIGHT-END"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m l2c_dev.dagtest", description=__doc__.splitlines()[0])
    parser.add_argument("logical_dates", nargs="+", help="ISO 8601 logical dates, with their time zone")
    parser.add_argument("--stop-on-failure", action="store_true")
    args = parser.parse_args(argv)

    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if DAG_ID not in bag.dags:
        print(f"{DAG_ID} not found in {os.environ['AIRFLOW__CORE__DAGS_FOLDER']}: {bag.import_errors}")
        return 1
    dag = bag.dags[DAG_ID]
    failed = False
    for value in args.logical_dates:
        started = time.monotonic()
        print(f"{START_MARKER} {value}", flush=True)
        state = "failed"
        try:
            run = dag.test(logical_date=pendulum.parse(value))
            state = str(getattr(run.state, "value", run.state)).lower()
        except Exception as err:  # the night failed; report it and go on or stop
            print(f"{DAG_ID} run for {value} raised {type(err).__name__}: {err}", flush=True)
        sys.stdout.flush()
        print(f"{END_MARKER} {value} state={state} seconds={time.monotonic() - started:.1f}", flush=True)
        if state != "success":
            failed = True
            if args.stop_on_failure:
                break
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

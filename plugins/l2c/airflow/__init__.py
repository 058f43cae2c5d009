"""What the nightly DAG runs inside Airflow: task bodies (:mod:`.nightly`), the deferrable export
sensor (:mod:`.sensors`), failure and anomaly alerts (:mod:`.alerts`), the run log
(:mod:`.runlog`), the Cosmos dbt wiring (:mod:`.cosmos`) and what they all read from the task
context (:mod:`.context`). Import nothing heavy at module level:
the DAG processor imports these modules on every parse."""

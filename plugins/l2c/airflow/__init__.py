"""What the nightly DAG runs inside Airflow: task bodies (:mod:`.nightly`), the deferrable export
sensor (:mod:`.sensors`), failure and anomaly alerts (:mod:`.alerts`), the run log
(:mod:`.runlog`) and the Cosmos dbt wiring (:mod:`.cosmos`). Import nothing heavy at module level:
the DAG processor imports these modules on every parse."""

"""l2c: the lead-to-cash warehouse pipeline.

MA and CRM export files -> typed raw zone (Parquet) + quarantine -> dbt (staging, intermediate,
marts) -> published DuckDB warehouse, run nightly by Airflow. This package holds every piece of
Python the DAGs, the CLI and the tests share; Airflow puts ``plugins/`` on ``sys.path`` so the DAG
processor can import it, and ``pip install -e .`` makes it importable everywhere else.
"""

__version__ = "0.1.0"

# l2c Airflow image: the project's locked environment on a slim Python 3.11, used by every
# service of docker-compose.yml. Dependencies come from requirements.lock (hashes, no URLs).
FROM python:3.11-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    AIRFLOW_HOME=/opt/airflow \
    L2C_HOME=/opt/l2c \
    PATH=/opt/l2c/.venv/bin:$PATH

WORKDIR /opt/l2c
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir "uv==0.13.9"
COPY requirements.lock pyproject.toml README.md ./
RUN .venv/bin/uv pip install --python .venv/bin/python --require-hashes -r requirements.lock
COPY plugins ./plugins
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY expectations ./expectations
RUN .venv/bin/uv pip install --python .venv/bin/python --no-deps -e . \
    && cd dbt_project && L2C_BUILD_WAREHOUSE=/tmp/parse.duckdb dbt parse --profiles-dir . --quiet

RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home airflow \
    && mkdir -p /opt/l2c/data && chown -R 50000:0 /opt/l2c/data /opt/l2c/dbt_project
USER 50000

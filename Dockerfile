# l2c Airflow image: the project's locked environment on a slim Python 3.11, used by every
# service of docker-compose.yml. Dependencies come from requirements.lock (hashes, no URLs), the
# same lock `make install` uses, so the image runs exactly what the tests ran.
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
# The package is installed editable from /opt/l2c/plugins, which compose mounts from the checkout.
# Parsing the dbt project here only checks that it parses; airflow-init writes the manifest the DAG
# reads (L2C_DBT_MANIFEST, on the data volume).
RUN .venv/bin/uv pip install --python .venv/bin/python --no-deps -e . \
    && cd dbt_project \
    && DO_NOT_TRACK=1 L2C_BUILD_WAREHOUSE=/tmp/parse/l2c.duckdb L2C_RAW_DIR=/tmp/parse/raw dbt parse --profiles-dir . --target-path /tmp/parse \
       --log-path /tmp/parse --quiet \
    && rm -rf /tmp/parse

# uid 50000, gid 0 as in Airflow's own image; compose may run another uid (AIRFLOW_UID) with gid 0,
# hence group-writable. /opt/airflow/auth is the mount point of the named volume holding the simple
# auth manager's passwords file.
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home airflow \
    && mkdir -p /opt/l2c/data /opt/airflow/auth \
    && chown -R 50000:0 /opt/l2c/data /opt/airflow \
    && chmod -R g+rwX /opt/l2c/data /opt/airflow
USER 50000

"""Ingest: one export date of one source, from the landing folder into the typed raw zone.

The flow runs one way (find -> decode -> read -> map -> type -> write): :mod:`.landing` finds the
export's files, :mod:`.encoding` decodes them to UTF-8, :mod:`.readers` reads CSV/JSONL/XLSX into
Arrow with every row's line, :mod:`.mapping` maps vendor headers to canonical columns,
:mod:`.normalize` types every value (or quarantines the row, with a reason), :mod:`.partitions`
writes the raw and quarantine partitions atomically; :mod:`.load` drives the steps.
:mod:`.postgres` copies the raw zone into PostgreSQL for the dbt-postgres target.
"""

"""l2c-dev: the developer's tools around the l2c runtime, in their own package so that the
production image ships only what the DAG and the user CLI run.

* :mod:`.demo` — the deterministic demo world and its MA/CRM export files
* :mod:`.runner` / :mod:`.dagtest` — run ``l2c_nightly`` through ``DAG.test`` for a range of dates
* :mod:`.stack` — the docker-compose services as local processes
* :mod:`.evaluate` — precision and recall of the anomaly detectors on labelled worlds
* :mod:`.calendar_seed` — regenerate the China working-day calendar seed
"""

"""Anomaly detectors of the nightly run: they warn, record and alert; they
never fail the load. One module per family:

* :mod:`.month_end` — ``month_end_sql_spike`` (binomial, working-day calendar) and ``sql_day_spike``
* :mod:`.holiday` — ``holiday_catchup_spike`` (weekly flow rate around long holidays)
* :mod:`.regions` — ``unknown_region_surge``
* :mod:`.exports` — ``missing_export``, ``export_freshness``, ``volume_drop``, ``duplicate_surge``

Thresholds: ``expectations/anomalies.yml``. :mod:`.run` runs them all and records ``dq.anomalies``;
:mod:`l2c_dev.evaluate` scores them on labelled demo worlds (``l2c-dev evaluate``).
"""

from .core import Anomaly, load_config
from .run import detect, record, run_detectors

__all__ = ["Anomaly", "detect", "load_config", "record", "run_detectors"]

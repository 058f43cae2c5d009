"""Data quality: the Great Expectations contract checks (:mod:`.checks`) that stop a bad night
before publish, and the anomaly detectors (:mod:`.anomalies`) that warn, record and alert."""

"""Alerts: the record, its identity, reconciliation with findings, storage and routing."""

"""Monitoring and compliance rules: online status, calibration, overuse, meter faults, findings."""

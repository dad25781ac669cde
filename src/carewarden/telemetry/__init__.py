"""Security telemetry: Windows event connectors (EVTX, Windows events as JSON) and their
normalisation into OCSF-like ``security_event`` rows that keep the raw record."""

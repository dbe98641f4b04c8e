"""Pure values: no OpenTelemetry SDK state, no I/O, no globals."""

"""The OpenTelemetry SDK side."""

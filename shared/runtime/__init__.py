"""What every service process needs around its domain: settings, logs, Kafka, MongoDB, HTTP."""

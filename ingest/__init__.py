"""The collector: MQTT readings into TimescaleDB with no loss and no double count."""

"""The fleet channel: the terminal's link to the operations centre over MQTT."""

"""Flow engine and step types. No Qt, no serial ports, no PC/SC in here."""

"""Emulated peers: the devices on the other side of a real transport.

They speak the device's wire protocol (ESC/POS, SAM frames, vpcd, scanner lines)
and are used by tests, the demo and training mode. They never import the kiosk's
device code: they are the printer, not our driver.
"""

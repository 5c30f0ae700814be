"""Serial QR/barcode scanner: line protocol, pyserial transport, service and simulator."""

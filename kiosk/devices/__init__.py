"""Device services. One sub-package per device kind; transport, protocol and service apart."""

"""Reference implementation of the service platform's terminal API (FastAPI).

It stands in for the government platform in development, demos and tests: signed
requests, replay protection, idempotent writes, and synthetic citizens' records.
OpenAPI document at /openapi.json.
"""

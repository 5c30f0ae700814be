"""The service catalog: categories, zones, search and local usage counts (issue 17)."""

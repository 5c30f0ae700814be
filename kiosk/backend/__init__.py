"""HTTP client for the government service platform (no Qt in here)."""

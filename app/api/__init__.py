"""The REST API's shared machinery: keys and their scopes, pagination, idempotency, rate limits and the
OpenAPI document. Each domain's `router.py` holds its own endpoints."""

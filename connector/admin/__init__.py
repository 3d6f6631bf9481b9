"""The admin API (`/api/v1`): routes, bodies and its OpenAPI document."""

"""Click reports: counting clicks into aggregates as they are processed, and reading them."""

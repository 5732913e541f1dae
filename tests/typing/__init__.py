"""Files checked by mypy --strict: the public API's types, proven with assert_type."""

"""nigran watches where Pakistani citizens' personal data is sold, and keeps court-grade evidence of every offer.

This folder installs as the `nigran` package (pyproject.toml), so its parts import as `nigran.crawler`,
`nigran.storage`, ... and no other distribution's `config` or `storage` can clash with them.
"""

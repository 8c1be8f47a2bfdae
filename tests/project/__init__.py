"""The project as a whole: architecture checks, settings, compose, error pages, benchmarks, the test kit."""

"""The test suite of orchestrator."""

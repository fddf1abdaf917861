"""The reliability run: nothing lost, nothing doubled, under duplicates and faults
(`make reliability`; docs/RELIABILITY.md). A development tool, not part of the Lambda."""

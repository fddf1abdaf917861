"""The operators' tools, never deployed: the `threadline` command line (typer and rich, the
`cli` extra), its `doctor`, and the bundle trimming that `make package` runs."""

"""`python -m threadline_cli`: the `threadline` command without its installed script."""

from threadline_cli.cli import main

main()

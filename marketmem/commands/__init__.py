"""CLI subcommands, one module per concern; see marketmem.cli."""

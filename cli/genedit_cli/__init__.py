"""The ``genedit`` command line (Typer). Importing it loads no torch."""

"""The ``carewarden`` command line: Typer commands and Rich rendering only."""

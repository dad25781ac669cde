"""Use cases shared by the CLI and the web front end. Front ends call these, nothing deeper."""

"""Reports rendered from the store's figures (self-contained HTML: no network, no scripts)."""

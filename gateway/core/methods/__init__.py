"""Method handlers of the protocol core: plain functions of (identity, params), raising core errors."""

"""One module per ESP, each a pure `verify` + `parse` pair over the exact received request."""

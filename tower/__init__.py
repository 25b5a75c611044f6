"""The tower company's business, plugged into the engine (``tower.plugin.PLUGIN``): demands and
their spreadsheets, the demand flow and its mirror, the site library, contracts, the
difficult-site library, the demo world and their tables."""

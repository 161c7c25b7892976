"""Snake Learning: layer-by-layer training across heterogeneous 6G nodes (issue 16)."""

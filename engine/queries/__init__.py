"""Read models for people: views of rows, an instance's path and heatmaps, statistics."""

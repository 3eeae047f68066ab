"""Heatmap data: what posthog-js collects on a live site (clicks, mouse moves, scroll depth), stored and painted.

- `collect`   the endpoints posthog-js talks to (remote config, flags, event batches, its own bundles)
- `ingest`    decoding a batch, extracting the points PostHog keeps, storing them with their daily counts
- `schemas`   the typed requests and responses the API and the UI validate through (pydantic)
- `query`     `heatmaps/` and `heatmaps/events/`, answered from the daily counts
- `overlay`   what a saved heatmap's screenshot is painted with, and the PNG export (`render`)
- `retention` dropping data older than the retention settings

Not to be confused with `heatmap_app.heatmaps`, the saved heatmaps (screenshots) service.
"""

"""A saved heatmap's capture history: its runs, how one run's screenshots differ from another's, scheduled
recaptures, and the alerts sent when a page changed."""

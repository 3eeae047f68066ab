"""The data model: accounts (users, organizations, projects, API keys), saved heatmaps, and the heatmap data."""

from heatmap_app.models import sqlite  # noqa: F401  (WAL mode for every SQLite connection)
from heatmap_app.models.accounts import Organization, OrganizationMembership, PersonalAPIKey, Project, User
from heatmap_app.models.heatmaps import HEATMAP_SOURCES, HEATMAP_STATUSES, HEATMAP_TYPES, HeatmapSnapshot, SavedHeatmap
from heatmap_app.models.interactions import (
    InteractionDailyCount,
    InteractionDailyViewport,
    InteractionDailyVisitor,
    InteractionPage,
    InteractionPoint,
)

__all__ = [
    "HEATMAP_SOURCES",
    "HEATMAP_STATUSES",
    "HEATMAP_TYPES",
    "HeatmapSnapshot",
    "InteractionDailyCount",
    "InteractionDailyViewport",
    "InteractionDailyVisitor",
    "InteractionPage",
    "InteractionPoint",
    "Organization",
    "OrganizationMembership",
    "PersonalAPIKey",
    "Project",
    "SavedHeatmap",
    "User",
]

"""The data model: accounts (users, organizations, projects, API keys), saved heatmaps, and the heatmap data."""

from heatmap_app.models import sqlite  # noqa: F401  (WAL mode for every SQLite connection)
from heatmap_app.models.accounts import (
    Organization,
    OrganizationInvite,
    OrganizationMembership,
    PersonalAPIKey,
    Project,
    User,
)
from heatmap_app.models.heatmaps import CaptureRun, HeatmapSnapshot, SavedHeatmap
from heatmap_app.models.interactions import (
    InteractionDailyCount,
    InteractionDailyViewport,
    InteractionDailyVisitor,
    InteractionPage,
    InteractionPoint,
)

__all__ = [
    "CaptureRun",
    "HeatmapSnapshot",
    "InteractionDailyCount",
    "InteractionDailyViewport",
    "InteractionDailyVisitor",
    "InteractionPage",
    "InteractionPoint",
    "Organization",
    "OrganizationInvite",
    "OrganizationMembership",
    "PersonalAPIKey",
    "Project",
    "SavedHeatmap",
    "User",
]

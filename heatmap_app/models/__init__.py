"""The data model: accounts (users, organizations, projects, API keys) and saved heatmaps."""

from heatmap_app.models.accounts import Organization, OrganizationMembership, PersonalAPIKey, Project, User
from heatmap_app.models.heatmaps import HEATMAP_STATUSES, HEATMAP_TYPES, HeatmapSnapshot, SavedHeatmap

__all__ = [
    "HEATMAP_STATUSES",
    "HEATMAP_TYPES",
    "HeatmapSnapshot",
    "Organization",
    "OrganizationMembership",
    "PersonalAPIKey",
    "Project",
    "SavedHeatmap",
    "User",
]

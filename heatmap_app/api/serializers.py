"""The JSON shape of a saved heatmap: one function, used by every endpoint that returns one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from heatmap_app.api.capture_contract import extension_fields
from heatmap_app.api.users import serialize_user_basic
from heatmap_app.models import SavedHeatmap


def isoformat(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


def serialize_heatmap(heatmap: SavedHeatmap) -> dict[str, Any]:
    snapshots = [{"width": snapshot.width, "has_content": snapshot.has_content} for snapshot in heatmap.snapshots]
    return {
        "id": heatmap.id,
        "short_id": heatmap.short_id,
        "name": heatmap.name,
        "url": heatmap.url,
        "data_url": heatmap.data_url,
        "target_widths": heatmap.target_widths,
        "type": heatmap.type,
        "status": heatmap.status,
        "has_content": any(snapshot["has_content"] for snapshot in snapshots),
        "snapshots": snapshots,
        "deleted": heatmap.deleted,
        "block_consent_modals": heatmap.block_consent_modals,
        "created_by": serialize_user_basic(heatmap.created_by) if heatmap.created_by is not None else None,
        "created_at": isoformat(heatmap.created_at),
        "updated_at": isoformat(heatmap.updated_at),
        "exception": heatmap.exception,
        **extension_fields(heatmap),
    }

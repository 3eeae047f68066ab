"""A replay of PostHog's MCP server against the app over real HTTP: its start-up and its saved-heatmap tools.

What the server requests, and what it demands of each answer, is read from PostHog's repository
(services/mcp: lib/StateManager.ts, api/client.ts, schema/api.ts, schema/orgs.ts, schema/projects.ts, and the
tools generated from the OpenAPI document, tools/generated/web_analytics.ts). Its zod schemas are mirrored
here as strict pydantic models: an answer they would refuse fails the test, as it would stop the server.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
import requests
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr

from heatmap_app import teams
from heatmap_app.accounts import create_api_key
from heatmap_app.models import User
from tests.api.conftest import PAGE_URL
from tests.support.gunicorn import Served

TIMEOUT = 10


class _Zod(BaseModel):
    # Strict types field by field (a uuid arrives as a string in JSON); zod strips unknown keys, so extras are fine.
    model_config = ConfigDict(extra="allow")


class OrgId(_Zod):
    id: UUID


class ApiUserTeam(_Zod):
    id: StrictInt
    organization: UUID


class ApiUser(_Zod):
    """schema/api.ts ApiUserSchema."""

    distinct_id: StrictStr
    organizations: list[OrgId]
    team: ApiUserTeam
    organization: OrgId


class ApiRedactedPersonalApiKey(_Zod):
    """schema/api.ts ApiRedactedPersonalApiKeySchema."""

    scopes: list[StrictStr]
    scoped_teams: list[StrictInt]
    scoped_organizations: list[StrictStr]


class Organization(_Zod):
    """schema/orgs.ts OrganizationSchema."""

    id: UUID
    name: StrictStr


class Project(_Zod):
    """schema/projects.ts ProjectSchema."""

    id: StrictInt
    name: StrictStr
    organization: UUID


class SavedHeatmap(_Zod):
    """The generated tools' HeatmapScreenshotResponse, as far as the tools read it."""

    id: StrictStr
    short_id: StrictStr
    url: StrictStr
    type: StrictStr
    status: StrictStr
    deleted: StrictBool
    target_widths: list[StrictInt]


class McpClient:
    """The requests of the server's ApiClient: a Bearer key, JSON bodies, non-2xx answers thrown."""

    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        self.calls: list[str] = []

    def request(self, method: str, path: str, *, query: dict[str, Any] | None = None, body: Any = None) -> Any:
        # Like the generated tools: parameters left undefined are not sent at all.
        params = {name: value for name, value in (query or {}).items() if value is not None}
        response = self.session.request(method, self.base_url + path, params=params,
                                        json=body if body is not None else None, timeout=TIMEOUT)
        self.calls.append(f"{method} {path} {response.status_code}")
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response.json() if response.content else None


def start_up(client: McpClient) -> tuple[str | None, int]:
    """StateManager: getUser, getApiKey, then the default (organization, project) and their cached objects."""
    user = ApiUser.model_validate(client.request("GET", "/api/users/@me/"))
    key = ApiRedactedPersonalApiKey.model_validate(client.request("GET", "/api/personal_api_keys/@current"))
    organization_id: str | None
    if key.scoped_teams:
        project_id = user.team.id if user.team.id in key.scoped_teams else key.scoped_teams[0]
        organization_id = None
    elif not key.scoped_organizations or str(user.organization.id) in key.scoped_organizations:
        organization_id, project_id = str(user.organization.id), user.team.id
    else:
        organization_id = key.scoped_organizations[0]
        listed = client.request("GET", f"/api/organizations/{organization_id}/projects/")
        project_id = Project.model_validate(listed["results"][0]).id
    project = Project.model_validate(client.request("GET", f"/api/projects/{project_id}/"))
    organization_id = organization_id or str(project.organization)  # _resolveOrganizationId, from the project
    Organization.model_validate(client.request("GET", f"/api/organizations/{organization_id}/"))
    return organization_id, project_id


@pytest.fixture
def served_key(gunicorn: Served, user: User) -> Any:
    def factory(**scope: Any) -> McpClient:
        _, raw = create_api_key(user, "MCP Server", ["*"], **scope)
        return McpClient(gunicorn.base_url, raw)

    return factory


def test_the_mcp_server_starts_and_drives_saved_heatmaps(served_key: Any, user: User) -> None:
    client = served_key()
    organization_id, project_id = start_up(client)
    assert (organization_id, project_id) == (user.current_project.organization_id, user.current_project_id)
    saved = f"/api/projects/{project_id}/saved/"

    # heatmaps-saved-create, -list, -get, -update, -regenerate, with the bodies and queries the tools build.
    created = SavedHeatmap.model_validate(client.request("POST", saved, body={
        "name": "Pricing", "url": PAGE_URL, "widths": [375, 1440], "block_consent_modals": True}))
    listed = client.request("GET", saved, query={"created_by": None, "limit": 1000, "offset": -3, "order": "-created_at",
                                                 "search": "pric", "status": None, "type": "screenshot"})
    got = SavedHeatmap.model_validate(client.request("GET", f"{saved}{created.short_id}/"))
    renamed = client.request("PATCH", f"{saved}{created.short_id}/", body={"name": "Pricing v2", "type": "screenshot"})
    deleted = SavedHeatmap.model_validate(client.request("PATCH", f"{saved}{created.short_id}/", body={"deleted": True}))
    still = SavedHeatmap.model_validate(client.request("GET", f"{saved}{created.short_id}/"))
    restored = SavedHeatmap.model_validate(client.request("PATCH", f"{saved}{created.short_id}/",
                                                          body={"deleted": False}))
    regenerated = SavedHeatmap.model_validate(client.request("POST", f"{saved}{created.short_id}/regenerate/"))
    recording = SavedHeatmap.model_validate(client.request("POST", saved, body={"url": PAGE_URL, "type": "recording"}))
    unknown_type = client.request("GET", saved, query={"type": "video"})
    # heatmaps-list and heatmaps-events on the same project.
    points = client.request("GET", f"/api/projects/{project_id}/heatmaps/", query={"type": "click", "date_from": "-7d",
                                                                                   "url_exact": PAGE_URL})
    events = client.request("GET", f"/api/projects/{project_id}/heatmaps/events/",
                            query={"points": '[{"x": 0.5, "y": 100}]', "url_exact": PAGE_URL})

    assert created.status == "processing" and created.target_widths == [375, 1440]
    assert [item["short_id"] for item in listed["results"]] == [created.short_id] and listed["count"] == 1
    assert got.id == created.id and renamed["name"] == "Pricing v2"
    assert deleted.deleted and still.deleted and not restored.deleted
    assert regenerated.status == "processing"
    assert (recording.type, recording.status) == ("recording", "completed")
    assert unknown_type["results"] == []
    assert points["results"] == [] and events["results"] == []
    assert all(call.endswith(("200", "201")) for call in client.calls), client.calls


def test_a_project_scoped_key_starts_on_its_project(served_key: Any, user: User) -> None:
    second = teams.create_project(user.current_project.organization, user, "Second")
    client = served_key(scoped_projects=[second.id])

    organization_id, project_id = start_up(client)

    assert (organization_id, project_id) == (user.current_project.organization_id, second.id)
    assert client.request("GET", f"/api/projects/{second.id}/saved/")["results"] == []


def test_an_organization_scoped_key_starts_in_its_organization(served_key: Any, user: User) -> None:
    organization = user.current_project.organization
    client = served_key(scoped_organizations=[organization.id])

    assert start_up(client) == (organization.id, user.current_project_id)

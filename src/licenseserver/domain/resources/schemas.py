"""Bodies and forms of the resource pool's panel endpoints."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from licenseserver.kit.validation import MAX_ID

ResourceType = Literal["domain", "ipv4", "phone", "server"]
ResourceStatus = Literal["available", "allocated", "quarantine"]
MAX_BATCH = 1000
ResourceId = Annotated[int, Field(ge=1, le=MAX_ID)]


class PanelBody(BaseModel):
    # The panel's bodies refuse unknown fields: only its own pages and scripts send them.
    model_config = ConfigDict(extra="forbid")


class AllocateBody(PanelBody):
    license_id: ResourceId
    resource_ids: Annotated[list[ResourceId], Field(min_length=1, max_length=MAX_BATCH)]
    resource_type: ResourceType | None = None


class AllocateByTypeForm(PanelBody):
    resource_type: ResourceType
    count: Annotated[int, Field(ge=1, le=MAX_BATCH)]


class AddResourcesForm(PanelBody):
    resource_type: ResourceType
    identifiers: Annotated[str, StringConstraints(max_length=200_000)]

    def identifier_lines(self) -> list[str]:
        """One identifier per line; blank lines are skipped."""
        return [line.strip() for line in self.identifiers.splitlines() if line.strip()]

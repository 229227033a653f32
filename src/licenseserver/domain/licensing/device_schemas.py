"""Bodies of the panel's device endpoints; field limits are the License API's own."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, field_validator

from licenseserver.domain.fields import AppVersion, HardwareHash, MachineName


class RegisterDevice(BaseModel):
    # The panel's bodies refuse unknown fields: only its own pages and scripts send them.
    model_config = ConfigDict(extra="forbid")

    hardware_hash: HardwareHash
    machine_name: MachineName = ""
    app_version: AppVersion | None = None

    @field_validator("app_version", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        # An empty form field means "no version given".
        return None if isinstance(value, str) and not value.strip() else value

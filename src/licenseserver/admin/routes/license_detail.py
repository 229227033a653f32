"""Admin panel routes (license_detail)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

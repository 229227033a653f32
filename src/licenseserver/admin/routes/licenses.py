"""Admin panel routes (licenses)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

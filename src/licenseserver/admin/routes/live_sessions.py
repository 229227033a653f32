"""Admin panel routes (live_sessions)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

"""Admin panel routes (administration)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()

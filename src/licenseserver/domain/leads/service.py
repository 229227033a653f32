"""Changes to leads: institutions, contacts, contact details and versioned notes.

Services only flush: the request (or the import) owns the transaction. Each write returns what
the audit log needs; the routes record it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import (
    Customer,
    LeadContact,
    LeadContactDetail,
    LeadInstitution,
    LeadNote,
    LeadNoteVersion,
)
from licenseserver.db.unit_of_work import sql_connection
from licenseserver.domain.leads.schemas import ContactCreate, DetailCreate, InstitutionCreate
from licenseserver.domain.webhooks.events import LEAD_CREATED
from licenseserver.domain.webhooks.outbox import emit
from licenseserver.kit.errors import AppError, ErrorCode
from licenseserver.kit.timefmt import utc_now


def not_found(kind: str, entity_id: int) -> AppError:
    return AppError(404, ErrorCode.NOT_FOUND, f"{kind} {entity_id} not found")


def institution_snapshot(institution: LeadInstitution) -> dict[str, Any]:
    """The audit log's picture of an institution."""
    return {"name": institution.name, "type": institution.institution_type, "customer_id": institution.customer_id}


def contact_snapshot(contact: LeadContact) -> dict[str, Any]:
    return {
        "institution_id": contact.institution_id,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "position": contact.position,
    }


def detail_snapshot(detail: LeadContactDetail) -> dict[str, Any]:
    return {"contact_id": detail.contact_id, "type": detail.detail_type, "value": detail.value, "label": detail.label}


def note_snapshot(note: LeadNote, version: LeadNoteVersion) -> dict[str, Any]:
    return {"contact_id": note.contact_id, "version": version.version, "content": version.content}


async def _require_customer(session: AsyncSession, customer_id: int | None) -> None:
    if customer_id is not None and await session.get(Customer, customer_id) is None:
        raise AppError(404, ErrorCode.CUSTOMER_NOT_FOUND, f"Customer {customer_id} not found")


async def get_institution(session: AsyncSession, institution_id: int, *, lock: bool = False) -> LeadInstitution:
    institution = await session.get(LeadInstitution, institution_id, with_for_update=lock)
    if institution is None:
        raise not_found("Institution", institution_id)
    return institution


async def get_contact(session: AsyncSession, contact_id: int) -> LeadContact:
    contact = await session.get(LeadContact, contact_id)
    if contact is None:
        raise not_found("Contact", contact_id)
    return contact


async def create_institution(session: AsyncSession, data: InstitutionCreate) -> LeadInstitution:
    await _require_customer(session, data.customer_id)
    institution = LeadInstitution(
        name=data.name, institution_type=data.type, customer_id=data.customer_id, created_at=utc_now()
    )
    session.add(institution)
    await session.flush()
    told = {"kind": "institution", "institution_id": institution.id, **institution_snapshot(institution)}
    await emit(await sql_connection(session), LEAD_CREATED, told)
    return institution


async def update_institution(
    session: AsyncSession, institution: LeadInstitution, data: InstitutionCreate
) -> dict[str, Any]:
    """Apply the form; returns the state before, for the audit log."""
    await _require_customer(session, data.customer_id)
    before = institution_snapshot(institution)
    institution.name = data.name
    institution.institution_type = data.type
    institution.customer_id = data.customer_id
    await session.flush()
    return before


async def delete_institution(session: AsyncSession, institution_id: int) -> dict[str, Any]:
    """Delete an institution with its contacts, their details and notes (every version); returns
    what was deleted for the audit log. The foreign keys cascade; the counts say how much went."""
    institution = await get_institution(session, institution_id, lock=True)
    before = institution_snapshot(institution)
    contact_ids = select(LeadContact.id).where(LeadContact.institution_id == institution_id).scalar_subquery()
    contacts = (
        await session.execute(
            select(LeadContact.first_name, LeadContact.last_name)
            .where(LeadContact.institution_id == institution_id)
            .order_by(LeadContact.id)
        )
    ).all()
    before["contacts"] = [f"{c.first_name} {c.last_name}" for c in contacts]
    count_details = select(func.count()).where(LeadContactDetail.contact_id.in_(contact_ids))
    count_notes = select(func.count()).where(LeadNote.contact_id.in_(contact_ids))
    before["details"] = int(await session.scalar(count_details) or 0)
    before["notes"] = int(await session.scalar(count_notes) or 0)
    await session.delete(institution)
    await session.flush()
    return before


async def create_contact(session: AsyncSession, data: ContactCreate) -> LeadContact:
    await get_institution(session, data.institution_id)
    contact = LeadContact(
        institution_id=data.institution_id,
        first_name=data.first_name,
        last_name=data.last_name,
        position=data.position,
        created_at=utc_now(),
    )
    session.add(contact)
    await session.flush()
    told = {"kind": "contact", "contact_id": contact.id, **contact_snapshot(contact)}
    await emit(await sql_connection(session), LEAD_CREATED, told)
    return contact


async def add_detail(session: AsyncSession, contact_id: int, data: DetailCreate) -> LeadContactDetail:
    await get_contact(session, contact_id)
    detail = LeadContactDetail(
        contact_id=contact_id, detail_type=data.type, value=data.value, label=data.label, created_at=utc_now()
    )
    session.add(detail)
    await session.flush()
    return detail


async def add_note(
    session: AsyncSession, contact_id: int, content: str, username: str
) -> tuple[LeadNote, LeadNoteVersion]:
    await get_contact(session, contact_id)
    now = utc_now()
    note = LeadNote(contact_id=contact_id, current_version=1, created_at=now)
    session.add(note)
    await session.flush()
    version = LeadNoteVersion(note_id=note.id, version=1, content=content, created_by=username, created_at=now)
    session.add(version)
    await session.flush()
    return note, version


async def edit_note(
    session: AsyncSession, note_id: int, content: str, username: str
) -> tuple[LeadNote, LeadNoteVersion, LeadNoteVersion]:
    """Keep the note's text as its next version; returns the note, the version before and the
    new one. The note row is locked, so two edits at once become two versions one after the
    other (the unique (note_id, version) refuses anything else)."""
    note = await session.get(LeadNote, note_id, with_for_update=True)
    if note is None:
        raise not_found("Note", note_id)
    previous = await session.scalar(
        select(LeadNoteVersion).where(
            LeadNoteVersion.note_id == note_id, LeadNoteVersion.version == note.current_version
        )
    )
    assert previous is not None, "a note always has its current version"
    version = LeadNoteVersion(
        note_id=note_id, version=note.current_version + 1, content=content, created_by=username, created_at=utc_now()
    )
    note.current_version = version.version
    session.add(version)
    await session.flush()
    return note, previous, version

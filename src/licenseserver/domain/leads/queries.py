"""Reading leads: the paged institution list, one contact with its details and notes, a lead's
page (contacts, details, notes, timeline) and the statistics. Searching and paging happen in SQL
with a fixed number of queries, however many rows there are."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from licenseserver.db.models import (
    Customer,
    LeadContact,
    LeadContactDetail,
    LeadInstitution,
    LeadNote,
    LeadNoteVersion,
)
from licenseserver.db.models.leads import INSTITUTION_TYPES
from licenseserver.domain.leads.service import get_contact, get_institution
from licenseserver.kit.paging import Page, PageRequest
from licenseserver.kit.timefmt import iso_utc, utc_now

RECENT_DAYS = 7


@dataclass(frozen=True, slots=True)
class InstitutionRow:
    id: int
    name: str
    type: str
    customer_id: int | None
    customer_name: str | None
    contact_count: int
    created_at: datetime

    def as_json(self) -> dict[str, Any]:
        """The reference's list item, plus `type` and `customer_id`."""
        return {
            "id": self.id,
            "name": self.name,
            "contact_count": self.contact_count,
            "created_at": iso_utc(self.created_at),
            "type": self.type,
            "customer_id": self.customer_id,
        }


@dataclass(slots=True)
class NoteView:
    id: int
    contact_id: int
    versions: list[LeadNoteVersion]  # newest first

    @property
    def current(self) -> LeadNoteVersion:
        return self.versions[0]

    def as_json(self) -> dict[str, Any]:
        """The reference's note: content, version, created_at and created_by of the newest
        version; `versions` adds every version, newest first."""
        return {**version_json(self.id, self.current), "versions": [version_json(self.id, v) for v in self.versions]}


@dataclass(slots=True)
class ContactView:
    contact: LeadContact
    details: list[LeadContactDetail] = field(default_factory=list)
    notes: list[NoteView] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        c = self.contact
        return {
            "id": c.id,
            "first_name": c.first_name,
            "last_name": c.last_name,
            "position": c.position,
            "institution_id": c.institution_id,
            "details": [detail_json(d) for d in self.details],
            "notes": [n.as_json() for n in self.notes],
        }


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    """One thing that happened to a lead; the panel words it in the reader's language by `kind`."""

    at: datetime
    kind: str  # contact (added), detail (added), note (version 1 written), note_edit (a later version)
    person: str  # the contact's name
    text: str
    actor: str
    version: int | None = None  # of a note


@dataclass(slots=True)
class LeadView:
    institution: LeadInstitution
    customer_name: str | None
    contacts: list[ContactView]

    def timeline(self) -> list[TimelineEvent]:
        """Everything that happened to the lead, newest first: contacts and details added, each
        note version (version 1 written, later ones edits) with its author."""
        events: list[TimelineEvent] = []
        for view in self.contacts:
            person = f"{view.contact.first_name} {view.contact.last_name}"
            events.append(TimelineEvent(view.contact.created_at, "contact", person, person, ""))
            for d in view.details:
                events.append(TimelineEvent(d.created_at, "detail", person, d.value, ""))
            for note in view.notes:
                for v in note.versions:
                    kind = "note" if v.version == 1 else "note_edit"
                    events.append(TimelineEvent(v.created_at, kind, person, v.content, v.created_by, v.version))
        return sorted(events, key=lambda e: e.at, reverse=True)


def detail_json(detail: LeadContactDetail) -> dict[str, Any]:
    return {"id": detail.id, "type": detail.detail_type, "value": detail.value, "label": detail.label}


def version_json(note_id: int, version: LeadNoteVersion) -> dict[str, Any]:
    return {
        "id": note_id,
        "content": version.content,
        "version": version.version,
        "created_at": iso_utc(version.created_at),
        "created_by": version.created_by,
    }


def _matching(search: str) -> ColumnElement[bool] | None:
    """An institution whose name, a contact's name or a contact detail contains the text."""
    search = search.strip()
    if not search:
        return None
    contact_hit = exists().where(
        LeadContact.institution_id == LeadInstitution.id,
        or_(
            LeadContact.first_name.icontains(search, autoescape=True),
            LeadContact.last_name.icontains(search, autoescape=True),
        ),
    )
    detail_hit = exists().where(
        LeadContact.institution_id == LeadInstitution.id,
        LeadContactDetail.contact_id == LeadContact.id,
        LeadContactDetail.value.icontains(search, autoescape=True),
    )
    return or_(LeadInstitution.name.icontains(search, autoescape=True), contact_hit, detail_hit)


async def list_institutions(
    session: AsyncSession, search: str, institution_type: str | None, request: PageRequest
) -> Page[InstitutionRow]:
    """One page of institutions by name, with their contact counts and the total: two queries."""
    conditions = [c for c in (_matching(search),) if c is not None]
    if institution_type:
        conditions.append(LeadInstitution.institution_type == institution_type)
    contact_count = (
        select(func.count()).where(LeadContact.institution_id == LeadInstitution.id).scalar_subquery().label("n")
    )
    stmt = (
        select(LeadInstitution, Customer.name.label("customer_name"), contact_count)
        .outerjoin(Customer, Customer.id == LeadInstitution.customer_id)
        .where(*conditions)
        .order_by(func.lower(LeadInstitution.name), LeadInstitution.id)
        .limit(request.per_page)
        .offset(request.offset)
    )
    rows = [
        InstitutionRow(i.id, i.name, i.institution_type, i.customer_id, customer_name, int(n), i.created_at)
        for i, customer_name, n in (await session.execute(stmt)).all()
    ]
    total = int(await session.scalar(select(func.count()).select_from(LeadInstitution).where(*conditions)) or 0)
    return Page(rows, request.page, request.per_page, request.offset + len(rows) < total, total)


async def _notes_of(session: AsyncSession, contact_ids: Iterable[int]) -> dict[int, list[NoteView]]:
    """Every note of the contacts with all its versions (newest first), notes newest first."""
    ids = list(contact_ids)
    if not ids:
        return {}
    stmt = (
        select(LeadNote.id, LeadNote.contact_id, LeadNoteVersion)
        .join(LeadNoteVersion, LeadNoteVersion.note_id == LeadNote.id)
        .where(LeadNote.contact_id.in_(ids))
        .order_by(LeadNote.id.desc(), LeadNoteVersion.version.desc())
    )
    notes: dict[int, NoteView] = {}
    for note_id, contact_id, version in (await session.execute(stmt)).all():
        notes.setdefault(note_id, NoteView(note_id, contact_id, [])).versions.append(version)
    by_contact: dict[int, list[NoteView]] = defaultdict(list)
    for note in notes.values():
        by_contact[note.contact_id].append(note)
    return by_contact


async def _details_of(session: AsyncSession, contact_ids: Iterable[int]) -> dict[int, list[LeadContactDetail]]:
    ids = list(contact_ids)
    if not ids:
        return {}
    stmt = select(LeadContactDetail).where(LeadContactDetail.contact_id.in_(ids)).order_by(LeadContactDetail.id)
    by_contact: dict[int, list[LeadContactDetail]] = defaultdict(list)
    for detail in (await session.scalars(stmt)).all():
        by_contact[detail.contact_id].append(detail)
    return by_contact


async def _views_of(session: AsyncSession, contacts: list[LeadContact]) -> list[ContactView]:
    ids = [c.id for c in contacts]
    details, notes = await _details_of(session, ids), await _notes_of(session, ids)
    return [ContactView(c, details.get(c.id, []), notes.get(c.id, [])) for c in contacts]


async def contact_view(session: AsyncSession, contact_id: int) -> ContactView:
    [view] = await _views_of(session, [await get_contact(session, contact_id)])
    return view


async def note_view(session: AsyncSession, note_id: int) -> NoteView:
    stmt = select(LeadNoteVersion).where(LeadNoteVersion.note_id == note_id).order_by(LeadNoteVersion.version.desc())
    versions = list((await session.scalars(stmt)).all())
    note = await session.get(LeadNote, note_id)
    assert note is not None and versions, "called for a note that exists"
    return NoteView(note_id, note.contact_id, versions)


async def lead_view(session: AsyncSession, institution_id: int) -> LeadView:
    """A lead's page: the institution, its customer's name, contacts with details and notes."""
    institution = await get_institution(session, institution_id)
    customer = await session.get(Customer, institution.customer_id) if institution.customer_id else None
    stmt = select(LeadContact).where(LeadContact.institution_id == institution_id).order_by(LeadContact.id)
    contacts = list((await session.scalars(stmt)).all())
    return LeadView(institution, customer.name if customer else None, await _views_of(session, contacts))


async def lead_stats(session: AsyncSession, now: datetime | None = None) -> dict[str, Any]:
    """The reference's statistics (docs/leads.md defines them):
    - conversion_rate: institutions linked to a customer, in percent of all, one decimal (0.0 when none);
    - recent_activities: notes written and contact details added in the last 7 days (note
      edits are not counted: they are versions of a note already counted when written);
    - by_type: institutions per type, every type listed (0 when none)."""
    since = (now or utc_now()) - timedelta(days=RECENT_DAYS)
    by_type = dict.fromkeys(INSTITUTION_TYPES, 0)
    type_counts = select(LeadInstitution.institution_type, func.count()).group_by(LeadInstitution.institution_type)
    for institution_type, count in (await session.execute(type_counts)).all():
        by_type[institution_type] = int(count)
    total = sum(by_type.values())
    linked = await _scalar(session, select(func.count()).where(LeadInstitution.customer_id.is_not(None)))
    contacts = await _scalar(session, select(func.count()).select_from(LeadContact))
    notes = await _scalar(session, select(func.count()).where(LeadNote.created_at >= since))
    details = await _scalar(session, select(func.count()).where(LeadContactDetail.created_at >= since))
    return {
        "total_institutions": total,
        "total_contacts": contacts,
        "recent_activities": notes + details,
        "conversion_rate": round(100 * linked / total, 1) if total else 0.0,
        "by_type": by_type,
    }


async def _scalar(session: AsyncSession, stmt: Any) -> int:
    return int(await session.scalar(stmt) or 0)

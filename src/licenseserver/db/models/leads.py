"""Leads (the sales CRM): institutions, their contacts, each contact's e-mail addresses and phone
numbers, and notes whose every edit is kept as a numbered version."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licenseserver.db.models.base import Base, UtcDateTime, created_at_column
from licenseserver.db.models.indexes import trigram_index

INSTITUTION_TYPES = ("university", "company", "government", "other")
DETAIL_TYPES = ("email", "phone")
NAME_MAX = 255
PERSON_NAME_MAX = 100
POSITION_MAX = 255
DETAIL_VALUE_MAX = 255
LABEL_MAX = 50
USERNAME_MAX = 100


class LeadInstitution(Base):
    __tablename__ = "lead_institutions"
    # The global search finds a lead by any part of its name (migration 0009, bench/admin_lists.py).
    __table_args__ = (trigram_index("ix_lead_institutions_name_trgm", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX), nullable=False, index=True)
    institution_type: Mapped[str] = mapped_column(String(20), nullable=False, server_default="other", index=True)
    # The customer this lead became; the lead stays when the customer is deleted.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = created_at_column()


class LeadContact(Base):
    __tablename__ = "lead_contacts"
    # The global search matches each word of a text against first or last name (migration 0009).
    __table_args__ = (
        trigram_index("ix_lead_contacts_first_name_trgm", "first_name"),
        trigram_index("ix_lead_contacts_last_name_trgm", "last_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    institution_id: Mapped[int] = mapped_column(
        ForeignKey("lead_institutions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    first_name: Mapped[str] = mapped_column(String(PERSON_NAME_MAX), nullable=False)
    last_name: Mapped[str] = mapped_column(String(PERSON_NAME_MAX), nullable=False)
    position: Mapped[str] = mapped_column(String(POSITION_MAX), nullable=False, server_default="")
    created_at: Mapped[datetime] = created_at_column()


class LeadContactDetail(Base):
    """An e-mail address or phone number of a contact, with a label such as "Büro"."""

    __tablename__ = "lead_contact_details"
    # The global search finds a contact by any part of an e-mail address or phone number (0009).
    __table_args__ = (trigram_index("ix_lead_contact_details_value_trgm", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("lead_contacts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    detail_type: Mapped[str] = mapped_column(String(10), nullable=False)
    value: Mapped[str] = mapped_column(String(DETAIL_VALUE_MAX), nullable=False)
    label: Mapped[str] = mapped_column(String(LABEL_MAX), nullable=False, server_default="")
    created_at: Mapped[datetime] = created_at_column()


class LeadNote(Base):
    """A note on a contact. Its text lives in its versions; the newest version is the note."""

    __tablename__ = "lead_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("lead_contacts.id", ondelete="CASCADE"), nullable=False, index=True
    )
    current_version: Mapped[int] = mapped_column(Integer, nullable=False, server_default="1")
    created_at: Mapped[datetime] = created_at_column()


class LeadNoteVersion(Base):
    """One text of a note: version 1 when written, the next number at every edit; never changed."""

    __tablename__ = "lead_note_versions"
    # One row per note and number, so two edits can never both become the same version.
    __table_args__ = (UniqueConstraint("note_id", "version", name="uq_lead_note_versions_note_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("lead_notes.id", ondelete="CASCADE"), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(String(USERNAME_MAX), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)

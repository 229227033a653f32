"""Leads: the sales CRM of the admin panel (institutions, contacts, contact details, notes)."""

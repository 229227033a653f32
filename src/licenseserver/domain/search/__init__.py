"""The panel's global search: one look over licenses, devices, customers, leads and resources,
grouped by kind. It reads the other areas' tables and writes nothing; no area imports it."""

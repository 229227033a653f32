"""No import cycle between any two modules of the package.

lint-imports' `no-cycles` contract (pyproject.toml) forbids cycles between siblings at every depth;
this test adds the one kind it does not see: a module and its own package's `__init__` importing
each other (`db/sql/postgres.py` importing `licenseserver.db.sql`, which imports it back)."""

from __future__ import annotations

import grimp


def import_graph() -> grimp.ImportGraph:
    return grimp.build_graph("licenseserver", cache_dir=None)


def test_no_module_is_in_an_import_cycle() -> None:
    graph = import_graph()
    assert len(graph.modules) > 50
    arrows_in_a_cycle = sorted(
        (importer, imported)
        for importer in graph.modules
        for imported in graph.find_modules_directly_imported_by(importer)
        if graph.find_shortest_chain(importer=imported, imported=importer) is not None
    )
    assert arrows_in_a_cycle == []

"""Day one with a community's past: the wiki's and the forum's history turned into the
rows the live path writes (``constellate backfill``, and the first start of the service
and the demo). Resumable by a cursor per source, committed with each batch's rows."""

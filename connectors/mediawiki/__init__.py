"""The MediaWiki connector: the only code that talks to the wiki (through mwclient)."""

from connectors.mediawiki.client import WikiClient
from connectors.mediawiki.records import EditResult, WikiChange, WikiPage, WikiRevision

__all__ = ["EditResult", "WikiChange", "WikiClient", "WikiPage", "WikiRevision"]

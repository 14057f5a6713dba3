"""Local platforms for the demo and the tests: a real MediaWiki, the forum sandbox."""

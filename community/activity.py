"""The record of forum and wiki activity that handlers keep, and the handlers that keep it."""

"""The leadership timeline of each constellation, read from its wiki history."""

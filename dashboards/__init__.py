"""The moderator dashboard: reads the store, never calls a platform while rendering."""

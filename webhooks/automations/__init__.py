"""Automations: rules that react to wiki, forum, schedule and health events."""

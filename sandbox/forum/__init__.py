"""A local Discourse-compatible forum: state, HTTP API, webhooks and DiscourseConnect."""

"""Threadline: asynchronous customer service from Slack threads."""

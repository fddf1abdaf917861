"""The AWS triage engines behind the `TriageEngine` port: `comprehend` (Amazon Comprehend's
sentiment, the rules engine for the rest) and `bedrock` (a model of the shop's choice through
Bedrock's Converse API, its answer validated). Each is bounded in time and falls back to the
rules engine on any failure (`guard`), so a message never waits on them past a deadline."""

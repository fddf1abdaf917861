"""Pure domain: models and rules. Imports nothing of AWS, HTTP or provider SDKs."""

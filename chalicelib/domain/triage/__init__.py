"""Triage of customer messages: what each says of the customer's mood, urgency and intent
(`record`), the shop's configuration of it (`policy`), the offline `rules` engine
(`rules`, over `lexicons`), and what a triage changes on its conversation (`effects`)."""

"""What people see, made from the domain: Slack's Block Kit (the card, notes, posts, modals,
slash-command answers, the digest), transcripts and the digest's chart. Pure like the
domain: no AWS, HTTP or provider SDKs; the domain never imports it."""

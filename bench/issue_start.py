"""The worker's AWS calls per event kind when issue 20 was filed (`bench/results.json` then,
measured 2026-12-02), and the issue's targets: `make bench` prints each beside the figure
it measures now."""

CALLS_AT_ISSUE_START: dict[str, float] = {
    "customer_message_worker_new_conversation": 9,
    "customer_message_worker_follow_up": 6,
    "agent_reply_worker": 10,
    "agent_reply_worker_grace_pass": 4,
    "status_callback_worker": 5,
}
CALL_TARGETS: dict[str, str] = {
    "customer_message_worker_new_conversation": "<= 6",
    "customer_message_worker_follow_up": "<= 3",
    "agent_reply_worker": "<= 5",
    "agent_reply_worker_grace_pass": "<= 1",
    "status_callback_worker": "<= 2",
}


def with_issue_start(name: str, value: float) -> str:
    """`value`, after the figure at the issue's start where there is one."""
    before = CALLS_AT_ISSUE_START.get(name)
    return f"{value:g}" if before is None else f"{before:g} -> {value:g}"

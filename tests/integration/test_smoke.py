from tests.integration.conftest import PUBLIC_URL
from tests.signing import form, slack_headers, slack_thread_reply, twilio_headers, twilio_message


def test_a_customer_message_becomes_a_thread_and_the_agent_reply_goes_back(
    client, shop, slack, twilio, run_workers
):
    # Given a customer's signed SMS
    params = twilio_message(1, Body="Olá <!channel>! 📦")
    path = f"/webhooks/twilio/{shop}"
    # When it is delivered and the workers run
    response = client.http.post(
        path, headers=twilio_headers(PUBLIC_URL + path, params), body=form(params)
    )
    run_workers()
    # Then it is acknowledged with empty TwiML and mirrored into a new thread
    assert response.status_code == 200, response.body
    assert response.headers["Content-Type"] == "text/xml"
    [root] = slack.roots()
    [mirrored] = slack.thread(root.ts)
    assert mirrored.message.text == "Olá &lt;!channel&gt;! 📦"
    # When an agent answers in the thread
    body = slack_thread_reply(root.ts, "1764000001.000100", "Chega amanhã!")
    assert (
        client.http.post("/slack/events", headers=slack_headers(body), body=body).status_code == 200
    )
    run_workers()
    # Then the reply goes out once, from the number the customer wrote to
    [sent] = twilio.sent
    assert (sent.to, sent.from_, sent.text) == (
        "+5511987654321",
        "+14155550100",
        "Chega amanhã!\n— Bia",
    )

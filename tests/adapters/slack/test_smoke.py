from tests.adapters.slack.conftest import GENERAL, eventually


async def test_mention_is_answered_in_a_thread(slack, qwen, start_bot):
    from tests.fakes.qwen import Script
    qwen.queue(Script("Hello **there**"))
    await start_bot()
    events = slack.mention("hi")
    results = await slack.deliver_all(events)
    assert all(r.status == 200 for r in results)
    ts = events[1]["ts"]
    await eventually(lambda: slack.texts(GENERAL, ts) == ["Hello **there**"])
    print(slack.calls)

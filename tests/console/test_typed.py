"""What a refused form or batch keeps in the session for the page it goes back to."""


def test_a_refused_batch_keeps_only_a_bar_sized_part_of_what_was_posted(rf):
    from django.contrib.sessions.backends.signed_cookies import SessionStore

    from console import typed

    post = {"calls": ["1", "x", "2"], "csrfmiddlewaretoken": "t", "reason": "r" * 5000, "channels": ["a"] * 50}
    post |= {f"box{n}": str(n) for n in range(100)}
    request = rf.post("/risk-warning/", post)
    request.session = SessionStore()

    typed.keep_batch(request, "/intraday/?tab=active")
    assert typed.take_batch(request) is None  # for the list it goes back to, not another
    request.path = "/intraday/"
    kept = typed.take_batch(request)

    assert kept["calls"] == [1, 2]
    assert kept["fields"]["reason"] == ["r" * 2000]
    assert kept["fields"]["channels"] == ["a"] * 5
    assert "csrfmiddlewaretoken" not in kept["fields"]
    assert len(kept["fields"]) == 10
    assert typed.take_batch(request) is None  # once

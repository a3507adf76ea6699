from bot.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_messages_within_the_limit_are_allowed():
    limiter = RateLimiter(6, Clock())
    assert all(limiter.check("u").allowed for _ in range(6))


def test_the_first_refusal_says_so_and_later_ones_stay_quiet():
    limiter = RateLimiter(2, Clock())
    limiter.check("u")
    limiter.check("u")
    first, second = limiter.check("u"), limiter.check("u")
    assert (first.allowed, first.notify) == (False, True)
    assert (second.allowed, second.notify) == (False, False)


def test_the_window_slides():
    clock = Clock()
    limiter = RateLimiter(1, clock)
    assert limiter.check("u").allowed
    clock.now += 30
    assert not limiter.check("u").allowed
    clock.now += 31
    assert limiter.check("u").allowed


def test_users_are_limited_separately():
    limiter = RateLimiter(1, Clock())
    assert limiter.check("a").allowed
    assert limiter.check("b").allowed


def test_zero_means_unlimited():
    limiter = RateLimiter(0, Clock())
    assert all(limiter.check("u").allowed for _ in range(100))


def test_users_not_seen_for_a_minute_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(5, clock)
    for n in range(999):
        limiter.check(f"user{n}")
    clock.now += 61
    limiter.check("someone")
    assert len(limiter) == 1

from bot.access import AccessList


def test_empty_lists_admit_everyone():
    assert AccessList().permits("anyone")


def test_a_blocked_id_is_refused():
    assert not AccessList.of(block=["bad"]).permits("bad")


def test_an_allow_list_admits_only_its_ids():
    rules = AccessList.of(allow=["a"])
    assert rules.permits("a")
    assert not rules.permits("b")


def test_block_wins_over_allow_for_several_ids():
    rules = AccessList.of(allow=["role-ok"], block=["role-bad"])
    assert rules.permits("role-ok", "role-other")
    assert not rules.permits("role-ok", "role-bad")

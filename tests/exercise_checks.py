"""Shared by the build-it-yourself tests: a check must reject ``fn`` and say each phrase."""


def rejects(check, fn, *phrases):
    res = check(fn)
    assert not res.passed, res
    for p in phrases:
        assert p in res.diagnosis, (p, res.diagnosis)
    return res

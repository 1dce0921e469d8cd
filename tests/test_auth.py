"""The request signature, pinned by vectors computed independently of this code
(mktows-reference.md §2.2), and the timestamp format."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from runner.soap.auth import sign, verify, w3c_timestamp

DOCS_USER, DOCS_KEY = "demo17_1_809934544BFABAE58E5D27", "27272727aa"


@pytest.mark.parametrize(("timestamp", "user", "key", "signature"), [
    ("2013-08-01T18:22:30-07:00", DOCS_USER, DOCS_KEY, "b5e21953ae9f1b263e644da5eccce9ff33802513"),
    ("2013-08-05T11:08:02-07:00", DOCS_USER, DOCS_KEY, "d4bebb327d734bc517851f4b93d488cf4498be81"),
    ("2013-08-05T14:56:58-07:00", DOCS_USER, DOCS_KEY, "17bf0b9e412e58eec836dc557ca9433f666944b6"),
    ("2013-08-05T16:34:19-07:00", DOCS_USER, DOCS_KEY, "9890d974aa58ccb96d7a0a3166573f6436c883dd"),
    ("2010-04-09T14:04:54-07:00", "bigcorp1_461839624B16E06BA2D663",
     "899756834129871744AAEE88DDCC77CDEEDEC1AAAD66", "ffbff4d4bef354807481e66dc7540f7890523a87"),
])
def test_signature_matches_the_verified_vectors(timestamp, user, key, signature):
    assert sign(timestamp, user, key) == signature
    assert verify(timestamp, user, key, signature)


def test_a_signature_for_another_timestamp_does_not_verify():
    good = sign("2013-08-01T18:22:30-07:00", DOCS_USER, DOCS_KEY)
    assert not verify("2013-08-01T18:22:31-07:00", DOCS_USER, DOCS_KEY, good)


def test_timestamp_has_whole_seconds_and_a_colon_offset():
    now = datetime(2026, 5, 4, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=-7)))
    assert w3c_timestamp(now) == "2026-05-04T09:30:00-07:00"
    assert w3c_timestamp(now.astimezone(UTC)) == "2026-05-04T16:30:00+00:00"


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        w3c_timestamp(datetime(2026, 5, 4, 9, 30))

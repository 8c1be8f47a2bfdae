"""The shared test fixtures do what the promise tests rely on them for."""

import logging

import pytest
from django.contrib.auth.hashers import get_hasher
from django.core.cache import cache

from accounts.login_throttle import MAX_FAILURES, login_failure_record, login_locked
from tests.traces import all_cache_text, assert_left_no_trace


def test_all_logs_hears_the_loggers_settings_quieten(all_logs):
    logging.getLogger("msal.application").debug("msal says %s", "tok-123")
    logging.getLogger("urllib3.connectionpool").debug("GET /users/%s", "jane@msp.example")
    assert "tok-123" in all_logs.text and "jane@msp.example" in all_logs.text


def test_assert_left_no_trace_finds_a_value_in_the_cache_and_the_logs(all_logs, db):
    cache.set("k", {"subject": "Zoë's café canary"})  # pickled: the raw bytes escape "ë" and "é"
    with pytest.raises(AssertionError, match="reached the cache"):
        assert_left_no_trace(["zoë's café"], logs=all_logs, ignore_case=True)
    logging.getLogger("integrations").info("canary-in-logs")
    with pytest.raises(AssertionError, match="reached the logs"):
        assert_left_no_trace(["canary-in-logs"], logs=all_logs)


def test_login_failures_of_one_test_are_gone_in_the_next_part_1():
    for _ in range(MAX_FAILURES):
        login_failure_record(username="carried-over")
    assert login_locked(username="carried-over")


def test_login_failures_of_one_test_are_gone_in_the_next_part_2():
    assert not login_locked(username="carried-over")
    assert "login-fail" not in all_cache_text()


def test_passwords_hash_fast_in_tests():
    assert get_hasher().algorithm == "md5"

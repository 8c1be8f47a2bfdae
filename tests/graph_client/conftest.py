"""The fixtures every GraphClient test uses: a tenant id and a responses mock."""

import uuid

import pytest
import responses


@pytest.fixture
def tenant():
    return str(uuid.uuid4())


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock

"""The served simulator fixtures (one shared read-only server per module; fresh ones for tests that change the tenant)."""



import pytest

from .kit import start


@pytest.fixture(scope="module")
def shared():
    """One server for tests that only read; faults and log reset per test."""
    live = start()
    yield live
    live.running.stop()


@pytest.fixture
def live(shared):
    shared.sim.faults.clear()
    shared.sim.clear_requests()
    yield shared
    shared.sim.faults.clear()


@pytest.fixture
def fresh():
    """A server of its own, for tests that change the tenant."""
    live = start()
    yield live
    live.running.stop()

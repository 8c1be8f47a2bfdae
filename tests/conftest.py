import pytest

from vectis.models import Role, User

PASSWORD = "correct-horse-battery-staple"


def make_user(username, role, work_email=None, **extra):
    return User.objects.create_user(
        username=username, password=PASSWORD, work_email=work_email or f"{username}@msp.example", role=role, **extra
    )


@pytest.fixture
def admin_user(db):
    return make_user("ada", Role.ADMIN)


@pytest.fixture
def member_user(db):
    return make_user("mo", Role.MEMBER)


@pytest.fixture
def viewer_user(db):
    return make_user("vi", Role.VIEWER)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client


@pytest.fixture
def viewer_client(client, viewer_user):
    client.force_login(viewer_user)
    return client

"""One Microsoft 365 connection per install, held by the database itself."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from integrations.setup.models import M365Connection


def _row(tenant_id):
    return M365Connection(tenant_id=tenant_id, client_id="c", client_secret_encrypted="x", secret_set_at=timezone.now())


@pytest.mark.django_db
def test_a_second_connection_row_is_refused():
    _row("t1").save()
    with pytest.raises(IntegrityError), transaction.atomic():
        _row("t2").save()
    assert list(M365Connection.objects.values_list("tenant_id", flat=True)) == ["t1"]

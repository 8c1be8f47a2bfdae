"""Pure functions that turn Graph JSON into plain records.

Graph JSON is treated as hostile: any field may be missing, null, of the
wrong type or a placeholder (Microsoft's own samples hold "datetime-value" and
"isRead": "true"). Nothing here raises on bad input; a bad field becomes None
and an item without an id is dropped by the page helpers. Records carry only
what Vectis keeps: never message or event bodies (except message_body(),
which the on-demand body view calls), never phone numbers, device names or
secrets of authentication methods.

Split by subject: values (field readers, datetimes, addresses), mail
(messages and events), directory (users, MFA, roles) and wire ($batch,
errors, headers, tokens). Everything public is importable from here.
"""

from .directory import (  # noqa: F401
    MFA_METHOD_TYPES,
    DirectoryRole,
    Organization,
    RegistrationRecord,
    RoleMember,
    UserRecord,
    auth_method_type,
    auth_method_types,
    directory_roles_page,
    has_mfa_method,
    parse_directory_role,
    parse_organization,
    parse_registration,
    parse_role_member,
    parse_user,
    registration_page,
    role_members_page,
    users_page,
)
from .mail import (  # noqa: F401
    Attendee,
    DeltaPage,
    EventRecord,
    MessageBody,
    MessageRecord,
    RemovedRecord,
    event_page,
    message_page,
    parse_event,
    parse_message,
    parse_message_body,
    parse_removed,
)
from .values import (  # noqa: F401
    Address,
    parse_address,
    parse_datetime,
    parse_graph_datetime,
)
from .wire import (  # noqa: F401
    BatchItem,
    ErrorBody,
    parse_batch,
    parse_error,
    parse_retry_after,
    token_roles,
)

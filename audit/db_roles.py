"""The app's PostgreSQL role: ordinary DML on every table, but on the audit
table only INSERT and SELECT. It owns nothing, so it cannot TRUNCATE, ALTER
the table, disable its triggers, or (not being a superuser) set
session_replication_role to skip them. Migrations run as the owner role,
which then grants this role its rights (`manage.py grant_app_role`)."""

from django.db import connection

AUDIT_TABLE = "audit_auditevent"


class AppRoleError(Exception):
    pass


def app_role_grant(role, *, password=None, using=connection):
    """Create `role` if missing (LOGIN, no special powers) and give it exactly the app's rights."""
    if using.vendor != "postgresql":
        raise AppRoleError("database roles exist only on PostgreSQL")
    qn = using.ops.quote_name
    with using.cursor() as cursor:
        cursor.execute("SELECT rolsuper, pg_has_role(%s, current_user, 'MEMBER') FROM pg_roles WHERE rolname = %s",
                       [role, role])
        found = cursor.fetchone()
        if found is None:
            cursor.execute(f"CREATE ROLE {qn(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS")
        elif found[0] or found[1]:
            raise AppRoleError(f"{role} is a superuser or a member of the owner role: it could rewrite the audit log")
        if password is not None:
            cursor.execute(f"ALTER ROLE {qn(role)} PASSWORD %s", [password])
        cursor.execute(f"GRANT CONNECT ON DATABASE {qn(using.settings_dict['NAME'])} TO {qn(role)}")
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {qn(role)}")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {qn(role)}")
        cursor.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {qn(role)}")
        cursor.execute(f"REVOKE ALL ON {qn(AUDIT_TABLE)} FROM {qn(role)}")
        cursor.execute(f"GRANT SELECT, INSERT ON {qn(AUDIT_TABLE)} TO {qn(role)}")

"""The floor for the initial-sync figure: the same delta pages fetched with
plain requests and parsed with json, the same rows COPYed into the same
tables, with no application logic beyond the least that yields the same rows
(an address's domain, or a parent domain, looked up in a dict; copies that
agree on internetMessageId, sender, sent time and subject merged in memory;
each copy with its own participants). One page = one transaction, as in the app.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime, timedelta

import requests

MESSAGE_FIELDS = (
    "id,internetMessageId,conversationId,subject,bodyPreview,from,sender,toRecipients,"
    "ccRecipients,bccRecipients,receivedDateTime,sentDateTime,isDraft,webLink,parentFolderId"
)
PAGE_SIZE = 1000  # the same pages the app asks for (integrations.mail.mail_sync.PAGE_SIZE)
TABLES = ("customers_messagecustomer", "customers_messageparticipant", "customers_messageholder", "customers_message")


def _token(session, info):
    url = f"{info['login_base_url']}/{info['tenant_id']}/oauth2/v2.0/token"
    response = session.post(url, data={
        "grant_type": "client_credentials", "client_id": info["client_id"], "client_secret": info["client_secret"],
        "scope": "https://graph.microsoft.com/.default",
    }, verify=info["ca_path"], timeout=30)
    response.raise_for_status()
    return response.json()["access_token"]


def floor(params):
    import psycopg

    info = params["sim"]
    now = datetime.fromisoformat(info["anchor"])
    since = (now - timedelta(days=14)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    db = psycopg.connect(os.environ["DATABASE_URL"])
    customers = dict(db.execute("SELECT domain, customer_id FROM customers_customerdomain").fetchall())
    technicians = {u.lower() for u in info["technician_upns"]}
    own = {u.split("@")[1] for u in technicians}
    with db.transaction():
        db.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")

    def customer_of(address):
        host = address.rpartition("@")[2]
        while host:
            found = customers.get(host)
            if found is not None:
                return found
            host = host.partition(".")[2]
        return None

    session = requests.Session()
    headers = {"Authorization": f"Bearer {_token(session, info)}",
               "Prefer": f'odata.maxpagesize={PAGE_SIZE}, IdType="ImmutableId"'}
    messages = {}  # identity -> (id, customers set)
    next_id = next_holder_id = 1
    fetch_s = insert_s = 0.0
    kept = seen = requests_made = 0
    started = time.perf_counter()
    stamp = datetime.now(UTC)
    for upn in info["technician_upns"]:
        for folder in ("inbox", "sentitems"):
            url = f"{info['graph_base_url']}/users/{upn}/mailFolders/{folder}/messages/delta"
            query = {"$select": MESSAGE_FIELDS, "$filter": f"receivedDateTime ge {since}"}
            while url:
                t0 = time.perf_counter()
                response = session.get(url, params=query, headers=headers, verify=info["ca_path"], timeout=60)
                response.raise_for_status()
                page = response.json()
                requests_made += 1
                query = None  # links are followed verbatim
                url = page.get("@odata.nextLink")
                new_messages, holders, people, links = [], [], [], []
                for item in page["value"]:
                    if "@removed" in item:
                        continue
                    seen += 1
                    sender = (item.get("from") or item.get("sender") or {}).get("emailAddress") or {}
                    roles = [("from", sender)]
                    for role, key in (("to", "toRecipients"), ("cc", "ccRecipients"), ("bcc", "bccRecipients")):
                        roles += [(role, r.get("emailAddress") or {}) for r in item.get(key) or []]
                    addressed = [(role, (p.get("address") or "").lower(), p.get("name") or "") for role, p in roles]
                    touched = {c for c in (customer_of(a) for _, a, _ in addressed if a) if c is not None}
                    if not touched:
                        continue
                    kept += 1
                    imid = item.get("internetMessageId") or f"{upn}:{item['id']}"
                    address = (sender.get("address") or "").lower()
                    sent = datetime.fromisoformat(item["sentDateTime"]).isoformat() if item.get("sentDateTime") else ""
                    identity = hashlib.sha256(json.dumps([imid, address, sent, item.get("subject") or ""],
                                                         ensure_ascii=False).encode()).hexdigest()
                    known = messages.get(identity)
                    if known is None:
                        known = messages[identity] = (next_id, set())
                        next_id += 1
                        new_messages.append((known[0], identity, imid, item.get("conversationId") or "",
                                             item.get("subject") or "", sender.get("name") or "", address,
                                             item.get("sentDateTime"), item["receivedDateTime"], stamp))
                    message_id, known_customers = known
                    direction = "sent" if (folder == "sentitems" or address in technicians
                                           or address.rpartition("@")[2] in own) else "received"
                    holders.append((next_holder_id, message_id, upn, item["id"], folder, direction,
                                    (item.get("bodyPreview") or "")[:300], item.get("webLink") or ""))
                    unique = {(role, person): name for role, person, name in addressed if person}
                    people += [(next_holder_id, message_id, role, person, name) for (role, person), name in unique.items()]
                    next_holder_id += 1
                    for customer_id in touched - known_customers:
                        known_customers.add(customer_id)
                        links.append((message_id, customer_id, item["receivedDateTime"]))
                t1 = time.perf_counter()
                with db.transaction(), db.cursor() as cur:
                    _copy(cur, "customers_message", "id, identity, internet_message_id, conversation_id, subject, "
                          "from_name, from_address, sent_at, received_at, updated_at", new_messages)
                    _copy(cur, "customers_messageholder", "id, message_id, mailbox, graph_id, folder, direction, preview, "
                          "web_link", holders)
                    _copy(cur, "customers_messageparticipant", "holder_id, message_id, role, address, name", people)
                    _copy(cur, "customers_messagecustomer", "message_id, customer_id, received_at", links)
                t2 = time.perf_counter()
                fetch_s += t1 - t0
                insert_s += t2 - t1
    total = time.perf_counter() - started
    counts = {name: db.execute(f"SELECT count(*) FROM customers_{name}").fetchone()[0]
              for name in ("message", "messageholder", "messageparticipant", "messagecustomer")}
    db.close()
    return {
        "seen": seen, "kept": kept, "seconds": round(total, 2), "fetch_parse_filter_seconds": round(fetch_s, 2),
        "copy_seconds": round(insert_s, 2), "kept_per_second": round(kept / total, 1), "graph_requests": requests_made,
        "rows": {"messages": counts["message"], "holders": counts["messageholder"],
                 "participants": counts["messageparticipant"], "customer_links": counts["messagecustomer"]},
    }


def _copy(cur, table, columns, rows):
    if not rows:
        return
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)

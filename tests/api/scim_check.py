"""Runs the third-party SCIM compliance checker scim2-tester against a live cofre.
Arguments: base URL, file holding a bearer token. Exit 1 on any ERROR or CRITICAL result."""
import sys
from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server, Status
url, token = sys.argv[1], open(sys.argv[2]).read().strip()
client = SyncSCIMClient(Client(base_url=url, headers={"Authorization": f"Bearer {token}"}))
results = check_server(client)
counts = {}
for r in results:
    counts[r.status.name] = counts.get(r.status.name, 0) + 1
    if r.status.name not in ("SUCCESS",):
        print(r.status.name, "|", r.title, "|", (r.reason or "")[:300])
print("SUMMARY", counts)
bad = [r for r in results if r.status.name in ("ERROR", "CRITICAL")]
sys.exit(1 if bad else 0)

"""Signs requests with real client libraries, for the API suite: oauthlib (OAuth 1.0a) and
botocore (AWS SigV4). Reads one JSON job on stdin, prints the signed request as JSON."""
import json
import sys


def oauth1(job):
    from oauthlib import oauth1 as o

    carriers = {"header": o.SIGNATURE_TYPE_AUTH_HEADER, "query": o.SIGNATURE_TYPE_QUERY, "body": o.SIGNATURE_TYPE_BODY}
    client = o.Client(
        job["consumer_key"],
        client_secret=job["consumer_secret"],
        resource_owner_key=job["token"],
        resource_owner_secret=job["token_secret"],
        signature_method=job.get("signature_method", o.SIGNATURE_HMAC_SHA1),
        signature_type=carriers[job.get("carrier", "header")],
        nonce=job.get("nonce"),
        timestamp=job.get("timestamp"),
    )
    headers = {}
    body = job.get("body")
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    url, headers, body = client.sign(job["url"], http_method=job["method"], body=body, headers=headers)
    return {"url": url, "headers": dict(headers), "body": body}


def sigv4(job):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=job["method"], url=job["url"], data=job.get("body") or b"", headers=job.get("headers", {}))
    SigV4Auth(Credentials(job["access_key_id"], job["secret_access_key"]), "cofre", job.get("region", "us-east-1")).add_auth(request)
    body = request.body
    if isinstance(body, bytes):
        body = body.decode()
    return {"url": request.url, "headers": dict(request.headers.items()), "body": body or None}


if __name__ == "__main__":
    job = json.load(sys.stdin)
    print(json.dumps({"oauth1": oauth1, "sigv4": sigv4}[job["kind"]](job)))

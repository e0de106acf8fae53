"""Benchmark peer of `go run ./cmd/bench`: closing a PAYJS order the way
PAYJS's documentation shows it, in Python with requests and boto3.

Loads the key from Secrets Manager (boto3 honours
AWS_ENDPOINT_URL_SECRETS_MANAGER, so it reaches moto), closes one order,
then BENCH_CLOSES more with requests.post, which opens a new connection
for each, as the documentation's examples do.

Environment: PAYJS_SECRET_ID, PAYJS_BASE_URL, BENCH_ORDER_PREFIX (order i
is the prefix followed by i, zero-padded to 28 characters), BENCH_CLOSES.
Prints one JSON line: {"first_ms": ..., "per_close_ms": ...}.
"""

import hashlib
import json
import os
import sys
import time

START = time.perf_counter()

import boto3  # noqa: E402  (imports are part of the cold path)
import requests  # noqa: E402


def sign(params, key):
    """PAYJS signature: sorted non-empty fields, &key=KEY, MD5, upper case."""
    text = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if v not in ("", "0", None))
    return hashlib.md5(f"{text}&key={key}".encode("utf-8")).hexdigest().upper()


def close(url, key, order_id):
    data = {"payjs_order_id": order_id}
    data["sign"] = sign(data, key)
    answer = requests.post(url, data=data, timeout=5).json()
    if answer.get("return_code") != 1:
        raise SystemExit(f"order {order_id}: {answer}")


def main():
    client = boto3.client("secretsmanager")
    secret = json.loads(client.get_secret_value(SecretId=os.environ["PAYJS_SECRET_ID"])["SecretString"])
    url = os.environ["PAYJS_BASE_URL"].rstrip("/") + "/api/close"
    prefix = os.environ["BENCH_ORDER_PREFIX"]
    n = int(os.environ.get("BENCH_CLOSES", "0"))

    def order(i):
        return prefix + str(i).zfill(28 - len(prefix))

    close(url, secret["key"], order(0))
    first = time.perf_counter() - START
    t = time.perf_counter()
    for i in range(1, n + 1):
        close(url, secret["key"], order(i))
    per = (time.perf_counter() - t) / n if n else 0.0
    print(json.dumps({"first_ms": first * 1000, "per_close_ms": per * 1000}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""What the boto3 scripts of this folder share: a client for the emulator
and a check that prints one line."""
import boto3
from botocore.config import Config


def client(endpoint, attempts):
    """A client for the emulator at endpoint making at most attempts
    attempts a call (botocore's max_attempts would count the retries)."""
    return boto3.client(
        "amplifybackend",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="SECRETEXAMPLE",
        config=Config(retries={"mode": "standard", "total_max_attempts": attempts}),
    )


def check(name, ok, detail=""):
    if not ok:
        raise AssertionError("%s: %s" % (name, detail))
    print("ok", name)

"""Meets the emulator's lost answers and outages with boto3, as a user of
the real service would.

Usage: python3 boto3_faults.py ENDPOINT_URL

Sets the faults itself through POST /_emulator/faults. The emulator must
hold app d1abc23 with environment dev (testdata/state.json) and run jobs
for longer than the script. Each check prints one line; the first failure
raises, so the exit status is 1 and the traceback says which check failed.
"""
import json
import sys
import urllib.request

from botocore.exceptions import ClientError, ConnectionClosedError

from boto3_helpers import check, client

APP = "d1abc23"


def set_faults(endpoint, **faults):
    req = urllib.request.Request(endpoint + "/_emulator/faults", data=json.dumps(faults).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req) as resp:
        return json.load(resp)


def lost_answer(endpoint):
    c = client(endpoint, 1)
    set_faults(endpoint, lostAnswerRate=1, lostAnswerDelay="50ms")
    try:
        c.clone_backend(AppId=APP, BackendEnvironmentName="dev", TargetEnvironmentName="pr-1")
        raise AssertionError("clone_backend answered")
    except c.exceptions.GatewayTimeoutException as e:
        check("the lost answer is a 504 GatewayTimeoutException",
              e.response["ResponseMetadata"]["HTTPStatusCode"] == 504, e.response)
    set_faults(endpoint, lostAnswerRate=0)
    jobs = c.list_backend_jobs(AppId=APP, BackendEnvironmentName="dev")["Jobs"]
    check("exactly one job runs, though the caller got no id",
          len(jobs) == 1 and jobs[0]["Operation"] == "CloneBackend" and jobs[0]["Status"] == "RUNNING", jobs)
    backend = c.get_backend(AppId=APP)
    check("the service acted: the clone is there", "pr-1" in backend["BackendEnvironmentList"], backend)


def outage(endpoint):
    c = client(endpoint, 2)
    faults = set_faults(endpoint, outageFor="60s")
    check("an outage from now", faults["outageAfter"] == "0s" and faults["outageFor"] == "1m0s", faults)
    try:
        c.get_backend(AppId=APP)
        raise AssertionError("get_backend answered during the outage")
    except ClientError as e:
        meta = e.response["ResponseMetadata"]
        check("the outage answers 503 ServiceUnavailableException, which botocore retries",
              e.response["Error"]["Code"] == "ServiceUnavailableException" and meta["HTTPStatusCode"] == 503
              and meta["RetryAttempts"] == 1, e.response)
    set_faults(endpoint, outageDropRate=1)
    try:
        c.get_backend(AppId=APP)
        raise AssertionError("get_backend answered while connections are dropped")
    except ConnectionClosedError as e:
        check("a dropped connection is a ConnectionClosedError", True, e)
    set_faults(endpoint, outageFor="0s", outageDropRate=0)
    backend = c.get_backend(AppId=APP)
    check("the service answers once the outage ends", backend["AppId"] == APP, backend)


def main():
    lost_answer(sys.argv[1])
    outage(sys.argv[1])


if __name__ == "__main__":
    main()

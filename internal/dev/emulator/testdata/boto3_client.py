"""Drives the emulator with boto3, as a user of the real service would.

Usage: python3 boto3_client.py ENDPOINT_URL

The emulator must hold app d1abc23 with environments dev and staging
(testdata/state.json), run CloneBackend jobs for well under a second and
ImportBackendStorage jobs for much longer. Each check prints one line;
the first failure raises, so the exit status is 1 and the traceback says
which check failed.
"""
import sys
import time

from boto3_helpers import check, client

APP = "d1abc23"
PENDING = ("There is already a pending job for the requested appId d1abc23 and "
           "backendEnvironmentName staging. Please wait for it to complete")


def expect_error(name, exc_type, call, want_code, want_in_message):
    try:
        call()
    except exc_type as e:
        err = e.response["Error"]
        meta = e.response["ResponseMetadata"]
        check(name, err["Code"] == want_code and want_in_message in err["Message"] and meta["RequestId"],
              "%s %r (request id %r)" % (err["Code"], err["Message"], meta["RequestId"]))
        return e
    raise AssertionError("%s: no %s raised" % (name, exc_type.__name__))


def job_lifecycle(c):
    started = c.clone_backend(AppId=APP, BackendEnvironmentName="dev", TargetEnvironmentName="pr-1")
    check("clone_backend starts a RUNNING job",
          started["Status"] == "RUNNING" and started["Operation"] == "CloneBackend" and started["JobId"], started)
    job = c.get_backend_job(AppId=APP, BackendEnvironmentName="dev", JobId=started["JobId"])
    check("get_backend_job sees it RUNNING", job["Status"] == "RUNNING" and job["CreateTime"].endswith("Z"), job)
    deadline = time.time() + 10
    while job["Status"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.05)
        job = c.get_backend_job(AppId=APP, BackendEnvironmentName="dev", JobId=started["JobId"])
    check("the job ends COMPLETED", job["Status"] == "COMPLETED" and job["UpdateTime"] >= job["CreateTime"], job)
    backend = c.get_backend(AppId=APP)
    check("get_backend lists the clone", backend["BackendEnvironmentList"] == ["dev", "pr-1", "staging"], backend)


def pending_job(c):
    c.import_backend_storage(AppId=APP, BackendEnvironmentName="staging", BucketName="existing", ServiceName="S3")
    e = expect_error(
        "a second job on a busy environment is refused", c.exceptions.BadRequestException,
        lambda: c.create_backend_storage(
            AppId=APP, BackendEnvironmentName="staging", ResourceName="files",
            ResourceConfig={"ServiceName": "S3", "Permissions": {"Authenticated": ["READ"]}}),
        "BadRequestException", PENDING)
    check("the refusal is HTTP 400", e.response["ResponseMetadata"]["HTTPStatusCode"] == 400)


def paging(c):
    # A fresh app whose jobs are ended by hand, so there is no waiting.
    created = c.create_backend(AppId="boto3app", AppName="paging", BackendEnvironmentName="qa")
    ids = [created["JobId"]]
    c.update_backend_job(AppId="boto3app", BackendEnvironmentName="qa", JobId=created["JobId"], Status="COMPLETED")
    for i in range(4):
        job = c.clone_backend(AppId="boto3app", BackendEnvironmentName="qa", TargetEnvironmentName="qa-%d" % i)
        done = c.update_backend_job(AppId="boto3app", BackendEnvironmentName="qa", JobId=job["JobId"], Status="COMPLETED")
        check("update_backend_job ends job %d" % i, done["Status"] == "COMPLETED", done)
        ids.insert(0, job["JobId"])
    pages = list(c.get_paginator("list_backend_jobs").paginate(
        AppId="boto3app", BackendEnvironmentName="qa", PaginationConfig={"PageSize": 2}))
    sizes = [len(p["Jobs"]) for p in pages]
    check("list_backend_jobs pages by 2", sizes == [2, 2, 1], sizes)
    listed = [j["JobId"] for p in pages for j in p["Jobs"]]
    check("jobs come newest first", listed == ids, "%s vs %s" % (listed, ids))
    check("the first page's token is opaque", not pages[0]["NextToken"].isdigit(), pages[0]["NextToken"])
    only = c.list_backend_jobs(AppId="boto3app", BackendEnvironmentName="qa", Operation="CreateBackend")
    check("the operation filter works", [j["JobId"] for j in only["Jobs"]] == [created["JobId"]], only)


def errors(c):
    expect_error("unknown app", c.exceptions.NotFoundException,
                 lambda: c.get_backend(AppId="missing"), "NotFoundException", "missing")
    e = expect_error("unknown job", c.exceptions.NotFoundException,
                     lambda: c.get_backend_job(AppId=APP, BackendEnvironmentName="dev", JobId="nope"),
                     "NotFoundException", "nope")
    check("NotFoundException carries resourceType", e.response.get("ResourceType") == "BackendJob", e.response)
    expect_error("maxResults above 25", c.exceptions.BadRequestException,
                 lambda: c.list_backend_jobs(AppId=APP, BackendEnvironmentName="dev", MaxResults=26),
                 "BadRequestException", "MaxResults")
    expect_error("a made-up nextToken", c.exceptions.BadRequestException,
                 lambda: c.list_backend_jobs(AppId=APP, BackendEnvironmentName="dev", NextToken="abc"),
                 "BadRequestException", "nextToken")
    expect_error("an enum value outside the model", c.exceptions.BadRequestException,
                 lambda: c.import_backend_storage(AppId=APP, BackendEnvironmentName="dev", ServiceName="GCS"),
                 "BadRequestException", "serviceName")


def main():
    c = client(sys.argv[1], 2)
    job_lifecycle(c)
    pending_job(c)
    paging(c)
    errors(c)


if __name__ == "__main__":
    main()

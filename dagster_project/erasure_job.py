"""The GDPR erasure as a Dagster job: one op per store, all business logic in
proctorlake.governance.erasure.

The run is configured with a ``request_id`` only, never a student id: Dagster keeps run
configs and event logs in its own storage, which erasure does not rewrite. Plan first with
``proctorlake.governance.erasure.plan_erasure`` (the CLI and API do), then launch this job with
the plan's
request id. Every op resumes its steps, so re-executing a failed run completes the erasure.
"""

from dagster import Config, In, Nothing, OpExecutionContext, Out, job, op

from dagster_project.resources import ProctorLakeResource
from proctorlake.governance.erasure import execute_plan


class ErasureRequest(Config):
    request_id: str


def _run(
    context: OpExecutionContext, proctorlake: ProctorLakeResource, request_id: str, prefix: str
) -> None:
    def report(step: str, result: dict) -> None:
        context.log.info(f"erasure {request_id}: {step} done {result}")

    execute_plan(proctorlake.settings(), request_id, on_step_done=report, only_prefix=prefix)


@op(out=Out(Nothing))
def keep_anonymous_counts(
    context: OpExecutionContext, config: ErasureRequest, proctorlake: ProctorLakeResource
) -> None:
    _run(context, proctorlake, config.request_id, "anonymize")


@op(ins={"after": In(Nothing)}, out=Out(Nothing))
def shred_broker_keys(
    context: OpExecutionContext, config: ErasureRequest, proctorlake: ProctorLakeResource
) -> None:
    _run(context, proctorlake, config.request_id, "broker_keys")


@op(ins={"after": In(Nothing)}, out=Out(Nothing))
def erase_delta_tables(
    context: OpExecutionContext, config: ErasureRequest, proctorlake: ProctorLakeResource
) -> None:
    _run(context, proctorlake, config.request_id, "delta:")


@op(ins={"after": In(Nothing)}, out=Out(Nothing))
def erase_objects(
    context: OpExecutionContext, config: ErasureRequest, proctorlake: ProctorLakeResource
) -> None:
    _run(context, proctorlake, config.request_id, "objects")


@op(ins={"after": In(Nothing)}, out=Out(Nothing))
def erase_caches(
    context: OpExecutionContext, config: ErasureRequest, proctorlake: ProctorLakeResource
) -> None:
    _run(context, proctorlake, config.request_id, "caches")


@op(ins={"after": In(Nothing)})
def sign_certificate(
    context: OpExecutionContext, config: ErasureRequest, proctorlake: ProctorLakeResource
) -> str:
    settings = proctorlake.settings()
    certificate = execute_plan(settings, config.request_id, only_prefix="certificate")
    if certificate is None:
        raise RuntimeError(f"erasure {config.request_id} has unfinished steps")
    context.log.info(f"erasure {config.request_id}: certificate signed")
    return certificate.request_id


@job(description="GDPR erasure of one planned request (config: request_id) from every store.")
def erasure_job() -> None:
    counts = keep_anonymous_counts()
    keys = shred_broker_keys(after=counts)
    tables = erase_delta_tables(after=keys)
    objects = erase_objects(after=tables)
    caches = erase_caches(after=objects)
    sign_certificate(after=caches)

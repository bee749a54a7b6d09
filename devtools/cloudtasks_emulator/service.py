"""The google.cloud.tasks.v2.CloudTasks gRPC service, as generic handlers over the Emulator.

Generic handlers with proto-plus (de)serializers avoid generated servicer stubs, which the
google-cloud-tasks package does not ship."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.cloud import tasks_v2
from google.protobuf import empty_pb2

from devtools.cloudtasks_emulator.core import Emulator
from devtools.cloudtasks_emulator.names import ApiError

SERVICE = "google.cloud.tasks.v2.CloudTasks"


def _handler(call: Callable[[Any], Any], request_type: Any, response_type: Any) -> grpc.RpcMethodHandler:
    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return call(request)
        except ApiError as exc:
            context.abort(exc.code, exc.message)

    return grpc.unary_unary_rpc_method_handler(
        handle, request_deserializer=request_type.deserialize, response_serializer=response_type.serialize
    )


class _Empty:
    """Adapts protobuf's Empty to the (de)serializer shape proto-plus classes have."""

    @staticmethod
    def serialize(_: Any) -> bytes:
        return empty_pb2.Empty().SerializeToString()


def handlers(emu: Emulator) -> grpc.GenericRpcHandler:
    t = tasks_v2

    def list_queues(r: Any) -> Any:
        found, token = emu.list_queues(r.parent, r.filter, r.page_size, r.page_token)
        return t.ListQueuesResponse(queues=found, next_page_token=token)

    def list_tasks(r: Any) -> Any:
        found, token = emu.list_tasks(r.parent, r.response_view, r.page_size, r.page_token)
        return t.ListTasksResponse(tasks=found, next_page_token=token)

    def update_queue(r: Any) -> Any:
        paths = list(r.update_mask.paths) if "update_mask" in r else []
        return emu.update_queue(r.queue, paths)

    methods = {
        "CreateQueue": _handler(lambda r: emu.create_queue(r.parent, r.queue), t.CreateQueueRequest, t.Queue),
        "GetQueue": _handler(lambda r: emu.get_queue(r.name), t.GetQueueRequest, t.Queue),
        "ListQueues": _handler(list_queues, t.ListQueuesRequest, t.ListQueuesResponse),
        "UpdateQueue": _handler(update_queue, t.UpdateQueueRequest, t.Queue),
        "DeleteQueue": _handler(lambda r: emu.delete_queue(r.name), t.DeleteQueueRequest, _Empty),
        "PurgeQueue": _handler(lambda r: emu.purge_queue(r.name), t.PurgeQueueRequest, t.Queue),
        "PauseQueue": _handler(lambda r: emu.set_paused(r.name, True), t.PauseQueueRequest, t.Queue),
        "ResumeQueue": _handler(lambda r: emu.set_paused(r.name, False), t.ResumeQueueRequest, t.Queue),
        "CreateTask": _handler(
            lambda r: emu.create_task(r.parent, r.task, r.response_view), t.CreateTaskRequest, t.Task
        ),
        "GetTask": _handler(lambda r: emu.get_task(r.name, r.response_view), t.GetTaskRequest, t.Task),
        "ListTasks": _handler(list_tasks, t.ListTasksRequest, t.ListTasksResponse),
        "DeleteTask": _handler(lambda r: emu.delete_task(r.name), t.DeleteTaskRequest, _Empty),
        "RunTask": _handler(lambda r: emu.run_task(r.name, r.response_view), t.RunTaskRequest, t.Task),
    }
    return grpc.method_handlers_generic_handler(SERVICE, methods)


def serve(emu: Emulator, host: str, port: int, workers: int = 16) -> tuple[grpc.Server, int]:
    """Start the gRPC server; returns it and the bound port (port 0 picks a free one)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"))
    server.add_generic_rpc_handlers((handlers(emu),))
    bound = server.add_insecure_port(f"{host}:{port}")
    if not bound:
        raise OSError(f"could not bind {host}:{port}")
    server.start()
    return server, bound

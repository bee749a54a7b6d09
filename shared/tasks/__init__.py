"""The product's thin Cloud Tasks client: queue specs, deterministic task ids, enqueue.

google.cloud.tasks (and grpc) load on first use, so functions that never enqueue do not
pay for them at cold start.

    client = tasks_client(settings.cloud_tasks_emulator_host)
    created = enqueue(client, project=..., location=..., queue="sync-intercom",
                      task_id=task_id_for(connection_id, run_id, "3"), url=url, payload={...},
                      oidc_service_account=sa, audience=url)
"""

from shared.tasks.client import enqueue, ensure_queue, tasks_client
from shared.tasks.ids import task_id_for
from shared.tasks.spec import QueueSpec

__all__ = ["QueueSpec", "enqueue", "ensure_queue", "task_id_for", "tasks_client"]

"""The vendor-agnostic sync engine: plan a run, fan it out as Cloud Tasks, run chunks.

    plan (planner.py) -> one chain of page tasks per stream -> run_chunk (worker.py):
    fetch one page -> upsert changed records -> commit the checkpoint -> enqueue the next page.

Run state (runs, chains, leases, high-water marks) lives in state.py; the connectors are
found through registry.py; the queue numbers come from queues.py.
"""

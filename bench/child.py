"""One benchmark task in its own process: `python -m bench.child TASK params.json out.json`.

The runner (bench.run) starts it with the environment from common.child_env
and reads its peak RSS with wait4."""

import json
import sys


def main():
    task, params_path, out_path = sys.argv[1:4]
    with open(params_path) as handle:
        params = json.load(handle)

    import django

    django.setup()
    from bench import csv_import, floor, hub, posture, scaleout, sync, tenants

    tasks = {
        "sync_initial": sync.sync_initial,
        "sync_one": sync.sync_one,
        "sync_capped": sync.sync_capped,
        "idle": sync.idle,
        "floor": floor.floor,
        "hub_seed": hub.seed,
        "hub_measure": hub.measure,
        "hub_describe": hub.describe,
        "posture": posture.posture,
        "pack": posture.pack,
        "csv_import": csv_import.measure,
        "tenants_seed": tenants.seed,
        "tenants_round": tenants.round_,
        "tenants_security": tenants.security_page,
        "scale_prepare": scaleout.prepare,
        "scale_reset": scaleout.reset,
        "scale_wait": scaleout.enqueue_and_wait,
    }
    result = tasks[task](params)
    with open(out_path, "w") as handle:
        json.dump(result, handle, default=str)


if __name__ == "__main__":
    main()
